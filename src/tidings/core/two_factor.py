"""Two-step verification: TOTP (RFC 6238, 30 s steps, six digits) with pyotp, recovery codes,
and the QR code an authenticator app scans, drawn as inline SVG."""

from __future__ import annotations

import hashlib
import io
import secrets

import pyotp
import segno

STEP_SECONDS = 30
# A code of the step before or after also passes: clocks drift.
WINDOW = 1
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def new_seed() -> str:
    return pyotp.random_base32()


def provisioning_uri(seed: str, email: str, issuer: str) -> str:
    return pyotp.TOTP(seed).provisioning_uri(name=email, issuer_name=issuer)


def matching_step(seed: str, code: str, now_seconds: float) -> int | None:
    """The time step whose code ``code`` is (within the window), or None. The caller refuses
    a step already used, so that a code works once."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(seed)
    current = int(now_seconds // STEP_SECONDS)
    for step in range(current - WINDOW, current + WINDOW + 1):
        if secrets.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten codes of 10 characters (about 50 bits each), written xxxxx-xxxxx."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def hash_recovery_code(code: str) -> str:
    normal = code.strip().lower().replace("-", "").replace(" ", "")
    return hashlib.sha256(normal.encode()).hexdigest()


def qr_svg(uri: str) -> str:
    """The URI as an SVG QR code, to inline in a page (no image request, no script)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(
        out, kind="svg", scale=5, border=2, xmldecl=False, svgns=True, title="QR code"
    )
    return out.getvalue().decode()
