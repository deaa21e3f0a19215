"""The wire contract: the documented examples, the generated schemas, and bad payloads."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import get_args

import pytest

from lockers import wire
from lockers.wire import messages as m
from lockers.wire import schema
from lockers.wire import topics as t
from lockers.wire.codec import adapter

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "protocol.md"
EXAMPLE = re.compile(r"<!-- example: (\w+) -->\n```json\n(.*?)\n```", re.S)


def doc_examples() -> list[tuple[str, str]]:
    return EXAMPLE.findall(DOC.read_text(encoding="utf-8"))


def test_every_documented_example_validates_and_round_trips() -> None:
    examples = doc_examples()
    assert len(examples) >= 16
    by_name = {c.name: c for c in t.CHANNELS}
    for channel_name, text in examples:
        channel = by_name[channel_name]
        message = wire.decode(channel, text)
        again = wire.decode(channel, wire.encode(message))
        assert again == message
        assert json.loads(wire.encode(message)) == json.loads(text), channel_name
        assert wire.channel_of(message) is channel


def test_every_channel_and_event_type_has_a_documented_example() -> None:
    examples = doc_examples()
    assert {name for name, _ in examples} == {c.name for c in t.CHANNELS}
    event_types = {json.loads(text)["type"] for name, text in examples if name == "events"}
    union = get_args(get_args(m.Event)[0])
    assert event_types == {cls.model_fields["type"].default for cls in union}


def test_every_channel_is_in_the_documented_topic_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    for channel in t.CHANNELS:
        assert f"`lockers/v1/<site>/<kiosk>/{channel.suffix}`" in text


def test_committed_schemas_match_the_code() -> None:
    for name, text in schema.render_all().items():
        committed = ROOT / "docs" / "schemas" / name
        assert committed.read_text(encoding="utf-8") == text, (
            f"{committed} is stale: run `lockers protocol schemas`"
        )


def test_topics_are_built_and_parsed_by_the_same_table() -> None:
    for channel in t.CHANNELS:
        topic = t.topic(channel, "school1", "k1")
        parsed = t.parse(topic)
        assert (parsed.site, parsed.kiosk, parsed.channel) == ("school1", "k1", channel)
    assert t.filter_all_kiosks(t.EVENTS) == "lockers/v1/+/+/events"
    assert t.shared(t.filter_all_kiosks(t.EVENTS), "g") == "$share/g/lockers/v1/+/+/events"


@pytest.mark.parametrize("bad", [
    "lockers/v2/school1/k1/events", "lockers/v1/school1/k1/nonsense",
    "lockers/v1/School!/k1/events", "other/v1/school1/k1/events", "lockers/v1/school1",
])
def test_a_topic_outside_the_tree_is_refused(bad: str) -> None:
    with pytest.raises(wire.WireError):
        t.parse(bad)


def test_an_id_that_cannot_be_a_topic_level_is_refused_with_advice() -> None:
    with pytest.raises(wire.WireError, match="lower-case letters"):
        t.topic(t.EVENTS, "school/1", "k1")


GOOD_TAP = {
    "v": 1, "kiosk": "k1", "site": "school1", "seq": 5, "at": "2026-11-23T08:21:04Z",
    "type": "tap", "reader": "arrival", "card": "3f1c2a9be0d84c7a91b2c3d4e5f60718",
    "outcome": "deposit_opened", "slot": 3, "pupil_ref": "P1",
}


@pytest.mark.parametrize("payload, reason", [
    (b"\xff\xfe", "not UTF-8"),
    (b"{not json", "not JSON"),
    (b"[]", "invalid"),
    (json.dumps({**GOOD_TAP, "v": 2}).encode(), "protocol v2"),
    (json.dumps({**GOOD_TAP, "seq": 0}).encode(), "seq"),
    (json.dumps({**GOOD_TAP, "type": "teleport"}).encode(), "invalid"),
    (json.dumps({**GOOD_TAP, "surname": "Smith"}).encode(), "surname"),
    (json.dumps({**GOOD_TAP, "at": "2026-11-23T08:21:04"}).encode(), "at"),
    (json.dumps({**GOOD_TAP, "card": "04A1B2C3D4"}).encode(), "card"),
    (b"{" + b" " * 1_000_001 + b"}", "too large"),
])
def test_a_malformed_event_raises_one_clear_error(payload: bytes, reason: str) -> None:
    with pytest.raises(wire.WireError, match=reason) as info:
        wire.decode(t.EVENTS, payload)
    assert "\n" not in str(info.value)


def test_a_payload_naming_another_kiosk_than_its_topic_is_refused() -> None:
    wire.decode_topic(t.topic(t.EVENTS, "school1", "k1"), json.dumps(GOOD_TAP))
    with pytest.raises(wire.WireError, match="arrived on school1/k2"):
        wire.decode_topic(t.topic(t.EVENTS, "school1", "k2"), json.dumps(GOOD_TAP))


def test_every_channel_has_a_schema_and_the_asyncapi_lists_them_all() -> None:
    for channel in t.CHANNELS:
        assert adapter(channel).json_schema()
    api = schema.asyncapi()
    assert api["asyncapi"].startswith("3.")
    assert set(api["channels"]) == {c.name for c in t.CHANNELS}
