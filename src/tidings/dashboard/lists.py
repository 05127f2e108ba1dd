"""A page listing one kind of item (API keys, sources, pulls) and the row actions that sources,
pulls and webhooks share: enable or disable, and delete, each after a step-up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from fastapi import APIRouter, Request, Response

from tidings.core.access import Access
from tidings.dashboard.forms import change_form, text
from tidings.dashboard.web import Signed, View, render, see_other
from tidings.runtime.context import Context


class Shown(Protocol):
    """The list page again, after a change, with what it adds (the new item, a refusal)."""

    def __call__(self, request: Request, view: View, /, **extra: Any) -> Awaitable[Response]: ...


def add_list_page(
    router: APIRouter, template: str, values: Callable[[View], Awaitable[dict[str, Any]]]
) -> Shown:
    """GET at the router's root: ``template`` with ``values`` (the rows, the form's choices)."""

    async def shown(request: Request, view: View, /, **extra: Any) -> Response:
        return render(request, template, view, await values(view) | extra)

    @router.get("")
    async def list_page(request: Request, view: Signed) -> Response:
        return await shown(request, view)

    return shown


class Managed(Protocol):
    """What services/webhooks.py, sources.py and pulls.py offer for an item by its id."""

    async def get(self, ctx: Context, access: Access, item_id: str, /) -> dict[str, Any]: ...

    async def set_status(
        self, ctx: Context, access: Access, item_id: str, status: str, /
    ) -> dict[str, Any]: ...

    async def delete(self, ctx: Context, access: Access, item_id: str, /) -> None: ...


async def switch(request: Request, view: View, service: Managed, item_id: str) -> bool:
    """Enables or disables the item as the form asks (anything but Active disables); True
    when it is now active."""
    form = await change_form(request, view, service.get(view.ctx, view.access, item_id))
    status = "Active" if text(form, "status") == "Active" else "Disabled"
    await service.set_status(view.ctx, view.access, item_id, status)
    return status == "Active"


async def remove(request: Request, view: View, service: Managed, item_id: str) -> None:
    await change_form(request, view, service.get(view.ctx, view.access, item_id))
    await service.delete(view.ctx, view.access, item_id)


def add_status_and_delete(router: APIRouter, service: Managed, noun: str) -> None:
    """POST ``/{id}/status`` and ``/{id}/delete`` under a list page, each back to the list with
    a notice such as "Pull enabled" or "Source deleted"."""
    listed = router.prefix

    @router.post("/{item_id}/status")
    async def set_status(item_id: str, request: Request, view: Signed) -> Response:
        done = "enabled" if await switch(request, view, service, item_id) else "disabled"
        return see_other(f"{listed}?notice={noun}+{done}")

    @router.post("/{item_id}/delete")
    async def delete(item_id: str, request: Request, view: Signed) -> Response:
        await remove(request, view, service, item_id)
        return see_other(f"{listed}?notice={noun}+deleted")
