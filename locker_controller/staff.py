"""Staff at the kiosk: a staff card plus a PIN opens staff mode for a few minutes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PIN_ITERATIONS = 200_000
MAX_FAILURES = 3
LOCKOUT_S = 60.0
SESSION_S = 120.0
PENDING_S = 30.0


def hash_pin(pin: str, iterations: int = PIN_ITERATIONS) -> str:
    """``pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>``: checkable with hashlib alone."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def pin_matches(pin: str, encoded: str) -> bool:
    """Whether ``pin`` matches a :func:`hash_pin` string (constant-time compare)."""
    try:
        scheme, iterations, salt, expected = encoded.split("$")
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256":
        return False
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt), int(iterations))
    return hmac.compare_digest(digest.hex(), expected)


@dataclass
class StaffSession:
    """Who is signed in at the kiosk, and what they are waiting for."""

    pending_card: str | None = None  # a staff card tapped, PIN not yet given
    pending_until: float = 0.0
    staff_ref: str | None = None
    until: float = 0.0
    failures: int = 0
    locked_until: float = 0.0
    enrol_pupil: str | None = None  # the next unknown card tapped is enrolled to this pupil

    def active(self, now: float) -> str | None:
        """The signed-in staff member, if the session has not expired."""
        if self.staff_ref is not None and now > self.until:
            self.staff_ref, self.enrol_pupil = None, None
        return self.staff_ref

    def pending(self, now: float) -> str | None:
        """The staff card waiting for its PIN, if it has not expired."""
        if self.pending_card is not None and now > self.pending_until:
            self.pending_card = None
        return self.pending_card
