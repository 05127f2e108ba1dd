"""The base of every request and response body: camelCase on the wire, unknown fields refused."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=False,
        extra="forbid",
        str_strip_whitespace=False,
    )


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list: ``{"data": [...], "nextCursor": ... | null}``."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    data: list[T]
    next_cursor: str | None


class ApiOut(BaseModel):
    """A response body: built from snake_case names, written in camelCase."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
