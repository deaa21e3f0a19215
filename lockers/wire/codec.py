"""Encoding and validating payloads: the only place a payload is parsed or built."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from lockers.wire import messages as m
from lockers.wire import topics as t
from lockers.wire.errors import WireError

MAX_PAYLOAD_BYTES = 1_000_000  # a whole school's replica is ~150 kB; anything bigger is wrong

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


def decode(channel: t.Channel, payload: bytes | str) -> Any:
    """Validate a payload for ``channel``; raise :class:`WireError` with a one-line reason."""
    if isinstance(payload, bytes | bytearray):
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise WireError(f"{channel.name} payload of {len(payload)} bytes is too large")
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WireError(f"{channel.name} payload is not UTF-8: {exc}") from None
    try:
        data = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise WireError(f"{channel.name} payload is not JSON: {exc.msg} at {exc.pos}") from None
    if isinstance(data, dict) and data.get("v") not in (None, t.PROTOCOL_VERSION):
        raise WireError(
            f"{channel.name} payload speaks protocol v{data.get('v')}, this side speaks "
            f"v{t.PROTOCOL_VERSION}: upgrade the older side"
        )
    try:
        return _ADAPTERS[channel.name].validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise WireError(
            f"{channel.name} payload invalid at {where}: {first['msg']} "
            f"({exc.error_count()} error(s))"
        ) from None


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
