"""Password and PIN hashing: argon2id for web passwords, scrypt for kiosk PINs, and the rules
a new password or PIN must meet.

Kiosk PINs use ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`` (the wire's ``PinHash``): a kiosk
checks them offline with hashlib alone, and scrypt's 32 MiB per guess makes a stolen kiosk's
replica slow to brute force even on GPUs (bench/hardening.py measures a check). PINs have at
least six digits: a million guesses instead of ten thousand.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from server.errors import NotAllowed

_hasher = PasswordHasher()
# Checked when a user name is unknown, so "no such user" takes as long as "wrong password".
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
PASSWORD_MIN_LENGTH = 10
PASSWORD_MIN_SCORE = 2  # zxcvbn: 0 too guessable ... 4 very unguessable
PIN_MIN_DIGITS = 6
PIN_COST = (2**15, 8, 1)  # scrypt n, r, p: 32 MiB and ~0.2 s per check here


def check_password_rule(password: str, *context: str) -> None:
    """Refuse a short or guessable password (common passwords, words, the user's own name:
    zxcvbn's lists and estimate) with a reason the person can act on."""
    from zxcvbn import zxcvbn

    if len(password) < PASSWORD_MIN_LENGTH:
        raise NotAllowed(f"a password needs at least {PASSWORD_MIN_LENGTH} characters")
    verdict = zxcvbn(password[:100], user_inputs=[c for c in context if c])
    if verdict["score"] < PASSWORD_MIN_SCORE:
        hint = verdict["feedback"].get("warning") or "it is too easy to guess"
        raise NotAllowed(f"choose a less guessable password: {hint}; a few unrelated words "
                         "make a good one")


def hash_password(password: str, *context: str) -> str:
    """An argon2id hash of ``password``, once it meets :func:`check_password_rule`."""
    check_password_rule(password, *context)
    return _hasher.hash(password)


def check_password(stored: str | None, password: str) -> bool:
    """True if ``password`` matches the stored argon2 hash. With ``stored`` None (no such
    account) a dummy hash is checked so the answer takes the same time."""
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def check_pin_rule(pin: str) -> None:
    """Refuse a kiosk PIN that is not all digits or shorter than :data:`PIN_MIN_DIGITS`."""
    if not (pin.isdigit() and len(pin) >= PIN_MIN_DIGITS):
        raise NotAllowed(f"a kiosk PIN needs at least {PIN_MIN_DIGITS} digits")
    if len(set(pin)) == 1 or pin in "01234567890" or pin in "09876543210":
        raise NotAllowed("choose a PIN that is not one digit repeated or a run like 123456")


def hash_pin(pin: str, cost: tuple[int, int, int] = PIN_COST) -> str:
    """A scrypt hash of a kiosk PIN in the wire's format."""
    n, r, p = cost
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p,
                            maxmem=128 * r * n + 2**20, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def check_pin(stored: str, pin: str) -> bool:
    """True if ``pin`` matches ``stored`` (constant-time compare)."""
    scheme, n, r, p, salt, expected = stored.split("$")
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                            p=int(p), maxmem=128 * int(r) * int(n) + 2**20, dklen=32)
    return hmac.compare_digest(digest.hex(), expected)
