"""The ``from`` / ``to`` filters shared by list calls."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query

From = Annotated[
    datetime | None, Query(alias="from", description="ISO 8601; items at or after this time")
]
To = Annotated[datetime | None, Query(alias="to", description="ISO 8601; items before this time")]
