"""A sample event for an event type's JSON Schema (``tidings trigger`` without ``--data``):
the schema's first ``examples`` entry when it gives one, else a minimal valid instance —
required properties only, the fewest items, the smallest allowed numbers."""

from __future__ import annotations

import math
from typing import Any

# A string of each common format that validators accept.
_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "00:00:00Z",
    "duration": "P1D",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.com/",
    "iri": "https://example.com/",
    "uri-reference": "https://example.com/",
    "iri-reference": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "json-pointer": "/example",
    "relative-json-pointer": "0",
    "regex": ".*",
}
# Beyond this a schema is considered to recurse forever: the property is left out if it can
# be, else given null.
_DEPTH = 32


def sample(schema: Any) -> Any:
    """A value for ``schema`` (an event type's schema; a missing one gives ``{}``)."""
    if not isinstance(schema, dict) or not schema:
        return {}
    return _sample(schema, schema, 0)


def _sample(schema: Any, root: dict[str, Any], depth: int) -> Any:
    if schema is True or not isinstance(schema, dict):
        return None
    if depth > _DEPTH:
        return None
    if "$ref" in schema:
        target = _resolve(schema["$ref"], root)
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return _sample(merged, root, depth + 1)
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:
        return examples[0]
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("oneOf", "anyOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            base = {k: v for k, v in schema.items() if k != key}
            return _sample({**base, **options[0]}, root, depth + 1)
    if isinstance(schema.get("allOf"), list):
        merged = _merge([schema, *schema["allOf"]])
        merged.pop("allOf", None)
        return _sample(merged, root, depth + 1)
    kind = _type_of(schema)
    if kind == "object":
        return _object(schema, root, depth)
    if kind == "array":
        return _array(schema, root, depth)
    if kind == "string":
        return _string(schema)
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer")
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return {}


def _type_of(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        named = [k for k in kind if k != "null"]
        return named[0] if named else "null"
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    if any(k in schema for k in ("minLength", "maxLength", "pattern", "format")):
        return "string"
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "multipleOf")):
        return "number"
    return None


def _object(schema: dict[str, Any], root: dict[str, Any], depth: int) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    out: dict[str, Any] = {}
    for name in schema.get("required") or []:
        spec = properties.get(name, schema.get("additionalProperties", {}))
        out[name] = _sample(spec if isinstance(spec, dict) else {}, root, depth + 1)
    return out


def _array(schema: dict[str, Any], root: dict[str, Any], depth: int) -> list[Any]:
    prefix = schema.get("prefixItems") or []
    items = schema.get("items", {})
    wanted = max(int(schema.get("minItems", 0)), 0)
    out = [_sample(p, root, depth + 1) for p in prefix[: max(wanted, 0)]]
    while len(out) < wanted:
        out.append(_sample(items if isinstance(items, dict) else {}, root, depth + 1))
    if (
        schema.get("uniqueItems")
        and len(out) > 1
        and _type_of(items or {})
        in (
            "integer",
            "number",
        )
    ):
        out = [out[0] + n for n in range(len(out))]
    return out


def _string(schema: dict[str, Any]) -> str:
    value = _FORMATS.get(str(schema.get("format")), "")
    least = int(schema.get("minLength", 0))
    if len(value) < least:
        value += "x" * (least - len(value))
    most = schema.get("maxLength")
    if most is not None and len(value) > int(most) and not schema.get("format"):
        value = value[: int(most)]
    return value


def _number(schema: dict[str, Any], integer: bool) -> int | float:
    low = schema.get("minimum")
    above = schema.get("exclusiveMinimum")
    high = schema.get("maximum")
    below = schema.get("exclusiveMaximum")
    step = schema.get("multipleOf")
    value: float = 0
    if low is not None:
        value = low
    if above is not None and value <= above:
        value = math.floor(above) + 1 if integer else above + (1 if step is None else step)
    if high is not None and value > high and low is None and above is None:
        value = high
    if below is not None and value >= below and low is None and above is None:
        value = math.ceil(below) - 1 if integer else below - 1
    if step:
        value = math.ceil(value / step) * step
        if above is not None and value <= above:
            value += step
    if integer:
        return math.ceil(value)
    return int(value) if float(value).is_integer() else value


def _merge(parts: list[Any]) -> dict[str, Any]:
    """``allOf``: properties and required lists joined, other keywords from the last part."""
    merged: dict[str, Any] = {}
    for part in parts:
        if not isinstance(part, dict):
            continue
        for key, value in part.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = [*merged.get("required", []), *value]
            else:
                merged[key] = value
    return merged


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    """A reference inside the schema (``#/$defs/x``); anything else gives an empty schema."""
    if not ref.startswith("#"):
        return {}
    node: Any = root
    for part in ref[1:].split("/")[1:] if ref != "#" else []:
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return {}
        node = node[part]
    return node if isinstance(node, dict) else {}
