"""Which database errors mean "try again" (a 503 with Retry-After, the worker backing off)
rather than a bug (a 500): the error chain SQLAlchemy raises over asyncpg's, as it raises it."""

from __future__ import annotations

import asyncpg
import pytest
import sqlalchemy as sa

from tidings.store.db import is_unavailable


def _raised_over(driver_error: Exception) -> BaseException:
    """The DBAPIError a statement raises over ``driver_error`` (chained with ``from``)."""
    try:
        try:
            raise driver_error
        except Exception as exc:
            raise sa.exc.DBAPIError("UPDATE notifications …", {}, exc) from exc
    except sa.exc.DBAPIError as raised:
        return raised


@pytest.mark.parametrize(
    "driver_error",
    [
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        asyncpg.exceptions.SerializationError("could not serialize access"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    ],
)
def test_a_rolled_back_or_unreachable_transaction_is_tried_again(driver_error: Exception) -> None:
    assert is_unavailable(_raised_over(driver_error))


@pytest.mark.parametrize(
    "driver_error",
    [
        asyncpg.exceptions.UndefinedColumnError('column "x" does not exist'),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
    ],
)
def test_a_bad_statement_is_not(driver_error: Exception) -> None:
    assert not is_unavailable(_raised_over(driver_error))
