"""Server-side validation of the browser app's controls.

The browser limits its sliders, but a request can carry any value, and `solara run` can be
told to listen beyond the loopback. So the server checks every control again, through
`Config` (ranges, types, finiteness; a bool is not a number) and the memory check, before
it builds a model. One function, no UI: the app calls it with the controls' values and shows
the ConfigError's one line instead of running.
"""

from __future__ import annotations

from typing import Any

from crypto401k.model.config import Config, ConfigError
from crypto401k.model.memory import check_fits


def config_from_controls(
    controls: dict[str, Any],
    base: Config | None = None,
    available_bytes: int | None = None,
) -> Config:
    """The configuration the app's controls give, checked as the CLI checks `--set`.

    `controls` maps dotted parameter names (`crypto401k params`) to values, e.g.
    {"savers.allocation": 0.03, "run.steps": 730}; `base` is the scenario they modify
    (default `Config()`); `available_bytes` replaces the machine's free memory (tests).
    Raises ConfigError (one line: the field, its value, what is allowed) if a name is
    unknown, a value is out of range, not finite or of the wrong type, or the run would not
    fit in memory."""
    if not isinstance(controls, dict):
        raise ConfigError(f"controls = {controls!r}: must be a mapping of parameter names")
    for key in controls:
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(f"control {key!r}: must be a parameter name, e.g. savers.allocation")
    cfg = (base or Config()).with_overrides(controls)
    check_fits(cfg, available=available_bytes)
    return cfg
