"""The wire contract: the documented examples, the generated schemas, and bad payloads."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, get_args

import pytest
from jsonschema import Draft202012Validator
from polyfactory.factories.pydantic_factory import ModelFactory

from lockers import wire
from lockers.wire import messages as m
from lockers.wire import schema
from lockers.wire import topics as t
from lockers.wire.codec import MODELS, adapter

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "protocol.md"
SCHEMAS = ROOT / "docs" / "schemas"
ASYNCAPI_CHECK = ROOT / "tools" / "asyncapi" / "check.mjs"
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


def published_validator(channel: t.Channel) -> Draft202012Validator:
    """A validator for the committed JSON Schema of ``channel``, checking formats too."""
    published = json.loads((SCHEMAS / f"{channel.name}.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(published)
    return Draft202012Validator(published, format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_errors(channel: t.Channel, payload: Any) -> list[str]:
    """What the published JSON Schema of ``channel`` says is wrong with ``payload``."""
    return [f"{'/'.join(map(str, e.absolute_path)) or 'payload'}: {e.message}"
            for e in published_validator(channel).iter_errors(payload)]


def test_every_documented_example_matches_the_published_json_schema() -> None:
    by_name = {c.name: c for c in t.CHANNELS}
    for channel_name, text in doc_examples():
        assert schema_errors(by_name[channel_name], json.loads(text)) == [], channel_name


EVENT_TYPES = get_args(get_args(m.Event)[0])
MESSAGE_TYPES = [(c, MODELS[c.name]) for c in t.CHANNELS if c is not t.EVENTS] + [
    (t.EVENTS, event_type) for event_type in EVENT_TYPES
]


@pytest.mark.parametrize("optionals", ["filled", "absent"])
@pytest.mark.parametrize("channel, model", MESSAGE_TYPES,
                         ids=[model.__name__ for _, model in MESSAGE_TYPES])
def test_every_message_the_code_can_send_matches_the_published_json_schema(
    channel: t.Channel, model: type, optionals: str,
) -> None:
    # polyfactory builds valid instances from the models' own types and constraints, one for
    # each enum value and union member; what a kiosk or the server sends is encode() of one.
    factory = ModelFactory.create_factory(
        model, __allow_none_optionals__=optionals == "absent", __random_seed__=11)
    built = list(factory.coverage())
    assert built
    for message in built:
        payload = json.loads(wire.encode(message))
        assert schema_errors(channel, payload) == [], payload
        assert wire.decode(channel, wire.encode(message)) == message


@pytest.mark.parametrize("change, where", [
    ({"seq": 0}, "seq"),
    ({"type": "teleport"}, "payload"),
    ({"surname": "Smith"}, "payload"),
    ({"at": "2026-11-23T08:21:04"}, "at"),
    ({"card": "04A1B2C3D4"}, "card"),
    ({"kiosk": "K 1"}, "kiosk"),
])
def test_the_published_json_schema_refuses_what_the_receiver_refuses(
    change: dict[str, Any], where: str,
) -> None:
    bad = {**GOOD_TAP, **change}
    with pytest.raises(wire.WireError):
        wire.decode(t.EVENTS, json.dumps(bad))
    errors = schema_errors(t.EVENTS, bad)
    assert errors, f"the published schema accepts {bad}"
    assert schema_errors(t.EVENTS, GOOD_TAP) == []


def test_policy_release_times_are_local_wall_clock_times_in_the_schema() -> None:
    snapshot = json.loads(next(text for name, text in doc_examples() if name == "policy"))
    day = next(d for d in snapshot["days"] if d.get("release_opens"))
    assert schema_errors(t.POLICY, snapshot) == []
    day["release_opens"] = "25:10:00"
    assert any("release_opens" in e for e in schema_errors(t.POLICY, snapshot))


def test_the_asyncapi_document_gives_each_operation_its_channels_qos_and_retain() -> None:
    api = schema.asyncapi()
    for channel in t.CHANNELS:
        (operation,) = [op for op in api["operations"].values()
                        if op["channel"]["$ref"] == f"#/channels/{channel.name}"]
        mqtt = operation["bindings"]["mqtt"]
        assert (mqtt["qos"], mqtt["retain"]) == (channel.qos, channel.retain)
        assert operation["action"] == ("receive" if channel.publisher is t.Publisher.KIOSK
                                       else "send")
    assert "$defs" not in json.dumps(api), "a $ref into $defs does not resolve in AsyncAPI"


def test_the_official_asyncapi_parser_accepts_the_document_with_no_errors(
    tmp_path: Path,
) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("the AsyncAPI check needs Node.js and npm: install them (as root: "
                    "`apt-get install nodejs npm`, or `make test`, which bootstraps them), then "
                    "run scripts/bootstrap.sh")
    if not (ASYNCAPI_CHECK.parent / "node_modules" / "@asyncapi" / "parser").is_dir():
        pytest.fail("the AsyncAPI parser is not installed: run scripts/bootstrap.sh (it runs "
                    "`npm ci` in tools/asyncapi)")
    # A fresh generation, so the code is checked even before docs/schemas is regenerated.
    document = tmp_path / "asyncapi.json"
    document.write_text(schema.render_all()["asyncapi.json"], encoding="utf-8")
    run = subprocess.run([node, str(ASYNCAPI_CHECK), str(document)],
                         capture_output=True, text=True, timeout=120, check=False)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert ": 0 error(s)" in report, report
