"""One class per API resource. Each method describes its call and hands it to the client,
which sends it (``Tidings``: the answer; ``AsyncTidings``: an awaitable of it). ``@route``
records which operation of the API a method calls: tests check that every operation of the
served OpenAPI document has one."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from tidings_client._http import Call, body_of

if TYPE_CHECKING:
    from tidings_client._client import BaseClient

F = TypeVar("F", bound=Callable[..., Any])
When = datetime | str | None


def route(method: str, path: str) -> Callable[[F], F]:
    def mark(fn: F) -> F:
        fn.__dict__["route"] = (method, path)
        return fn

    return mark


def seg(value: str) -> str:
    return quote(str(value), safe="")


class Resource:
    def __init__(self, client: BaseClient[Any]) -> None:
        self._client = client

    def _send(self, call: Call) -> Any:
        return self._client._send(call)

    def _get(self, path: str, /, **params: Any) -> Any:
        return self._send(Call("GET", path, params))

    def _post(self, path: str, body: Any = None, /, **kw: Any) -> Any:
        return self._send(Call("POST", path, json=body, **kw))

    def _list(self, path: str, /, **params: Any) -> Any:
        return self._client._paginate(Call("GET", path, params))


class Webhooks(Resource):
    @route("POST", "/v1/webhooks")
    def create(self, url: str, event_types: Iterable[str] | None = None, **fields: Any) -> Any:
        """A webhook; ``fields``: description, category, headers, status, format,
        signature_scheme, username, password, retry_schedule, rate_limit, ordered,
        ssl_verification_disabled. The answer holds its signing ``secret``."""
        types = list(event_types) if event_types is not None else None
        return self._post("/v1/webhooks", body_of({"url": url, "event_types": types, **fields}))

    @route("GET", "/v1/webhooks")
    def list(
        self, *, status: str | None = None, category: str | None = None, limit: int | None = None
    ) -> Any:
        return self._list("/v1/webhooks", status=status, category=category, limit=limit)

    @route("GET", "/v1/webhooks/{webhook_id}")
    def get(self, webhook_id: str) -> Any:
        return self._get(f"/v1/webhooks/{seg(webhook_id)}")

    @route("PUT", "/v1/webhooks/{webhook_id}")
    def replace(self, webhook_id: str, url: str, event_types: Iterable[str], **fields: Any) -> Any:
        """Replace every field (those left out take their defaults)."""
        body = body_of({"url": url, **fields})
        body["eventTypes"] = list(event_types)
        return self._send(Call("PUT", f"/v1/webhooks/{seg(webhook_id)}", json=body))

    @route("PATCH", "/v1/webhooks/{webhook_id}")
    def update(self, webhook_id: str, **fields: Any) -> Any:
        """Change only the fields given (``None`` sets a nullable field to null)."""
        body = {_camel(k): v for k, v in fields.items()}
        return self._send(Call("PATCH", f"/v1/webhooks/{seg(webhook_id)}", json=body))

    @route("DELETE", "/v1/webhooks/{webhook_id}")
    def delete(self, webhook_id: str) -> Any:
        return self._send(Call("DELETE", f"/v1/webhooks/{seg(webhook_id)}"))

    @route("POST", "/v1/webhooks/{webhook_id}/enable")
    def enable(self, webhook_id: str) -> Any:
        return self._post(f"/v1/webhooks/{seg(webhook_id)}/enable")

    @route("POST", "/v1/webhooks/{webhook_id}/disable")
    def disable(self, webhook_id: str) -> Any:
        return self._post(f"/v1/webhooks/{seg(webhook_id)}/disable")

    @route("GET", "/v1/webhooks/{webhook_id}/secret")
    def secret(self, webhook_id: str) -> Any:
        return self._get(f"/v1/webhooks/{seg(webhook_id)}/secret")

    @route("POST", "/v1/webhooks/{webhook_id}/secret/roll")
    def roll_secret(self, webhook_id: str, expires_in: str | float = "24h") -> Any:
        """A new signing secret; the current one signs too until ``expires_in`` has passed."""
        return self._post(f"/v1/webhooks/{seg(webhook_id)}/secret/roll", {"expiresIn": expires_in})

    @route("POST", "/v1/webhooks/{webhook_id}/replay")
    def replay(
        self, webhook_id: str, since: When, until: When = None, status: str | None = None
    ) -> Any:
        """Queue again the notifications created in [since, until) (default: the failed ones)."""
        body = body_of({"since": since, "until": until, "status": status})
        return self._post(f"/v1/webhooks/{seg(webhook_id)}/replay", body)

    def test(self, webhook_id: str, event_type: str, data: Mapping[str, Any]) -> Any:
        """Send a test event to this webhook only, whatever its status and filter."""
        return self._client.events.test([webhook_id], event_type, data)


class EventTypes(Resource):
    @route("POST", "/v1/event-types")
    def create(
        self,
        name: str,
        *,
        category: str | None = None,
        description: str | None = None,
        schema: Mapping[str, Any] | None = None,
    ) -> Any:
        body = body_of(
            {"name": name, "category": category, "description": description, "schema": schema}
        )
        return self._post("/v1/event-types", body)

    @route("GET", "/v1/event-types")
    def list(
        self,
        *,
        category: str | None = None,
        include_archived: bool | None = None,
        limit: int | None = None,
    ) -> Any:
        return self._list(
            "/v1/event-types", category=category, includeArchived=include_archived, limit=limit
        )

    @route("GET", "/v1/event-types/{name}")
    def get(self, name: str) -> Any:
        return self._get(f"/v1/event-types/{seg(name)}")

    @route("PUT", "/v1/event-types/{name}")
    def replace(self, name: str, **fields: Any) -> Any:
        """Replace every field (category, description, schema, archived); creates the type
        when it does not exist."""
        return self._send(Call("PUT", f"/v1/event-types/{seg(name)}", json=body_of(fields)))

    @route("PATCH", "/v1/event-types/{name}")
    def update(self, name: str, **fields: Any) -> Any:
        body = {_camel(k): v for k, v in fields.items()}
        return self._send(Call("PATCH", f"/v1/event-types/{seg(name)}", json=body))

    @route("DELETE", "/v1/event-types/{name}")
    def delete(self, name: str) -> Any:
        """Archive the type (``update(name, archived=False)`` brings it back)."""
        return self._send(Call("DELETE", f"/v1/event-types/{seg(name)}"))


class Events(Resource):
    @route("POST", "/v1/events")
    def publish(
        self, event_type: str, data: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Any:
        """Publish an event. With ``idempotency_key`` the call is retried safely: the same key
        and body answer the first event."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        body = {"eventType": event_type, "eventData": dict(data)}
        return self._post("/v1/events", body, headers=headers, idempotent=bool(idempotency_key))

    @route("POST", "/v1/test-events")
    def test(self, webhook_ids: Iterable[str], event_type: str, data: Mapping[str, Any]) -> Any:
        """Send an event to the named webhooks only (Active or Disabled)."""
        body = {"eventType": event_type, "eventData": dict(data), "webhookIds": list(webhook_ids)}
        return self._post("/v1/test-events", body)

    @route("GET", "/v1/events")
    def list(
        self,
        *,
        event_type: str | None = None,
        log_id: str | None = None,
        start: When = None,
        end: When = None,
        limit: int | None = None,
    ) -> Any:
        return self._list(
            "/v1/events",
            eventType=event_type,
            logId=log_id,
            limit=limit,
            **{"from": start, "to": end},
        )

    @route("GET", "/v1/events/{event_id}")
    def get(self, event_id: str) -> Any:
        """The event, the request that published it and every notification with attempts."""
        return self._get(f"/v1/events/{seg(event_id)}")


class Notifications(Resource):
    @route("GET", "/v1/notifications")
    def list(
        self,
        *,
        webhook_id: str | None = None,
        status: str | None = None,
        event_type: str | None = None,
        event_id: str | None = None,
        start: When = None,
        end: When = None,
        limit: int | None = None,
    ) -> Any:
        return self._list(
            "/v1/notifications",
            webhookId=webhook_id,
            status=status,
            eventType=event_type,
            eventId=event_id,
            **{"from": start, "to": end},
            limit=limit,
        )

    @route("GET", "/v1/notifications/{notification_id}")
    def get(self, notification_id: str) -> Any:
        return self._get(f"/v1/notifications/{seg(notification_id)}")

    @route("POST", "/v1/notifications/{notification_id}/resend")
    def resend(self, notification_id: str) -> Any:
        return self._post(f"/v1/notifications/{seg(notification_id)}/resend")


class Logs(Resource):
    @route("GET", "/v1/logs")
    def list(
        self,
        *,
        status: str | None = None,
        type: str | None = None,
        start: When = None,
        end: When = None,
        path: str | None = None,
        method: str | None = None,
        limit: int | None = None,
    ) -> Any:
        """API calls, newest first; ``status``: all, succeeded or failed."""
        return self._list(
            "/v1/logs",
            status=status,
            type=type,
            **{"from": start, "to": end},
            path=path,
            method=method,
            limit=limit,
        )

    @route("GET", "/v1/logs/{log_id}")
    def get(self, log_id: str) -> Any:
        return self._get(f"/v1/logs/{seg(log_id)}")


class ApiKeys(Resource):
    @route("POST", "/v1/api-keys")
    def create(
        self,
        name: str = "",
        *,
        type: str | None = None,
        permissions: Mapping[str, str] | None = None,
        categories: Iterable[str] | None = None,
        expires_at: When = None,
    ) -> Any:
        """A key; the answer's ``key`` is the only time it is shown."""
        body = body_of(
            {
                "name": name,
                "type": type,
                "permissions": dict(permissions) if permissions is not None else None,
                "categories": list(categories) if categories is not None else None,
                "expires_at": expires_at,
            }
        )
        return self._post("/v1/api-keys", body)

    @route("GET", "/v1/api-keys")
    def list(self, *, limit: int | None = None) -> Any:
        return self._list("/v1/api-keys", limit=limit)

    @route("GET", "/v1/api-keys/{key_id}")
    def get(self, key_id: str) -> Any:
        return self._get(f"/v1/api-keys/{seg(key_id)}")

    @route("POST", "/v1/api-keys/{key_id}/roll")
    def roll(self, key_id: str, expires_in: str | float = "24h") -> Any:
        return self._post(f"/v1/api-keys/{seg(key_id)}/roll", {"expiresIn": expires_in})

    @route("DELETE", "/v1/api-keys/{key_id}")
    def revoke(self, key_id: str) -> Any:
        return self._send(Call("DELETE", f"/v1/api-keys/{seg(key_id)}"))

    delete = revoke


class Accounts(Resource):
    """The operator's partners (an operator key)."""

    @route("POST", "/v1/accounts")
    def create(self, name: str) -> Any:
        return self._post("/v1/accounts", {"name": name})

    @route("GET", "/v1/accounts")
    def list(self, *, limit: int | None = None) -> Any:
        return self._list("/v1/accounts", limit=limit)

    @route("GET", "/v1/accounts/{account_id}")
    def get(self, account_id: str) -> Any:
        return self._get(f"/v1/accounts/{seg(account_id)}")

    @route("PATCH", "/v1/accounts/{account_id}")
    def update(self, account_id: str, *, name: str) -> Any:
        return self._send(Call("PATCH", f"/v1/accounts/{seg(account_id)}", json={"name": name}))

    @route("DELETE", "/v1/accounts/{account_id}")
    def delete(self, account_id: str) -> Any:
        return self._send(Call("DELETE", f"/v1/accounts/{seg(account_id)}"))

    @route("POST", "/v1/accounts/{account_id}/portal-links")
    def portal_link(self, account_id: str, **fields: Any) -> Any:
        """A single-use dashboard sign-in link for the account: ``{"url", "expiresAt"}``."""
        return self._post(f"/v1/accounts/{seg(account_id)}/portal-links", body_of(fields))


class Sources(Resource):
    @route("POST", "/v1/sources")
    def create(self, name: str, event_type: str, **fields: Any) -> Any:
        """A source; ``fields``: category, event_type_pointer, status, auth_type,
        signature_scheme, username, password. The answer holds its ingest ``url`` and, this
        once, its ``key`` or ``secret``."""
        return self._post(
            "/v1/sources", body_of({"name": name, "event_type": event_type, **fields})
        )

    @route("GET", "/v1/sources")
    def list(self, *, limit: int | None = None) -> Any:
        return self._list("/v1/sources", limit=limit)

    @route("GET", "/v1/sources/{source_id}")
    def get(self, source_id: str) -> Any:
        return self._get(f"/v1/sources/{seg(source_id)}")

    @route("PATCH", "/v1/sources/{source_id}")
    def update(self, source_id: str, **fields: Any) -> Any:
        body = {_camel(k): v for k, v in fields.items()}
        return self._send(Call("PATCH", f"/v1/sources/{seg(source_id)}", json=body))

    @route("DELETE", "/v1/sources/{source_id}")
    def delete(self, source_id: str) -> Any:
        return self._send(Call("DELETE", f"/v1/sources/{seg(source_id)}"))

    @route("POST", "/v1/sources/{source_id}/enable")
    def enable(self, source_id: str) -> Any:
        return self._post(f"/v1/sources/{seg(source_id)}/enable")

    @route("POST", "/v1/sources/{source_id}/disable")
    def disable(self, source_id: str) -> Any:
        return self._post(f"/v1/sources/{seg(source_id)}/disable")

    @route("POST", "/v1/sources/{source_id}/roll-key")
    def roll_key(self, source_id: str, expires_in: str | float = "24h") -> Any:
        return self._post(f"/v1/sources/{seg(source_id)}/roll-key", {"expiresIn": expires_in})

    @route("POST", "/in/{source_id}")
    def push(
        self,
        source_id: str,
        data: Mapping[str, Any],
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Push an event to a source as a partner would: with its ``key`` (api-key sources)
        or your own ``headers`` (basic auth, signatures). Not authenticated with the client's
        API key."""
        import json

        sent = {"Content-Type": "application/json"}
        if key:
            sent["X-Api-Key"] = key
        sent.update(headers or {})
        content = json.dumps(dict(data), separators=(",", ":")).encode()
        call = Call("POST", f"/in/{seg(source_id)}", content=content, headers=sent, anonymous=True)
        return self._send(call)


class Pulls(Resource):
    @route("POST", "/v1/pulls")
    def create(self, name: str, url: str, event_type: str, **fields: Any) -> Any:
        """A pull; ``fields``: category, username, password, timezone, frequency, schedule,
        records_pointer, id_pointer, status."""
        return self._post(
            "/v1/pulls", body_of({"name": name, "url": url, "event_type": event_type, **fields})
        )

    @route("GET", "/v1/pulls")
    def list(self, *, limit: int | None = None) -> Any:
        return self._list("/v1/pulls", limit=limit)

    @route("GET", "/v1/pulls/{pull_id}")
    def get(self, pull_id: str) -> Any:
        return self._get(f"/v1/pulls/{seg(pull_id)}")

    @route("PATCH", "/v1/pulls/{pull_id}")
    def update(self, pull_id: str, **fields: Any) -> Any:
        body = {_camel(k): v for k, v in fields.items()}
        return self._send(Call("PATCH", f"/v1/pulls/{seg(pull_id)}", json=body))

    @route("DELETE", "/v1/pulls/{pull_id}")
    def delete(self, pull_id: str) -> Any:
        return self._send(Call("DELETE", f"/v1/pulls/{seg(pull_id)}"))

    @route("POST", "/v1/pulls/{pull_id}/enable")
    def enable(self, pull_id: str) -> Any:
        return self._post(f"/v1/pulls/{seg(pull_id)}/enable")

    @route("POST", "/v1/pulls/{pull_id}/disable")
    def disable(self, pull_id: str) -> Any:
        return self._post(f"/v1/pulls/{seg(pull_id)}/disable")

    @route("POST", "/v1/pulls/{pull_id}/run")
    def run(self, pull_id: str) -> Any:
        """Run the pull now; the answer is the run record, when it ends."""
        return self._post(f"/v1/pulls/{seg(pull_id)}/run")

    @route("GET", "/v1/pulls/{pull_id}/runs")
    def runs(self, pull_id: str, *, limit: int | None = None) -> Any:
        return self._list(f"/v1/pulls/{seg(pull_id)}/runs", limit=limit)


class Users(Resource):
    @route("POST", "/v1/users")
    def create(self, email: str, **fields: Any) -> Any:
        """Invite a user of the account: the answer holds the single-use invite link."""
        return self._post("/v1/users", body_of({"email": email, **fields}))

    @route("GET", "/v1/users")
    def list(self, *, limit: int | None = None) -> Any:
        return self._list("/v1/users", limit=limit)

    @route("GET", "/v1/users/{user_id}")
    def get(self, user_id: str) -> Any:
        return self._get(f"/v1/users/{seg(user_id)}")

    @route("DELETE", "/v1/users/{user_id}")
    def delete(self, user_id: str) -> Any:
        """Delete the user; its dashboard sessions end."""
        return self._send(Call("DELETE", f"/v1/users/{seg(user_id)}"))


class Listen(Resource):
    @route("GET", "/v1/listen")
    def stream(self, events: Iterable[str] | str | None = None) -> Any:
        """The account's events as they are published, as ``(name, data)`` pairs: first
        ``("ready", {"listenerId", "webhookId", "secret"})``, then ``("notification", …)``
        per delivery, each to be answered with ``report``. Ends when the iteration stops."""
        wanted = events if isinstance(events, str) or events is None else ",".join(events)
        return self._client._stream(Call("GET", "/v1/listen", {"events": wanted}))

    @route("POST", "/v1/listen/{listener_id}/results")
    def report(
        self,
        listener_id: str,
        notification_id: str,
        lease: int,
        *,
        status_code: int | None,
        duration_ms: float,
        error: str | None = None,
        response_body: str | None = None,
    ) -> Any:
        """What the local URL answered, recorded as the notification's attempt."""
        body = {
            "notificationId": notification_id,
            "lease": lease,
            "statusCode": status_code,
            "durationMs": duration_ms,
            "error": error,
            "responseBody": response_body,
        }
        return self._post(f"/v1/listen/{seg(listener_id)}/results", body)


class Operations(Resource):
    """The process's own endpoints (no API key needed)."""

    @route("GET", "/healthz")
    def health(self) -> Any:
        return self._get("/healthz")

    @route("GET", "/readyz")
    def ready(self) -> Any:
        """``{"status", "checks"}``; raises ``ServiceUnavailableError`` when not ready."""
        return self._get("/readyz")

    @route("GET", "/metrics")
    def metrics(self) -> Any:
        """The Prometheus text."""
        return self._get("/metrics")


def _camel(name: str) -> str:
    from tidings_client._http import camel

    return camel(name)
