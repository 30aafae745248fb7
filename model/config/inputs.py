"""User input: `--set key=value` and dotted overrides on a nested dict."""

from __future__ import annotations

import tomllib
from typing import Any

from crypto401k.model.config.errors import (
    ConfigError,
    _show,
)


def parse_set_option(item: str) -> tuple[str, Any]:
    """Parse one `--set key=value`; the value is read as TOML (numbers, booleans, lists,
    quoted strings), falling back to a bare string."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key=value, e.g. savers.allocation=0.03")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set {item!r}: the key is empty")
    raw = raw.strip()
    if raw.lower() in {"none", "null"}:
        return key, None
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(
                    f"{key} = {value!r}: {'.'.join(parts[: depth + 1])!r} is not an index "
                    f"in 0..{len(node) - 1}"
                )
            node = node[int(part)]
        elif isinstance(node, dict) and part in node and isinstance(node[part], dict | list):
            node = node[part]
        else:
            here = ".".join(parts[: depth + 1])
            if isinstance(node, dict) and part in node:
                raise ConfigError(f"{key} = {value!r}: {here!r} is a parameter, not a section")
            allowed = sorted(k for k, v in node.items() if isinstance(v, dict | list))
            raise ConfigError(
                f"{key} = {value!r}: unknown section {here!r}; allowed: {', '.join(allowed)}"
            )
    last = parts[-1]
    if isinstance(node, list):
        raise ConfigError(f"{key} = {value!r}: name a field of an element, e.g. assets.0.name")
    here = node.get(last) if isinstance(node, dict) else None
    # a mapping of weights by name (savers.menu) may also be given as a list in asset order;
    # pydantic then says whether the list fits the field
    weights = (
        isinstance(value, list)
        and isinstance(here, dict)
        and all(isinstance(v, int | float) for v in here.values())
    )
    if isinstance(here, dict) and not isinstance(value, dict) and not weights:
        raise ConfigError(
            f"{key} = {_show(value)}: {key!r} is a section, not a parameter; set one of its "
            f"parameters ({key}.NAME); allowed: {', '.join(sorted(node[last]))}"
        )
    if last not in node:
        raise ConfigError(
            f"{key} = {value!r}: unknown parameter; allowed in "
            f"{'.'.join(parts[:-1]) or 'the top level'}: {', '.join(sorted(node))}"
        )
    node[last] = value


def _drop_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_none(v) for v in obj]
    return obj
