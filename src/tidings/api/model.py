"""The base of every request and response body: camelCase on the wire, unknown fields refused."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic.alias_generators import to_camel

from tidings.core.durations import parse_expires_in
from tidings.core.errors import invalid


class ApiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=False,
        extra="forbid",
        str_strip_whitespace=False,
    )
    # Fields holding arbitrary JSON, stored as JSON text where NUL is escaped and harmless.
    free_form: ClassVar[frozenset[str]] = frozenset({"event_data", "schema_"})

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any, info: ValidationInfo) -> Any:
        # A NUL cannot be stored in a PostgreSQL text column: refuse it up front, on any backend.
        if info.field_name not in cls.free_form and _has_nul(value):
            raise ValueError("must not contain NUL characters")
        return value

    def changes(self, nullable: frozenset[str] | set[str]) -> dict[str, Any]:
        """The fields a PATCH gave, by their Python names; a null for a field outside
        ``nullable`` is a 422 naming the field."""
        given = self.model_dump(exclude_unset=True)
        for field, value in given.items():
            if value is None and field not in nullable:
                raise invalid(to_camel(field), f"{to_camel(field)} cannot be null")
        return given


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


def _without_null(schema: dict[str, Any]) -> None:
    options = schema.pop("anyOf", [])
    schema.update(next((o for o in options if o.get("type") != "null"), {}))
    schema.pop("default", None)


# A PATCH field that may be left out but not set to null (the handler refuses null, naming
# it): the document offers no null. Validation is unchanged, so errors still name the field.
NotNull = Field(json_schema_extra=_without_null)

T = TypeVar("T")

# Lists take ?limit= (1 to MAX_LIMIT, default DEFAULT_LIMIT) and ?cursor=.
MAX_LIMIT = 250
DEFAULT_LIMIT = 50


class Page(BaseModel, Generic[T]):
    """One page of a list: ``{"data": [...], "nextCursor": ... | null}``."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    data: list[T]
    next_cursor: str | None


class ApiOut(BaseModel):
    """A response body: built from snake_case names, written in camelCase."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# When something rolled stops working: "now", "1h", "2h", "24h" or seconds, at most 7 days.
ExpiresIn = Annotated[
    float,
    BeforeValidator(parse_expires_in),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "string", "examples": ["now", "1h", "2h", "24h"]},
                {"type": "number"},
            ],
            "description": "'now', '1h', '2h', '24h' or seconds; at most 7 days",
        }
    ),
]
