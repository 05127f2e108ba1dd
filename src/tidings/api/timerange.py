"""The ``from`` / ``to`` filters shared by list calls."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import Query

from tidings.core.clock import from_datetime

From = Annotated[
    datetime | None, Query(alias="from", description="ISO 8601; items at or after this time")
]
To = Annotated[datetime | None, Query(alias="to", description="ISO 8601; items before this time")]


def within(
    column: sa.ColumnElement[int], start: datetime | None, end: datetime | None
) -> list[sa.ColumnElement[bool]]:
    conditions = []
    if start is not None:
        conditions.append(column >= from_datetime(start))
    if end is not None:
        conditions.append(column < from_datetime(end))
    return conditions
