"""The parameter table generated from the declarations (the ODD and `crypto401k params`)."""

from __future__ import annotations

from typing import Any

from crypto401k.model.config.agencies import (
    AGENCY_SOURCES,
)
from crypto401k.model.config.base import Section
from crypto401k.model.config.scenario import Config


def parameter_table() -> list[dict[str, Any]]:
    """Every parameter with its default, unit, meaning and source: for the docs and `--help`.

    Nested sections (the agencies) are walked; their defaults are those of `Config()`. A
    list of sections (assets, rules) shows its entries' parameters once, with the class
    default."""
    rows: list[dict[str, Any]] = []

    def walk(section: Any, prefix: str) -> None:
        cls = type(section)
        for name, f in cls.model_fields.items():
            value = getattr(section, name)
            if isinstance(value, Section):
                walk(value, f"{prefix}{name}.")
                continue
            if isinstance(value, list) and value and isinstance(value[0], Section):
                walk(type(value[0])(), f"{prefix}{name}.")
                continue
            extra = f.json_schema_extra or {}
            path = f"{prefix}{name}"
            rows.append(
                {
                    "parameter": path,
                    "default": value,
                    "unit": extra.get("unit", ""),
                    "meaning": f.description or "",
                    "source": AGENCY_SOURCES.get(path, extra.get("source", "")),
                }
            )

    walk(Config(), "")
    return rows


def parameter_markdown() -> str:
    """The parameter table as markdown (the ODD document embeds exactly this)."""
    lines = ["| parameter | default | unit | meaning | source |", "|---|---|---|---|---|"]
    for r in parameter_table():
        cells = [f"`{r['parameter']}`", str(r["default"]), r["unit"], r["meaning"], r["source"]]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)
