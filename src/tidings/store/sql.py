"""Small statement helpers shared by the store's modules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from tidings.core.clock import from_datetime


def one_of(column: Any, values: list[str], postgres: bool) -> Any:
    """``column IN values``; on PostgreSQL as ``= ANY(array)``: one statement text whatever the
    count, so asyncpg prepares it once instead of once per list length."""
    if postgres:
        return column == sa.any_(sa.bindparam("values", values, type_=ARRAY(sa.String)))
    return column.in_(values)


def within(
    column: sa.ColumnElement[int], start: datetime | None, end: datetime | None
) -> list[sa.ColumnElement[bool]]:
    """``start <= column < end``, for the ``from`` / ``to`` filters of list calls."""
    conditions = []
    if start is not None:
        conditions.append(column >= from_datetime(start))
    if end is not None:
        conditions.append(column < from_datetime(end))
    return conditions
