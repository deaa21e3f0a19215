"""The keyed card hash: how a card is known on a kiosk and on the wire.

A kiosk never stores a card's raw UID (DESIGN.md: minimum data on a kiosk). Both sides compute
``HMAC-SHA256(site key, UID as upper-case hex)`` and keep the first 32 hex digits, which is what
:data:`lockers.wire.messages.CardHash` validates.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from lockers.errors import LockersError

_HEX = re.compile(r"^[0-9A-F]+$")
# A "0x" prefix on the whole UID or on each byte ("0x04 0xA1 ..."), as programmers' tools and
# some card printers write it; only at the start or after a separator, never inside the digits.
_PREFIX = re.compile(r"(^|[\s:\-,])0[xX]")
_SEPARATORS = re.compile(r"[\s:\-,]")


class CardUidError(LockersError, ValueError):
    """A card UID that is not hex (an enrolment typo or a misread card)."""


def normalise_uid(uid: str | bytes) -> str:
    """Upper-case hex of a UID given as bytes or as hex text in any of the usual forms:
    colons, spaces or dashes between bytes, lower case, a ``0x`` prefix, or bare."""
    if isinstance(uid, bytes | bytearray):
        return bytes(uid).hex().upper()
    text = _SEPARATORS.sub("", _PREFIX.sub(r"\1", uid.strip())).upper()
    if not text or len(text) % 2 or not _HEX.match(text):
        raise CardUidError(f"card id {uid!r} is not a hex UID (e.g. 04A1B2C3D4E5F6)")
    return text


def card_hash(site_key: bytes | str, uid: str | bytes) -> str:
    """The 32-hex-digit keyed hash of a card UID for one site."""
    key = site_key.encode() if isinstance(site_key, str) else site_key
    digest = hmac.new(key, normalise_uid(uid).encode("ascii"), hashlib.sha256).hexdigest()
    return digest[:32]
