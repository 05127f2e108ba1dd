"""Redaction of secrets before anything reaches the API log: keys, webhook secrets, passwords
and header values, in JSON bodies, in plain text, in query strings and in request headers.

Redaction errs on the side of hiding: a value under a secret-sounding name, every value of a
``headers`` object and anything shaped like a Tidings key or secret is replaced, whatever
the endpoint. A recognised key keeps its prefix and last four characters, as the API shows
keys, so a reader can still tell which one was used.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote

import orjson

from tidings.core.masking import MASK, mask_url

REDACTED = "[REDACTED]"
# Stored bodies are cut to this many bytes, after redaction (a cut must not expose a secret).
BODY_LIMIT = 16 * 1024

# Names compared lower-case with '-' and '_' removed: "API_KEY", "apiKey", "x-api-key" alike.
_SECRET_NAMES = frozenset(
    {
        "key",
        "secret",
        "password",
        "passwd",
        "pwd",
        "token",
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
        "credentials",
        "otp",
    }
)
_SECRET_SUFFIXES = ("secret", "password", "passwd", "token", "apikey", "privatekey", "accesskey")
# Whatever else they hold, these request headers carry credentials and are never kept.
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "cookie", "set-cookie"}
)

# Tidings keys (operator, secret, restricted, publishable) and webhook signing secrets.
_TOKEN = re.compile(r"(?<![A-Za-z0-9])(sk_|rk_|pk_|op_|whsec_)([A-Za-z0-9+/=_-]{8,})")
# user:password@ in any URL-like text.
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s@\"'<>:]+)(:[^/\s@\"'<>]*)?@")
# `name: value` / `name=value` pairs in non-JSON text (form bodies, broken JSON, messages).
_NAMED_VALUE = re.compile(
    r"""(?ix)
    (["']?\b(?:[\w-]*(?:secret|password|passwd|token|api[_-]?key|authorization)|key|pwd)\b["']?
     \s*[:=]\s*)
    ("(?:[^"\\]|\\.)*"?|'[^']*'?|[^\s,&;}\]]+)
    """
)
_AUTH_SCHEME = re.compile(r"(?i)\b(bearer|basic|digest)\s+[A-Za-z0-9._~+/=-]{8,}")


def is_secret_name(name: str) -> bool:
    normal = name.lower().replace("-", "").replace("_", "")
    return normal in _SECRET_NAMES or normal.endswith(_SECRET_SUFFIXES)


def _mask_token(match: re.Match[str]) -> str:
    return f"{match.group(1)}{MASK}{match.group(2)[-4:]}"


def _mask_userinfo(match: re.Match[str]) -> str:
    # The shape mask_url gives: ****@ for a user, ****:****@ for a user and a password.
    return match.group(1) + MASK + (":" + MASK if match.group(3) is not None else "") + "@"


def redact_text(text: str) -> str:
    """Secrets in free text: key-shaped tokens, URL credentials, ``name=value`` pairs."""
    # Each pattern needs a character most values lack: skip the regex when it is absent.
    if "_" in text:
        text = _TOKEN.sub(_mask_token, text)
    if "://" in text:
        text = _URL_CREDENTIALS.sub(_mask_userinfo, text)
    if " " in text or "\t" in text:
        text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    if ":" in text or "=" in text:
        text = _NAMED_VALUE.sub(lambda m: m.group(1) + _quoted_redacted(m.group(2)), text)
    return text


def _quoted_redacted(value: str) -> str:
    quote_char = value[:1] if value[:1] in ("'", '"') else ""
    return f"{quote_char}{REDACTED}{quote_char}"


def _redact_string(value: str) -> str:
    if "://" in value:
        # Not a parseable URL: the text patterns below still apply.
        with contextlib.suppress(ValueError):
            value = mask_url(value)
    return redact_text(value)


def redact_json(value: Any) -> Any:
    """A copy of parsed JSON with every secret replaced."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = redact_text(key)  # a key can be a name: {"sk_…": …}
            if is_secret_name(key):
                out[name] = _redact_secret(item)
            elif key.lower() == "headers" and isinstance(item, dict):
                # Custom webhook headers exist to carry credentials: keep only their names.
                out[name] = dict.fromkeys(item, REDACTED)
            else:
                out[name] = redact_json(item)
        return out
    if isinstance(value, list):
        return [redact_json(item) for item in value]
    if isinstance(value, str):
        return _redact_string(value)
    return value


def _redact_secret(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value  # no secret in it, and "is one set?" stays readable
    if isinstance(value, str):
        masked = _TOKEN.sub(_mask_token, value)
        return masked if masked != value and _TOKEN.fullmatch(value) else REDACTED
    return REDACTED


def redact_body(body: bytes) -> str | None:
    """A request or response body as it may be stored: redacted, then cut to 16 KiB."""
    if not body:
        return None
    text = _redact_json_text(body)
    if text is None:
        text = redact_text(body.decode("utf-8", errors="replace"))
    return truncate(clean(text))


def _redact_json_text(body: bytes) -> str | None:
    if body.lstrip()[:1] not in (b"{", b"["):
        return None
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:  # integers beyond 64 bits, NaN: what the standard library still reads
            parsed = json.loads(body)
        except (ValueError, RecursionError):
            return None
    try:
        redacted = redact_json(parsed)
    except RecursionError:
        return None
    try:
        return orjson.dumps(redacted).decode()
    except TypeError:
        return json.dumps(redacted, ensure_ascii=False, separators=(",", ":"))


def redact_query(query: str) -> str | None:
    """A query string with secret-named parameters and secret-shaped values redacted."""
    if not query:
        return None
    pairs = parse_qsl(query, keep_blank_values=True)
    safe = "[]*:/,@$!'()~"
    return "&".join(
        f"{quote(redact_text(name), safe=safe)}="
        + quote(REDACTED if is_secret_name(name) else _redact_string(value), safe=safe)
        for name, value in pairs
    )


def redact_headers(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Request headers by lower-case name; credentials replaced, other values scanned."""
    out: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in _SECRET_HEADERS or is_secret_name(name):
            value = _redact_credential(value)
        else:
            value = redact_text(value)
        out[name] = clean(f"{out[name]}, {value}" if name in out else value)
    return out


def _redact_credential(value: str) -> str:
    """``Bearer sk_****abcd``: the scheme and a recognised key's masked form stay readable."""
    parts = value.split()
    scheme = parts[0] + " " if len(parts) == 2 and parts[0].isalpha() else ""
    credential = parts[-1] if len(parts) in (1, 2) else ""
    if _TOKEN.fullmatch(credential):
        return scheme + _TOKEN.sub(_mask_token, credential)
    return scheme + REDACTED


def clean(text: str) -> str:
    """PostgreSQL text refuses NUL; the log keeps a visible stand-in instead."""
    return text.replace("\x00", "\ufffd")


def truncate(text: str, limit: int = BODY_LIMIT) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    # Cut on a character boundary.
    return data[:limit].decode("utf-8", errors="ignore")
