"""core/samples.py: the sample ``tidings trigger`` publishes, valid against the schema."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from tidings.core.samples import sample


def _valid(schema: dict[str, Any]) -> Any:
    value = sample(schema)
    Draft202012Validator(schema, format_checker=FormatChecker()).validate(value)
    return value


def test_no_schema_gives_an_empty_object() -> None:
    assert sample(None) == {} and sample({}) == {}


def test_examples_win() -> None:
    schema = {
        "type": "object",
        "examples": [{"paymentId": "pay_42"}],
        "properties": {"paymentId": {"type": "string"}},
    }
    assert _valid(schema) == {"paymentId": "pay_42"}
    assert _valid({"type": "string", "examples": ["hello"]}) == "hello"


def test_objects_hold_their_required_properties_only() -> None:
    schema = {
        "type": "object",
        "required": ["id", "status", "amount", "customer"],
        "properties": {
            "id": {"type": "string", "minLength": 3},
            "status": {"enum": ["pending", "completed"]},
            "kind": {"const": "payment"},
            "amount": {"type": "number", "exclusiveMinimum": 0},
            "customer": {
                "type": "object",
                "required": ["email"],
                "properties": {"email": {"type": "string", "format": "email"}},
            },
            "note": {"type": "string"},
        },
        "additionalProperties": False,
    }
    assert _valid(schema) == {
        "id": "xxx",
        "status": "pending",
        "amount": 1,
        "customer": {"email": "user@example.com"},
    }


def test_arrays_have_their_fewest_items() -> None:
    assert _valid({"type": "array", "items": {"type": "integer"}}) == []
    assert _valid({"type": "array", "minItems": 2, "items": {"type": "string"}}) == ["", ""]
    unique = {"type": "array", "minItems": 3, "uniqueItems": True, "items": {"type": "integer"}}
    assert _valid(unique) == [0, 1, 2]
    assert _valid({"type": "array", "minItems": 1, "prefixItems": [{"const": 7}]}) == [7]


def test_enum_and_const() -> None:
    assert _valid({"enum": ["a", "b"]}) == "a"
    assert _valid({"const": {"x": 1}}) == {"x": 1}


@pytest.mark.parametrize(
    "fmt", ["date-time", "date", "email", "uri", "uuid", "ipv4", "ipv6", "hostname"]
)
def test_string_formats(fmt: str) -> None:
    assert _valid({"type": "string", "format": fmt})


def test_strings_respect_their_lengths() -> None:
    assert _valid({"type": "string", "minLength": 4, "maxLength": 4}) == "xxxx"


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "integer"}, 0),
        ({"type": "integer", "minimum": 5}, 5),
        ({"type": "integer", "exclusiveMinimum": 5}, 6),
        ({"type": "number", "minimum": 0.5}, 0.5),
        ({"type": "number", "exclusiveMinimum": 2.5}, 3.5),
        ({"type": "integer", "maximum": -3}, -3),
        ({"type": "integer", "exclusiveMaximum": -3}, -4),
        ({"type": "integer", "minimum": 7, "multipleOf": 5}, 10),
        ({"type": "number", "minimum": 1, "maximum": 1}, 1),
        ({"type": "boolean"}, False),
        ({"type": "null"}, None),
        ({"type": ["null", "integer"], "minimum": 2}, 2),
    ],
)
def test_numbers_and_scalars(schema: dict[str, Any], expected: Any) -> None:
    assert _valid(schema) == expected


def test_one_of_any_of_all_of_and_refs() -> None:
    one_of = {
        "oneOf": [
            {"type": "object", "required": ["card"], "properties": {"card": {"type": "string"}}},
            {"type": "object", "required": ["iban"], "properties": {"iban": {"type": "string"}}},
        ]
    }
    assert _valid(one_of) == {"card": ""}
    assert _valid({"anyOf": [{"type": "integer", "minimum": 3}, {"type": "string"}]}) == 3
    all_of = {
        "allOf": [
            {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}},
            {"required": ["b"], "properties": {"b": {"const": True}}},
        ]
    }
    assert _valid(all_of) == {"a": 0, "b": True}
    with_refs = {
        "$defs": {
            "money": {
                "type": "object",
                "required": ["cents"],
                "properties": {"cents": {"type": "integer", "minimum": 1}},
            }
        },
        "type": "object",
        "required": ["total"],
        "properties": {"total": {"$ref": "#/$defs/money"}},
    }
    assert _valid(with_refs) == {"total": {"cents": 1}}
