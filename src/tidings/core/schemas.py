"""Event payload schemas (JSON Schema draft 2020-12), compiled once per schema version.

Only references inside the schema itself resolve: fetching a remote ``$ref`` would let a
schema make the server call any URL."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from tidings.core.jsonbytes import dumps, loads

_BASE = "urn:tidings:event-schema"


def schema_problem(schema: dict[str, Any]) -> str | None:
    """Why ``schema`` is not a usable draft 2020-12 schema, or None when it is."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = _path(exc.absolute_path)
        return f"{exc.message}" + (f" at {where}" if where else "")
    resource = DRAFT202012.create_resource(schema)
    base = resource.id() or _BASE
    resolver = Registry().with_resource(base, resource).resolver(base)
    for ref in _refs(schema):
        try:
            resolver.lookup(ref)
        except Unresolvable:
            return f"$ref {ref!r} does not resolve within the schema (remote refs are not fetched)"
    return None


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("$ref", "$dynamicRef") and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


@lru_cache(maxsize=1024)
def _validator(schema_json: bytes) -> Draft202012Validator:
    return Draft202012Validator(loads(schema_json))


def data_problem(
    schema: dict[str, Any], data: Any, root: str = "eventData"
) -> tuple[str, str] | None:
    """The failing path and what is wrong there, when ``data`` does not match ``schema``."""
    validator = _validator(dumps(schema, sort_keys=True))
    try:
        error: ValidationError | None = best_match(validator.iter_errors(data))
    except (Unresolvable, SchemaError, RecursionError) as exc:
        return root, f"the event type's schema cannot be evaluated: {exc}"
    if error is None:
        return None
    path = _path(error.absolute_path, root)
    if error.validator == "required" and isinstance(error.instance, dict):
        # Name the missing property itself, as missing body fields are named.
        missing = [p for p in error.validator_value if p not in error.instance]
        if missing:
            path = f"{path}.{missing[0]}"
    return path, error.message


def _path(parts: Any, root: str = "") -> str:
    text = root
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
