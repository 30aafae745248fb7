"""The one-line messages of a bad parameter: field, value and what is allowed."""

from __future__ import annotations

import math
from typing import Any

from pydantic import (
    ValidationError,
)


class ConfigError(ValueError):
    """A user-supplied parameter is invalid; the message names field, value and what is allowed."""


class _CrossFieldError(ValueError):
    def __init__(self, field: str, value: Any, allowed: str) -> None:
        super().__init__(f"{field} = {value!r}: must be {allowed}")
        self.text = f"{field} = {value!r}: must be {allowed}"


def _field_error(field: str, value: Any, allowed: str) -> _CrossFieldError:
    return _CrossFieldError(field, value, allowed)


def _describe(exc: ValidationError) -> str:
    """One line for the first error: field path, offending value, what is allowed."""
    err = exc.errors()[0]
    ctx = err.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, _CrossFieldError):
        return inner.text
    loc = ".".join(str(p) for p in err["loc"])
    value = err.get("input")
    kind = err["type"]
    if kind == "extra_forbidden":
        section = ".".join(str(p) for p in err["loc"][:-1])
        allowed = _allowed_fields(err["loc"][:-1])
        where = f"in [{section}]" if section else "at the top level"
        return f"{loc} = {value!r}: unknown parameter {where}; allowed: {allowed}"
    msg = err["msg"].removeprefix("Value error, ")
    if kind in ("model_type", "model_attributes_type", "dict_type") and loc:
        fields = _allowed_fields(err["loc"])
        return (
            f"{loc} = {value!r}: {loc!r} is a section, not a parameter; set one of its "
            f"parameters ({loc}.NAME); allowed: {fields}"
        )
    if kind in _BOUNDS and len(ctx) == 1:  # the bound as written: 1e+14, not 100000000000000
        bound = next(iter(ctx.values()))
        shown = f"{bound:g}" if isinstance(bound, float) else str(bound)
        msg = f"must be {_BOUNDS[kind]} {shown}"
    elif kind == "string_pattern_mismatch":
        msg = "must be letters, digits, '_' or '-' (it names columns and files)"
    elif kind == "finite_number":
        msg = "must be a finite number (not inf or nan)"
    elif kind == "literal_error" or msg.startswith("Input should be "):
        msg = "must be " + msg.removeprefix("Input should be ")
    return f"{loc} = {_show(value)}: {msg}"


_BOUNDS = {
    "less_than_equal": "less than or equal to",
    "less_than": "less than",
    "greater_than_equal": "greater than or equal to",
    "greater_than": "greater than",
}


def _show(value: Any) -> str:
    """A value as the user would write it: inf and nan bare, not as the strings 'inf'."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return repr(value)


def _allowed_fields(loc: tuple[Any, ...]) -> str:
    from crypto401k.model.config.scenario import Config  # the root of every section

    model: Any = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return "?"
        ann = field.annotation
        args = getattr(ann, "__args__", None)
        model = args[0] if args and isinstance(args[0], type) else ann
    return ", ".join(sorted(model.model_fields))
