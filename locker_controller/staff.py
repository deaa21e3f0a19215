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


def hash_pin(pin: str, n: int = 2**15, r: int = 8, p: int = 1) -> str:
    """``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>``: memory-hard (32 MiB at the default
    cost), so a stolen kiosk's replica is slow to brute force even on GPUs, and checkable
    with hashlib alone in about 0.2-0.5 s on a Pi."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p,
                            maxmem=128 * r * n + 2**20, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def pin_matches(pin: str, encoded: str) -> bool:
    """Whether ``pin`` matches a :func:`hash_pin` string (constant-time compare). A cost
    beyond what a Pi can afford (over 128 MiB) is refused rather than tried."""
    try:
        scheme, n_text, r_text, p_text, salt, expected = encoded.split("$")
        n, r, p = int(n_text), int(r_text), int(p_text)
    except ValueError:
        return False
    if scheme != "scrypt" or not (1 < n <= 2**17 and 1 <= r <= 16 and 1 <= p <= 4):
        return False
    try:
        digest = hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt), n=n, r=r, p=p,
                                maxmem=128 * r * n + 2**20, dklen=len(expected) // 2)
    except ValueError:  # n not a power of two, or the hash text is not hex
        return False
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
