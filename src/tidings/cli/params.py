"""Commands' parameters as ``inspect.Parameter`` lists, so that commands share one definition
of an option (its name, type and help), and ``extend``: a command that takes more options
than its function declares (``remote``'s ``--api-url``…, ``store``'s ``--data-dir``…)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Collection, Sequence
from typing import Annotated, Any, TypeVar

import typer

F = TypeVar("F", bound=Callable[..., Any])
Param = inspect.Parameter


def param(name: str, annotation: Any, default: Any = Param.empty) -> Param:
    """One parameter of a command; without a default it must be given."""
    return Param(name, Param.KEYWORD_ONLY, default=default, annotation=annotation)


def required(**annotations: Any) -> list[Param]:
    """Parameters that must be given, in this order."""
    return [param(name, annotation) for name, annotation in annotations.items()]


def options(**annotations: Any) -> list[Param]:
    """Options that may be left out (None), in this order."""
    return [param(name, annotation, None) for name, annotation in annotations.items()]


def expires_in(help: str) -> Param:
    """``--expires-in`` of the commands that roll a key or a secret."""
    return param("expires_in", Annotated[str, typer.Option(help=help)], "24h")


def extend(
    fn: Callable[..., Any],
    passed: Collection[str],
    added: Sequence[Param],
    command: Callable[..., Any],
) -> Any:
    """``command`` made a typer command with ``fn``'s name and help: it takes ``fn``'s own
    parameters (not those in ``passed``, which ``command`` passes to ``fn``) and then
    ``added``, which ``command`` consumes."""
    # Only the command's own parameters are evaluated: ``api: Tidings`` is imported for type
    # checking only, so that ``tidings serve`` runs without the client installed.
    signature = inspect.signature(fn)
    own = [
        p.replace(annotation=_evaluated(p.annotation, fn))
        for p in signature.parameters.values()
        if p.name not in passed
    ]
    functools.update_wrapper(command, fn)
    command.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in [*own, *added]}
    command.__dict__.pop("__wrapped__", None)
    return command


def _evaluated(annotation: Any, fn: Callable[..., Any]) -> Any:
    if isinstance(annotation, str):
        return eval(annotation, fn.__globals__)  # the module's own annotation text
    return annotation
