"""A fuzz pass over every topic with the published JSON Schema as the oracle: nothing the
schema refuses is accepted (or applied by the server), nothing it accepts is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from lockers.wire import topics as t
from lockers.wire.codec import decode
from lockers.wire.errors import WireError
from server.models import Event
from tests.hardening_payloads import mutations, oracle
from tests.server_kit import server_and_kiosk, wait_until


@pytest.mark.parametrize("channel", t.CHANNELS, ids=lambda ch: ch.name)
def test_the_decoder_accepts_exactly_what_the_published_schema_accepts(
        channel: t.Channel) -> None:
    schema = oracle(channel)
    verdicts = {True: 0, False: 0}
    for payload in mutations(channel, 600, seed=14):
        try:
            decode(channel, payload)
            accepted = True
        except WireError:
            accepted = False
        assert accepted == schema.is_valid(json.loads(payload)), payload
        verdicts[accepted] += 1
    assert verdicts[True] and verdicts[False]  # the pass saw both kinds


@pytest.mark.usefixtures("each_database")
def test_fuzzed_events_reach_the_records_exactly_when_the_schema_accepts_them(
        tmp_path: Path, broker_factory: Any) -> None:
    schema = oracle(t.EVENTS)
    payloads = []
    valid_seq = 0
    for payload in mutations(t.EVENTS, 150, seed=7):
        doc = json.loads(payload)
        if schema.is_valid(doc):
            # Each valid event gets the kiosk's next number: the server applies a kiosk's
            # events in its own order and would (rightly) wait for any number skipped.
            valid_seq += 1
            doc["seq"] = valid_seq
        payloads.append(json.dumps(doc).encode())
    accepted = [json.loads(p) for p in payloads if schema.is_valid(json.loads(p))]
    refused = len(payloads) - len(accepted)
    with server_and_kiosk(tmp_path, broker_factory) as (rt, kiosk):
        for payload in payloads:
            kiosk.publish_raw(t.EVENTS, payload)
        wait_until(lambda: rt.ingest.stats.bad_payloads == refused
                   and rt.ingest.stats.applied + rt.ingest.stats.duplicates == len(accepted),
                   10, f"{refused} refused and {len(accepted)} applied")
        with rt.store.read() as s:
            stored = set(s.scalars(select(Event.seq)))
            assert s.scalar(select(func.count()).select_from(Event)) == len(stored)
    assert stored == {doc["seq"] for doc in accepted}
    assert accepted and refused
