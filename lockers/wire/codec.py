"""Encoding and validating payloads: the only place a payload is parsed or built."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from lockers.wire import messages as m
from lockers.wire import topics as t
from lockers.wire.errors import WireError

MAX_PAYLOAD_BYTES = 1_000_000  # a whole school's replica is ~150 kB; anything bigger is wrong
# The deepest real payload is a policy snapshot's card -> elsewhere entry (4 levels); a deeper
# one is an attack on the parser, refused before any parsing so it cannot recurse.
MAX_DEPTH = 16
# A JSON string literal (escapes included): its brackets are text, not nesting.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKET = re.compile(r"[\[\]{}]")
_OPENS = frozenset("[{")

MODELS: dict[str, Any] = {
    t.STATUS.name: m.KioskStatus,
    t.SLOTS.name: m.SlotSnapshot,
    t.EVENTS.name: m.Event,
    t.EVENT_ACKS.name: m.EventAck,
    t.POLICY.name: m.PolicySnapshot,
    t.POLICY_UPDATES.name: m.PolicyUpdate,
    t.COMMANDS.name: m.Command,
    t.COMMAND_ACKS.name: m.CommandAck,
}
_ADAPTERS = {name: TypeAdapter(model) for name, model in MODELS.items()}


def adapter(channel: t.Channel) -> TypeAdapter[Any]:
    """The validator for one channel's payloads."""
    return _ADAPTERS[channel.name]


def encode(message: BaseModel) -> bytes:
    """Serialise a message to its JSON payload (absent optional fields are left out)."""
    return message.model_dump_json(exclude_none=True).encode()


def nesting_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """How deeply ``text``'s arrays and objects nest, counted without parsing (stops counting
    once past ``limit``), so a payload of 1,001 brackets is measured, never recursed into."""
    depth = deepest = 0
    for bracket in _BRACKET.finditer(_STRING.sub("", text)):
        if bracket.group() in _OPENS:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        else:
            depth -= 1
    return deepest


def decode(channel: t.Channel, payload: bytes | str) -> Any:
    """Validate a payload for ``channel``; raise :class:`WireError` with a one-line reason.

    Refuses exactly what the schema refuses: types are strict (a ``seq`` of ``"5"`` is not 5,
    a ``slot`` of ``"3"`` is not 3), sizes and nesting are capped before parsing, and the JSON
    is parsed by pydantic's parser, which never recurses in Python.
    """
    if isinstance(payload, bytes | bytearray):
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise WireError(f"{channel.name} payload of {len(payload)} bytes is too large")
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WireError(f"{channel.name} payload is not UTF-8: {exc}") from None
    elif len(payload) > MAX_PAYLOAD_BYTES:
        raise WireError(f"{channel.name} payload of {len(payload)} characters is too large")
    if nesting_depth(payload) > MAX_DEPTH:
        raise WireError(f"{channel.name} payload nests deeper than {MAX_DEPTH} levels")
    try:
        return _ADAPTERS[channel.name].validate_json(payload, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise WireError(f"{channel.name} payload is not JSON: {first['msg']}") from None
        _check_version(channel, payload)
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise WireError(
            f"{channel.name} payload invalid at {where}: {first['msg']} "
            f"({exc.error_count()} error(s))"
        ) from None


def _check_version(channel: t.Channel, payload: str) -> None:
    """Say "upgrade" rather than "invalid" for a payload of another protocol version (the
    nesting is already capped, so ``json.loads`` is safe here)."""
    try:
        data = json.loads(payload)
    except ValueError:
        return  # the schema's own reason is the better one
    if isinstance(data, dict) and data.get("v") not in (None, t.PROTOCOL_VERSION):
        raise WireError(
            f"{channel.name} payload speaks protocol v{data.get('v')}, this side speaks "
            f"v{t.PROTOCOL_VERSION}: upgrade the older side"
        )


def decode_topic(topic: str, payload: bytes | str) -> tuple[t.ParsedTopic, Any]:
    """Parse a topic and its payload together, checking the payload names the same kiosk."""
    parsed = t.parse(topic)
    message = decode(parsed.channel, payload)
    kiosk = getattr(message, "kiosk", parsed.kiosk)
    site = getattr(message, "site", parsed.site)
    if kiosk != parsed.kiosk or site != parsed.site:
        raise WireError(
            f"payload names {site}/{kiosk} but arrived on {parsed.site}/{parsed.kiosk}'s topic"
        )
    return parsed, message


def channel_of(message: BaseModel) -> t.Channel:
    """The channel a message is published on."""
    for channel in t.CHANNELS:
        model = MODELS[channel.name]
        if model is m.Event:
            if isinstance(message, m.EventBase):
                return channel
        elif isinstance(message, model):
            return channel
    raise WireError(f"{type(message).__name__} is not a wire message")
