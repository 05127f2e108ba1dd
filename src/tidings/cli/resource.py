"""The usual commands of one resource of the API, made from what differs between them:
``list``, ``get`` and the other calls on one id (``enable``, ``roll-key``…), ``create``,
``update`` and ``delete``, each a ``remote`` command over ``api.<resource>`` of the client.

A command's parameters are ``inspect.Parameter`` lists (``tidings.cli.params``), so that the
commands of a resource share one definition of each field: its option, type and help."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import typer

from tidings.cli.params import Param, param
from tidings.cli.remote import Limit, Output, changes, first, given, remote

Body = Callable[..., None]


def _flat(groups: Iterable[Sequence[Param]]) -> list[Param]:
    return [p for group in groups for p in group]


class Commands:
    """Commands on ``app`` over ``api.<resource>``; those on one item take its id first, an
    argument named ``id_name``."""

    def __init__(self, app: typer.Typer, resource: str, id_name: str, id_annotation: Any) -> None:
        self.app = app
        self.resource = resource
        self.id = param(id_name, id_annotation)

    def _of(self, api: Any) -> Any:
        return getattr(api, self.resource)

    def add(self, name: str, help: str | None, params: Sequence[Param], body: Body) -> None:
        """The command ``name``: ``body(api, out, **values)``, its values in the order of
        ``params`` (whatever their order on the command line)."""

        def command(api: Any, out: Output, **values: Any) -> None:
            body(api, out, **{p.name: values[p.name] for p in params})

        command.__name__ = command.__qualname__ = name.replace("-", "_")
        command.__doc__ = help
        command.__signature__ = inspect.Signature(list(params))  # type: ignore[attr-defined]
        self.app.command(name)(remote(command))

    def command(
        self, name: str, *params: Sequence[Param], of_one: bool = True
    ) -> Callable[[Body], Body]:
        """A decorator: ``body(api, out, **values)`` becomes the command ``name``, its
        docstring the help, taking the id (``of_one``) and then ``params``."""

        def add(body: Body) -> Body:
            self.add(name, body.__doc__, [*([self.id] if of_one else []), *_flat(params)], body)
            return body

        return add

    def listing(
        self,
        help: str,
        columns: Sequence[str],
        filters: Sequence[Param] = (),
        *,
        limit: int = 100,
        query: Callable[..., dict[str, Any]] | None = None,
        name: str = "list",
        of_one: bool = False,
    ) -> None:
        """A table (or JSON) of ``api.<resource>.<name>(…)``: of the id given (``of_one``),
        filtered by the options ``filters`` (turned into the client's arguments by
        ``query``), ``--limit`` rows at most."""

        def body(api: Any, out: Output, limit: int, **values: Any) -> None:
            ids = [values.pop(self.id.name)] if of_one else []
            wanted = query(**values) if query else values
            listed = getattr(self._of(api), name)(*ids, **wanted, limit=min(limit, 250))
            out.table(first(listed, limit), columns)

        ids = [self.id] if of_one else []
        self.add(name, help, [*ids, *filters, param("limit", Limit, limit)], body)

    def call(
        self,
        method: str,
        help: str,
        *params: Param,
        message: str | None = None,
        nested: tuple[str, Sequence[str]] | None = None,
    ) -> None:
        """``api.<resource>.<method>(id, *params)`` shown as a record, under ``message``; with
        ``nested`` (key, columns), the list under that key is a table of its own."""

        def body(api: Any, out: Output, **values: Any) -> None:
            shown = getattr(self._of(api), method)(*values.values())
            if nested and not out.as_json:
                key, columns = nested
                rows = shown.pop(key, [])
                out.record(shown)
                out.table(rows, columns)
            else:
                out.record(shown, message)

        self.add(method.replace("_", "-"), help, [self.id, *params], body)

    def create(self, help: str, *params: Sequence[Param]) -> None:
        """``api.<resource>.create(*required, **options given)``."""
        fields = _flat(params)

        def body(api: Any, out: Output, **values: Any) -> None:
            args = [values.pop(p.name) for p in fields if p.default is Param.empty]
            out.record(self._of(api).create(*args, **given(**values)))

        self.add("create", help, fields, body)

    def update(self, *params: Sequence[Param]) -> None:
        """``api.<resource>.update(id, **options given)``: at least one is needed."""

        def body(api: Any, out: Output, **values: Any) -> None:
            item = values.pop(self.id.name)
            out.record(self._of(api).update(item, **changes(**values)))

        self.add("update", "Change the fields given.", [self.id, *_flat(params)], body)

    def delete(
        self, help: str, *, method: str = "delete", past: str = "Deleted", key: str = "id"
    ) -> None:
        """``api.<resource>.<method>(id)``, and a line: "Deleted pull_…."."""

        def body(api: Any, out: Output, **values: Any) -> None:
            item = values[self.id.name]
            getattr(self._of(api), method)(item)
            out.done(f"{past} {item}.", {key: item, past.lower(): True})

        self.add(method, help, [self.id], body)
