"""Event payload schemas (JSON Schema draft 2020-12), compiled once per schema version."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match


def schema_problem(schema: dict[str, Any]) -> str | None:
    """Why ``schema`` is not a valid draft 2020-12 schema, or None when it is."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = _path(exc.absolute_path)
        return f"{exc.message}" + (f" at {where}" if where else "")
    return None


@lru_cache(maxsize=1024)
def _validator(schema_json: bytes) -> Draft202012Validator:
    return Draft202012Validator(orjson.loads(schema_json))


def data_problem(
    schema: dict[str, Any], data: Any, root: str = "eventData"
) -> tuple[str, str] | None:
    """The failing path and what is wrong there, when ``data`` does not match ``schema``."""
    validator = _validator(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))
    error: ValidationError | None = best_match(validator.iter_errors(data))
    if error is None:
        return None
    return _path(error.absolute_path, root), error.message


def _path(parts: Any, root: str = "") -> str:
    text = root
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
