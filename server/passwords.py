"""Password and PIN hashing: argon2id for web passwords, PBKDF2 for kiosk PINs.

Kiosk PINs use ``pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>`` because a kiosk must check
them offline with nothing but hashlib (the wire's ``PinHash``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
PIN_ITERATIONS = 100_000


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    if len(password) < 8:
        from server.errors import NotAllowed

        raise NotAllowed("a password needs at least 8 characters")
    return _hasher.hash(password)


def check_password(stored: str, password: str) -> bool:
    """True if ``password`` matches the stored argon2 hash."""
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def hash_pin(pin: str, iterations: int = PIN_ITERATIONS) -> str:
    """A PBKDF2-SHA256 hash of a kiosk PIN in the wire's format."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def check_pin(stored: str, pin: str) -> bool:
    """True if ``pin`` matches ``stored`` (constant-time compare)."""
    _, iterations, salt, digest = stored.split("$")
    got = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt), int(iterations))
    return hmac.compare_digest(got.hex(), digest)
