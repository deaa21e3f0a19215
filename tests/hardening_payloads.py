"""Payloads for the fault and attack suite: a valid example of every channel's message, and
mutations of them, judged by the published JSON Schemas (docs/schemas) as the oracle.

Shared by tests/test_hardening_fuzz.py and bench/hardening.py so the figures the bench
prints come from the same payloads the tests check.
"""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import jsonschema_rs

from lockers.wire import messages as m
from lockers.wire import topics as t
from lockers.wire.codec import encode

SCHEMAS = Path(__file__).resolve().parent.parent / "docs" / "schemas"
AT = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
CARD = "0123456789abcdef0123456789abcdef"
PIN = "scrypt$32768$8$1$00112233445566778899aabbccddeeff$" + "ab" * 32

# Values that are wrong in some way for most fields. No whole-number floats: JSON Schema
# counts 3.0 as an integer, the strict decoder does not (an integer is sent as one).
POOL: list[Any] = ["1", "true", 2.5, True, False, None, [], {}, [1, [2]], -1, 0, 10**12,
                   "", "K1!", "x" * 600, "2026-11-23T08:00:00", "2026-11-23T08:00:00Z",
                   {"nested": {"deeper": [1]}}]


def examples(site: str = "north", kiosk: str = "k1") -> dict[str, Any]:
    """A valid message of every channel, for one kiosk."""
    card = m.CardEntry(card=CARD, pupil_ref="A001", first_name="Amira", slot=2)
    staff = m.StaffEntry(card=CARD.replace("0", "f"), staff_ref="office1", pin_hash=PIN)
    return {
        t.STATUS.name: m.KioskStatus(kiosk=kiosk, site=site, state="online", reason="birth",
                                     at=AT, outbox_pending=0),
        t.SLOTS.name: m.SlotSnapshot(kiosk=kiosk, site=site, at=AT, slots=[
            m.SlotView(slot=1, state=m.SlotState.FREE),
            m.SlotView(slot=2, state=m.SlotState.OCCUPIED, pupil_ref="A001")]),
        t.EVENTS.name: m.DepositEvent(kiosk=kiosk, site=site, seq=1, at=AT, slot=3,
                                      pupil_ref="A002"),
        t.EVENT_ACKS.name: m.EventAck(kiosk=kiosk, seqs=[1, 2], at=AT),
        t.POLICY.name: m.PolicySnapshot(
            kiosk=kiosk, site=site, version=1, generated_at=AT, settings=m.KioskSettings(),
            days=[m.ReleaseDay(day=AT.date(), school_day=True, release_opens=time(15, 10),
                               release_closes=time(16, 30))], cards=[card], staff=[staff]),
        t.POLICY_UPDATES.name: m.PolicyUpdate(kiosk=kiosk, site=site, version=2,
                                              base_version=1, generated_at=AT,
                                              upsert_cards=[card]),
        t.COMMANDS.name: m.Command(id="cmd-12345678", kiosk=kiosk, kind=m.CommandKind.RESYNC,
                                   actor="office1", reason="test", issued_at=AT,
                                   expires_at=AT),
        t.COMMAND_ACKS.name: m.CommandAck(command_id="cmd-12345678", kiosk=kiosk, at=AT,
                                          outcome=m.CommandOutcome.DONE),
    }


def oracle(channel: t.Channel) -> Any:
    """The published JSON Schema of ``channel``, formats checked (date-time with an offset)."""
    schema = json.loads((SCHEMAS / f"{channel.name}.schema.json").read_text())
    return jsonschema_rs.validator_for(schema, validate_formats=True)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


# Fields that name the kiosk or tell event kinds apart: changing them tests the topic check
# and the discriminator (covered by their own tests), not the schema's field types.
FIXED = {"kiosk", "site", "type"}


def mutate(base: dict[str, Any], rng: random.Random) -> dict[str, Any] | list[Any] | Any:
    """One mutation of ``base``: a field replaced, removed or added, or the whole payload
    swapped for a wrong-shaped value."""
    doc = copy.deepcopy(base)
    paths = [p for p in _paths(doc) if not (set(p) & FIXED)]
    kind = rng.random()
    if kind < 0.05:
        return rng.choice(POOL)
    if kind < 0.15:
        doc[rng.choice(["extra", "admin", "__proto__"])] = rng.choice(POOL)
        return doc
    path = rng.choice(paths)
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if kind < 0.3 and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = rng.choice(POOL)
    return doc


def mutations(channel: t.Channel, count: int, seed: int) -> list[bytes]:
    """``count`` mutated payloads of ``channel``'s example (reproducible from ``seed``)."""
    rng = random.Random(seed)
    base = json.loads(encode(examples()[channel.name]))
    return [json.dumps(mutate(base, rng)).encode() for _ in range(count)]
