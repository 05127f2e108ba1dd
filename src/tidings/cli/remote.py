"""What the resource commands share (``tidings webhooks list`` and the rest): they talk to a
Tidings server over HTTP through the Python client, take ``--api-url``/``--api-key`` (or
``TIDINGS_API_URL``/``TIDINGS_API_KEY``) and ``--json``, print tables by default, and end with
exit code 1 and the API's message, on one line, when the API refuses."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar, cast

import typer
from rich.console import Console
from rich.table import Table

from tidings.cli.params import extend, param

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_API_URL = "http://127.0.0.1:8000"
# Piped output (scripts, grep) gets whole lines rather than a table cut to 80 columns.
console = Console(width=None if sys.stdout.isatty() else 250, highlight=False)
errors = Console(stderr=True, highlight=False, width=10_000)

ApiUrl = Annotated[
    str, typer.Option("--api-url", envvar="TIDINGS_API_URL", help="The Tidings server")
]
ApiKey = Annotated[
    str, typer.Option("--api-key", envvar="TIDINGS_API_KEY", help="An API key of the account")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead of a table")]
Limit = Annotated[int, typer.Option(help="Show at most this many (newest first)", min=1)]


def group(help: str) -> typer.Typer:
    return typer.Typer(help=help, no_args_is_help=True)


def remote(fn: F) -> F:
    """Give a command ``--api-url``, ``--api-key`` and ``--json``; it receives ``api`` (the
    client) and ``out`` (where to print), and API errors become exit code 1 with one line."""

    def command(*args: Any, api_url: str, api_key: str, as_json: bool, **kwargs: Any) -> Any:
        try:
            from tidings_client import Tidings, TidingsError
        except ImportError:
            fail("this command needs the Python client: pip install ./clients/python", code=2)
        if not api_key:
            fail("give --api-key or set TIDINGS_API_KEY", code=2)
        try:
            with Tidings(api_key, api_url) as api:
                return fn(*args, api=api, out=Output(as_json), **kwargs)
        except TidingsError as exc:
            fail(exc.message if exc.status else f"cannot reach {api_url}: {exc.message}")
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    added = [
        param("api_url", ApiUrl, DEFAULT_API_URL),
        param("api_key", ApiKey, ""),
        param("as_json", AsJson, False),
    ]
    return cast(F, extend(fn, ("api", "out"), added, command))


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr, no traceback."""
    errors.print(f"error: {' '.join(message.split())}", markup=False, soft_wrap=True)
    raise typer.Exit(code)


def read_json(value: str, what: str) -> Any:
    """A JSON argument: inline, ``@file``, or ``@-`` for standard input."""
    try:
        if value.startswith("@"):
            name = value[1:]
            text = sys.stdin.read() if name == "-" else Path(name).read_text()
        else:
            text = value
        return json.loads(text)
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot read {value[1:]}: {exc.strerror}", param_hint=what
        ) from None
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint=what) from None


def pairs(values: Sequence[str] | None, what: str, sep: str = "=") -> dict[str, str]:
    """``["a=b", "c=d"]`` → ``{"a": "b", "c": "d"}``."""
    out: dict[str, str] = {}
    for value in values or []:
        name, found, rest = value.partition(sep)
        if not found or not name:
            raise typer.BadParameter(f"use NAME{sep}VALUE, not {value!r}", param_hint=what)
        out[name.strip()] = rest.strip()
    return out


def given(**fields: Any) -> dict[str, Any]:
    """The options a command was given (None: not given)."""
    return {k: v for k, v in fields.items() if v is not None}


def changes(**fields: Any) -> dict[str, Any]:
    """The options an update command was given; at least one is needed."""
    found = given(**fields)
    if not found:
        raise typer.BadParameter("give at least one field to change")
    return found


def first(items: Iterable[Any], limit: int) -> list[Any]:
    out = []
    for item in items:
        out.append(item)
        if len(out) >= limit:
            break
    return out


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(cell(v) for v in value) or "-"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":")) if value else "-"
    return str(value)


class Output:
    """Tables for people, JSON for scripts."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def json(self, value: Any) -> None:
        sys.stdout.write(json.dumps(value, indent=2) + "\n")
        sys.stdout.flush()

    def table(self, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
        if self.as_json:
            self.json(list(rows))
            return
        if not rows:
            console.print("(none)")
            return
        table = Table(*columns, show_edge=False, pad_edge=False)
        for row in rows:
            table.add_row(*(cell(row.get(c)) for c in columns))
        console.print(table)

    def record(self, value: Any, message: str | None = None) -> None:
        """One object: its fields one a line (or JSON)."""
        if self.as_json:
            self.json(value)
            return
        if message:
            console.print(message)
        if not isinstance(value, dict):
            console.print(cell(value))
            return
        table = Table("field", "value", show_edge=False, pad_edge=False, show_header=False)
        for name, field in value.items():
            table.add_row(name, cell(field))
        console.print(table)

    def done(self, message: str, value: Any = None) -> None:
        """A call with nothing to show (a delete): a line, or ``{"ok": true}``-like JSON."""
        if self.as_json:
            self.json(value if value is not None else {"done": message})
        else:
            console.print(message)
