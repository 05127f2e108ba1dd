"""The schema, as SQLAlchemy Core tables. Timestamps are integer microseconds since the epoch
(UTC): one representation on SQLite and PostgreSQL, cheap to compare in the claim query."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

Micros = sa.BigInteger

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", Micros, nullable=False),
    sa.Column("updated_at", Micros, nullable=False),
    sa.Column("deleted_at", Micros, nullable=True),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    # NULL for operator keys, which act for every account.
    sa.Column("account_id", sa.String(40), nullable=True, index=True),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    # The first characters of the key, to find its row without scanning hashes.
    sa.Column("lookup", sa.String(40), nullable=False, unique=True),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("last4", sa.String(4), nullable=False),
    # Restricted keys: {"webhooks": "read", ...}; other types hold None.
    sa.Column("permissions", sa.JSON, nullable=True),
    # Restricted keys may be limited to the event types of these categories.
    sa.Column("categories", sa.JSON, nullable=True),
    sa.Column("created_by", sa.String(40), nullable=True),
    sa.Column("created_at", Micros, nullable=False),
    sa.Column("expires_at", Micros, nullable=True),
    sa.Column("revoked_at", Micros, nullable=True),
    sa.Column("last_used_at", Micros, nullable=True),
    # The key a roll made from this one (a key is rolled once).
    sa.Column("replaced_by", sa.String(40), nullable=True),
)

event_types = sa.Table(
    "event_types",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    # An account id, or "*" for the operator's catalog that every account sees.
    sa.Column("scope", sa.String(40), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("category", sa.String(200), nullable=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("schema", sa.JSON, nullable=True),
    sa.Column("archived", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", Micros, nullable=False),
    sa.Column("updated_at", Micros, nullable=False),
    sa.UniqueConstraint("scope", "name", name="uq_event_types_scope_name"),
)

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("account_id", sa.String(40), nullable=False),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("category", sa.String(200), nullable=True),
    sa.Column("event_types", sa.JSON, nullable=False),
    sa.Column("headers", sa.JSON, nullable=False),
    sa.Column("secret", sa.String(200), nullable=False),
    # Secrets replaced by a roll that still sign until they expire: [{"secret", "expiresAt"}].
    sa.Column("old_secrets", sa.JSON, nullable=True),
    sa.Column("ssl_verification_disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("disabled_reason", sa.String(40), nullable=True),
    # full | compact | raw
    sa.Column("format", sa.String(10), nullable=False, server_default="full"),
    # standard | hmac-sha256-hex
    sa.Column("signature_scheme", sa.String(20), nullable=False, server_default="standard"),
    # Basic auth for the receiver (besides user:password in the URL).
    sa.Column("username", sa.String(200), nullable=True),
    sa.Column("password", sa.String(500), nullable=True),
    # Delays between attempts, as written (["1m", "5m", ...]); None: the deployment's.
    sa.Column("retry_schedule", sa.JSON, nullable=True),
    # Deliveries per second, across every worker; None: unlimited.
    sa.Column("rate_limit", sa.Integer, nullable=True),
    # The next free send slot under the rate limit.
    sa.Column("rate_next_at", Micros, nullable=True),
    sa.Column("ordered", sa.Boolean, nullable=False, server_default=sa.false()),
    # Health: failures in a row, since when every attempt failed, and the circuit breaker.
    sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("failing_since", Micros, nullable=True),
    sa.Column("breaker_open_until", Micros, nullable=True),
    # Set while the webhook is a ``tidings listen`` connection (its stream delivers it, no
    # worker does): the listener's id.
    sa.Column("listener_id", sa.String(40), nullable=True),
    sa.Column("created_at", Micros, nullable=False),
    sa.Column("updated_at", Micros, nullable=False),
    sa.UniqueConstraint("account_id", "url", name="uq_webhooks_account_url"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("account_id", sa.String(40), nullable=False),
    sa.Column("event_type", sa.String(256), nullable=False),
    # The event data serialized once at publish; every delivery sends these bytes.
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=True),
    sa.Column("request_hash", sa.String(64), nullable=True),
    sa.Column("is_test", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", Micros, nullable=False),
    # The API request (log id) that published it.
    sa.Column("log_id", sa.String(36), nullable=True),
    # Where it came in, when not through POST /v1/events: a push to a source, or a pull run.
    sa.Column("source_id", sa.String(40), nullable=True),
    sa.Column("pull_id", sa.String(40), nullable=True),
    sa.UniqueConstraint("account_id", "idempotency_key", name="uq_events_idempotency"),
    sa.Index("ix_events_account_id", "account_id", "id"),
    sa.Index("ix_events_log_id", "log_id"),
    # Retention deletes by age.
    sa.Index("ix_events_created_at", "created_at"),
)

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("account_id", sa.String(40), nullable=False),
    sa.Column("event_id", sa.String(40), nullable=False, index=True),
    sa.Column("webhook_id", sa.String(40), nullable=False),
    sa.Column("event_type", sa.String(256), nullable=False),
    sa.Column("is_test", sa.Boolean, nullable=False, default=False),
    # pending -> succeeded | failed
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempt_count", sa.Integer, nullable=False, default=0),
    # Position in the retry schedule; a resend starts it again.
    sa.Column("retry_index", sa.Integer, nullable=False, default=0),
    # When a pending notification is next due. Claiming pushes it forward by the lease, so a
    # crashed worker's notifications fall due again by themselves.
    sa.Column("next_attempt_at", Micros, nullable=True),
    # The worker holding the lease (None: not claimed). With next_attempt_at still in the
    # future this counts against the webhook's concurrency, across every worker.
    sa.Column("leased_by", sa.String(40), nullable=True),
    sa.Column("last_attempt_at", Micros, nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", Micros, nullable=False),
    sa.Column("updated_at", Micros, nullable=False),
    sa.Index("ix_notifications_account_id", "account_id", "id"),
    sa.Index("ix_notifications_webhook_id", "webhook_id", "id"),
    sa.Index(
        "ix_notifications_due",
        "next_attempt_at",
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    ),
    # Each webhook's pending rows in due order: a claim reaches a webhook's backlog without
    # reading past other webhooks' rows (store/queue/claim.py, _beyond_window).
    sa.Index(
        "ix_notifications_webhook_due",
        "webhook_id",
        "next_attempt_at",
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    ),
    sa.Index(
        "ix_notifications_leased",
        "webhook_id",
        sqlite_where=sa.text("leased_by IS NOT NULL"),
        postgresql_where=sa.text("leased_by IS NOT NULL"),
    ),
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("notification_id", sa.String(40), nullable=False),
    sa.Column("account_id", sa.String(40), nullable=False),
    sa.Column("webhook_id", sa.String(40), nullable=False),
    sa.Column("attempted_at", Micros, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("response_body", sa.Text, nullable=True),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Index("ix_attempts_notification_id", "notification_id", "attempted_at"),
    sa.Index("ix_attempts_attempted_at", "attempted_at"),
)

logs = sa.Table(
    "logs",
    metadata,
    # A UUID (version 7, so ids sort by time), also sent back as X-Request-Id.
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("account_id", sa.String(40), nullable=True),
    sa.Column("key_id", sa.String(40), nullable=True),
    sa.Column("created_at", Micros, nullable=False),
    # normal: an API call; sync: a pull run.
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("path", sa.String(2048), nullable=False),
    sa.Column("query", sa.Text, nullable=True),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("client_ip", sa.String(64), nullable=True),
    sa.Column("request_headers", sa.JSON, nullable=True),
    sa.Column("request_body", sa.Text, nullable=True),
    sa.Column("response_body", sa.Text, nullable=True),
    sa.Column("event_ids", sa.JSON, nullable=True),
    # The dashboard user behind the request (migration 0007); None for an API key's call.
    sa.Column("user_id", sa.String(40), nullable=True),
    sa.Index("ix_logs_account_id", "account_id", "id"),
    sa.Index("ix_logs_created_at", "created_at"),
)


# --- Push and Pull (migration 0006) -----------------------------------------------------------

# An inbound endpoint partners push to (POST /in/{id}).
sources = sa.Table(
    "sources",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("account_id", sa.String(40), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("category", sa.String(200), nullable=True),
    # The type a push becomes, unless event_type_pointer finds one in the body.
    sa.Column("event_type", sa.String(256), nullable=False),
    sa.Column("event_type_pointer", sa.String(512), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("auth_type", sa.String(20), nullable=False),
    sa.Column("signature_scheme", sa.String(20), nullable=True),
    sa.Column("username", sa.String(200), nullable=True),
    # argon2 hash of the basic-auth password; never the password.
    sa.Column("password_hash", sa.String(200), nullable=True),
    # The live keys (hashed) or secrets (encrypted), newest first, each with its expiry
    # (null: until rolled) and last four characters: [{"value", "last4", "expiresAt"}].
    sa.Column("credentials", sa.JSON, nullable=False),
    sa.Column("created_at", Micros, nullable=False),
    sa.Column("updated_at", Micros, nullable=False),
    sa.Index("ix_sources_account_id", "account_id", "id"),
)

# A scheduled fetch of a partner's URL.
pulls = sa.Table(
    "pulls",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("account_id", sa.String(40), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("category", sa.String(200), nullable=True),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("username", sa.String(200), nullable=True),
    # Encrypted with the master key, like webhook secrets.
    sa.Column("password", sa.String(500), nullable=True),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("frequency", sa.String(200), nullable=False),
    sa.Column("schedule", sa.String(64), nullable=True),
    sa.Column("event_type", sa.String(256), nullable=False),
    sa.Column("records_pointer", sa.String(512), nullable=True),
    sa.Column("id_pointer", sa.String(512), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("disabled_reason", sa.String(40), nullable=True),
    sa.Column("next_run_at", Micros, nullable=True),
    # A run in progress: which process holds it, and until when (then another takes over).
    sa.Column("leased_by", sa.String(40), nullable=True),
    sa.Column("lease_until", Micros, nullable=True),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
    # The first page's ETag, sent back as If-None-Match.
    sa.Column("etag", sa.String(500), nullable=True),
    sa.Column("last_run_at", Micros, nullable=True),
    sa.Column("created_at", Micros, nullable=False),
    sa.Column("updated_at", Micros, nullable=False),
    sa.Index("ix_pulls_account_id", "account_id", "id"),
    sa.Index("ix_pulls_next_run_at", "next_run_at"),
)

pull_runs = sa.Table(
    "pull_runs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("pull_id", sa.String(40), nullable=False),
    sa.Column("account_id", sa.String(40), nullable=False),
    sa.Column("started_at", Micros, nullable=False),
    sa.Column("finished_at", Micros, nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("http_status", sa.Integer, nullable=True),
    sa.Column("records_seen", sa.Integer, nullable=False, server_default="0"),
    sa.Column("records_new", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("event_ids", sa.JSON, nullable=True),
    sa.Index("ix_pull_runs_pull_id", "pull_id", "id"),
)

# The records a pull has made events of, by id: each becomes an event once.
pull_seen = sa.Table(
    "pull_seen",
    metadata,
    sa.Column("pull_id", sa.String(40), primary_key=True),
    sa.Column("record_id", sa.String(512), primary_key=True),
    sa.Column("seen_at", Micros, nullable=False),
)


# --- Dashboard users and sessions (migration 0007) --------------------------------------------

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    # NULL for operator users, who pick the account they act for.
    sa.Column("account_id", sa.String(40), nullable=True, index=True),
    # Lower-cased: one user per address.
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    # argon2; NULL until the invite is accepted.
    sa.Column("password_hash", sa.String(200), nullable=True),
    # The TOTP seed, encrypted with the master key; enrolled once totp_enabled_at is set.
    sa.Column("totp_secret", sa.String(500), nullable=True),
    sa.Column("totp_enabled_at", Micros, nullable=True),
    # The last TOTP time step accepted: a code of that step or before is refused (replay).
    sa.Column("totp_last_step", sa.BigInteger, nullable=True),
    # SHA-256 of each unused recovery code.
    sa.Column("recovery_codes", sa.JSON, nullable=True),
    # Like a restricted key's; NULL: every permission on its account.
    sa.Column("permissions", sa.JSON, nullable=True),
    sa.Column("created_at", Micros, nullable=False),
    sa.Column("updated_at", Micros, nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    # SHA-256 of the cookie's token: the token itself is never stored.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    # user | portal
    sa.Column("kind", sa.String(20), nullable=False),
    # NULL for a portal session (no user signed in: the operator's product vouched).
    sa.Column("user_id", sa.String(40), nullable=True, index=True),
    # The account it acts for (an operator user's pick; NULL until picked).
    sa.Column("account_id", sa.String(40), nullable=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    # When the second factor was last given (sign-in or step-up); NULL: not yet.
    sa.Column("verified_at", Micros, nullable=True),
    sa.Column("created_at", Micros, nullable=False),
    sa.Column("last_seen_at", Micros, nullable=False),
)

invites = sa.Table(
    "invites",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("user_id", sa.String(40), nullable=False, index=True),
    sa.Column("created_at", Micros, nullable=False),
    sa.Column("expires_at", Micros, nullable=False),
    sa.Column("used_at", Micros, nullable=True),
)

portal_links = sa.Table(
    "portal_links",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("account_id", sa.String(40), nullable=False),
    sa.Column("created_by", sa.String(40), nullable=True),
    sa.Column("created_at", Micros, nullable=False),
    sa.Column("expires_at", Micros, nullable=False),
    sa.Column("used_at", Micros, nullable=True),
)

# Failed sign-ins (and wrong codes), by what they were for ("email:…", "user:…"): the count
# in the last 15 minutes limits guessing.
login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("subject", sa.String(400), nullable=False),
    sa.Column("at", Micros, nullable=False),
    sa.Index("ix_login_failures_subject", "subject", "at"),
)
