"""The browser app's controls: what each one sets in the scenario, how its value is shown and
typed, the presets they start from, and the check of a whole set of values through `Config`.

A control's value is kept in the model's own unit (a fraction, days, a count); `Control.show`
and `Control.parse` convert to and from what the page shows and accepts (percent for
fractions). Every set of values is checked by building the `Config` it names, so the page
reports exactly the message `crypto401k run --set` would, and never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crypto401k.experiments.app.inputs import config_from_controls
from crypto401k.model import scenarios
from crypto401k.model.config import Config, ConfigError

ROOT = Path(__file__).resolve().parents[2]
USER_SCENARIOS = ROOT / "scenarios"  # the repository's example scenarios (may be absent)
TOPOLOGIES = ["stochastic_block", "barabasi_albert", "watts_strogatz", "erdos_renyi"]


@dataclass(frozen=True)
class Control:
    """One control. `key` is the dotted `Config` field it sets; `kind` is "float", "int",
    "select", "bool" or "day" (an int where 0 means never: None in the config); `unit` is
    shown after the value ("%" shows a fraction as percent); `needs` hides the control in a
    scenario without that part ("exchanges", "stablecoin", "regulator")."""

    name: str
    key: str
    label: str
    kind: str
    lo: float = 0.0
    hi: float = 1.0
    step: float = 1.0
    unit: str = ""
    options: tuple[str, ...] = ()
    needs: str | None = None

    def show(self, value: Any) -> str:
        """The value as the page prints it, with its unit."""
        if self.kind == "bool":
            return "yes" if value else "no"
        if self.kind == "select":
            return str(value)
        if self.kind == "day" and not value:
            return "never"
        if self.unit == "%":
            return f"{100 * float(value):.4g}%"
        text = f"{int(value):,}" if self.kind in ("int", "day") else f"{float(value):.4g}"
        return f"{text}x" if self.unit == "x" else f"{text} {self.unit}".strip()

    def entry(self, value: Any) -> str:
        """The value as the typed-entry box holds it (percent for a fraction)."""
        if self.unit == "%":
            return f"{100 * float(value):.6g}"
        return str(int(value)) if self.kind in ("int", "day") else f"{float(value):.6g}"

    def parse(self, text: str) -> Any:
        """A typed entry as the control's value; ConfigError naming the control otherwise."""
        raw = text.strip().removesuffix("%").strip()
        try:
            if self.kind in ("int", "day"):
                number = float(raw.replace(",", ""))
                if number != int(number):
                    raise ValueError
                return int(number)
            number = float(raw)
        except ValueError:
            what = "a whole number" if self.kind in ("int", "day") else "a number"
            unit = " (in percent)" if self.unit == "%" else ""
            raise ConfigError(
                f"{self.label} ({self.key}) = {text!r}: must be {what}{unit}"
            ) from None
        return number / 100 if self.unit == "%" else number

    def to_config(self, value: Any) -> Any:
        """The value as the `Config` field takes it."""
        if self.kind == "day":
            return int(value) or None
        if self.kind == "bool":
            return bool(value)
        if self.kind == "select":
            return str(value)
        return int(value) if self.kind == "int" else float(value)

    def from_config(self, value: Any) -> Any:
        """The control's value for a `Config` field's value."""
        if self.kind == "day":
            return int(value or 0)
        return self.to_config(value)


CONTROLS: tuple[Control, ...] = (
    Control("allocation", "savers.allocation", "401(k) crypto allocation", "float",
            0.0, 0.10, 0.005, "%"),
    Control("channel", "savers.channel", "inflow channel", "select",
            options=("payroll", "payroll+reallocation")),
    Control("target_date", "savers.target_date_share", "plans in target-date sleeves", "float",
            0.0, 1.0, 0.01, "%"),
    Control("n_savers", "savers.n_cohorts", "saver cohorts", "int", 100, 3000, 100),
    Control("n_traders", "traders.n_traders", "retail traders", "int", 100, 2000, 100),
    Control("n_funds", "institutions.n_funds", "leveraged funds", "int", 0, 40, 1),
    Control("topology", "network.topology", "network", "select", options=tuple(TOPOLOGIES)),
    Control("leverage", "institutions.leverage_target", "funds' target leverage", "float",
            1.0, 5.0, 0.25, "x"),
    Control("trader_leverage", "traders.leverage_share", "traders on leverage", "float",
            0.0, 0.3, 0.01, "%"),
    Control("regulator", "regulator.enabled", "regulator on", "bool", needs="regulator"),
    Control("threshold", "regulator.threshold", "regulator threshold", "float",
            5.0, 200.0, 1.0, "bp of plan assets", needs="regulator"),  # the default is 124
    Control("lag_days", "regulator.lag_days", "regulator lag", "int", 0, 365, 5, "days",
            needs="regulator"),
    Control("shock_day", "shock.day", "shock on day", "day", 0, 3650, 1, "days"),
    Control("shock_size", "shock.fundamental_drop", "shock: fall of fundamental value",
            "float", 0.0, 0.9, 0.05, "%"),
    Control("custody", "exchanges.plan_custody_segregated", "plan coins in segregated custody",
            "bool", needs="exchanges"),
    Control("exchange_fail_day", "exchanges.fail_day", "largest exchange fails on day", "day",
            0, 3650, 1, "days", needs="exchanges"),
    Control("reserve_risky", "stablecoin.reserve_risky_share",
            "stablecoin reserve in own token", "float", 0.0, 1.0, 0.05, "%", needs="stablecoin"),
    Control("reserve_shock_day", "stablecoin.shock_day", "stablecoin reserve loss on day", "day",
            0, 3650, 1, "days", needs="stablecoin"),
    Control("reserve_loss", "stablecoin.shock_reserve_loss", "stablecoin reserve loss", "float",
            0.0, 0.9, 0.0025, "%", needs="stablecoin"),
    Control("steps", "run.steps", "days to simulate", "int", 1, 3650, 1, "days"),
    Control("seed", "run.seed", "seed", "int", 0, 2**31 - 1, 1),
)  # fmt: skip
BY_NAME = {c.name: c for c in CONTROLS}


def presets() -> dict[str, Path]:
    """Preset name -> scenario file: the built-in scenarios (`model/scenarios/`, by name) and
    the repository's examples (`scenarios/*.toml`, as `scenarios/<file>`)."""
    found = {name: scenarios.path(name) for name in scenarios.names()}
    if USER_SCENARIOS.is_dir():
        for p in sorted(USER_SCENARIOS.glob("*.toml")):
            found[f"scenarios/{p.name}"] = p
    return found


# the app opens on the richest market, named on the page as its preset (the library's and the
# CLI's default is `Config()`, the Bitcoin-only baseline)
DEFAULT_PRESET = "four_assets"


def load_preset(name: str) -> Config:
    """A preset's scenario; ConfigError naming the allowed presets for an unknown one."""
    found = presets()
    if name not in found:
        raise ConfigError(f"preset = {name!r}: must be one of {', '.join(found)}")
    return scenarios.load(found[name])


def has_part(cfg: Config, part: str | None) -> bool:
    """Whether the scenario has the part a control needs (its control is shown only then)."""
    if part == "exchanges":
        return cfg.exchanges.n_exchanges > 0
    if part == "stablecoin":
        return any(a.kind == "stablecoin" for a in cfg.assets)
    if part == "regulator":  # the four agencies take the single regulator's place
        return not cfg.agencies.enabled
    return True


def values_from_config(cfg: Config) -> dict[str, Any]:
    """Every control's value in a scenario (what a preset sets them to)."""
    data = cfg.model_dump()
    values = {}
    for c in CONTROLS:
        section, field = c.key.split(".")
        values[c.name] = c.from_config(data[section][field])
    return values


def config_for(preset: str, values: dict[str, Any]) -> Config:
    """The scenario the controls describe: the preset with every shown control's value. Raises
    ConfigError with the message `crypto401k run --set` would print (field, value, allowed),
    or the memory check's if the run would not fit."""
    base = load_preset(preset)
    overrides = {}
    for c in CONTROLS:
        if c.name in values and has_part(base, c.needs):
            overrides[c.key] = c.to_config(values[c.name])
    if overrides.get("exchanges.fail_day") is not None:
        overrides["exchanges.fail_exchange"] = 0  # the largest venue
    # checked on the server as `--set` is, memory included (experiments/app/inputs.py)
    return config_from_controls(overrides, base)


def changed(values: dict[str, Any], applied: dict[str, Any], cfg: Config) -> list[str]:
    """The shown controls whose value differs from the running model's, as 'label: new (was
    old)' (the pending changes Reset applies)."""
    out = []
    for c in CONTROLS:
        if has_part(cfg, c.needs) and values.get(c.name) != applied.get(c.name):
            out.append(f"{c.label}: {c.show(values[c.name])} (was {c.show(applied[c.name])})")
    return out
