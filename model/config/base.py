"""The parameter declaration (`P`: default, unit, meaning, source) and the base of every section."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)


def P(default: Any, unit: str, doc: str, source: str, **constraints: Any) -> Any:  # noqa: N802
    """A documented parameter: default, unit, meaning, and source or stated reason."""
    return Field(
        default, description=doc, json_schema_extra={"unit": unit, "source": source}, **constraints
    )


class Section(BaseModel):
    # allow_inf_nan=False: inf and NaN are never a parameter's value (they ran silently into
    # NaN prices and Infinity in summary.json)
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """A boolean is not a number and a number is not a boolean (pydantic would read `true`
        as 1 and 1 as true)."""
        field = cls.model_fields.get(info.field_name or "")
        types = _number_types(field.annotation) if field is not None else set()
        if not types:
            return value
        items = value if isinstance(value, list) else [value]
        if bool not in types and any(isinstance(v, bool) for v in items):
            raise ValueError("must be a number, not a boolean")
        if types == {bool} and any(
            isinstance(v, int | float) and not isinstance(v, bool) for v in items
        ):
            raise ValueError("must be true or false, not a number")
        return value


def _number_types(annotation: Any) -> set[Any]:
    """The types among int, float and bool that an annotation admits, also inside list[...],
    dict[..., ...] and X | None."""
    found: set[Any] = set()
    stack = [annotation]
    while stack:
        a = stack.pop()
        if a in (int, float, bool):
            found.add(a)
        stack.extend(get_args(a))
    return found
