"""Who is calling and what it may do: the caller behind a key (or a dashboard user), and the
account it acts for. Every service takes one of these and checks it; no front decides it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tidings.core import permissions
from tidings.core.errors import DomainError


@dataclass(frozen=True)
class Caller:
    # The API key behind the request; None for the command line run by the operator.
    key_id: str | None
    key_type: str
    # The account the request acts for; None only for an operator without Tidings-Account.
    account_id: str | None
    permissions: Mapping[str, str]
    # Event-type categories a restricted key is limited to; None means all.
    categories: list[str] | None
    # The dashboard user behind the request, if any.
    user_id: str | None = None

    @property
    def is_operator(self) -> bool:
        return self.key_type == "operator"

    def require(self, resource: str, level: str) -> None:
        """403 naming the permission when the caller lacks it."""
        if not permissions.allows(self.permissions, resource, level):
            needed = f"{resource}:{level}"
            raise DomainError(
                403,
                f"this API key lacks the permission {needed!r}",
                details=[{"field": "permission", "message": needed}],
            )

    def require_operator(self) -> None:
        if not self.is_operator:
            raise DomainError(403, "this call needs an operator key")

    def acting(self, resource: str, level: str) -> Access:
        """The caller, allowed ``level`` on ``resource``, acting for its account."""
        self.require(resource, level)
        if self.account_id is None:
            raise DomainError(
                400,
                "this call acts for an account: send the Tidings-Account header",
                field="Tidings-Account",
            )
        return Access(account_id=self.account_id, caller=self)


@dataclass(frozen=True)
class Access:
    """A caller allowed to act on one account's resources."""

    account_id: str
    caller: Caller

    @property
    def categories(self) -> list[str] | None:
        return self.caller.categories

    def sees(self, category: str | None) -> bool:
        """Whether an endpoint (webhook, source, pull) of ``category`` is the caller's to see:
        a category-limited key sees only those of its categories."""
        return self.categories is None or category in self.categories

    def may_place(self, category: str | None) -> None:
        """403 naming ``category`` when a category-limited key would make or move an endpoint
        outside its categories (it could not see it afterwards)."""
        if not self.sees(category):
            raise DomainError(
                403,
                f"this API key is limited to the categories {self.categories}: "
                "give one of them as category",
                field="category",
            )


def operator(account_id: str | None = None) -> Caller:
    """The operator acting directly on the store (the command line): every permission."""
    return Caller(
        key_id=None,
        key_type="operator",
        account_id=account_id,
        permissions=permissions.effective("operator", None),
        categories=None,
    )


def operator_access(account_id: str) -> Access:
    return Access(account_id=account_id, caller=operator(account_id))
