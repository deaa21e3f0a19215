"""Machine-readable contract: JSON Schemas and an AsyncAPI 3 document, generated from the
models so they cannot drift (a test compares the committed files with a fresh generation).

Two shapes of the same schemas come out:

- one standalone JSON Schema (draft 2020-12) per channel, with its own ``$defs``, for anyone
  who validates payloads with a JSON Schema library;
- the AsyncAPI document, which integrators feed to the official AsyncAPI parser and code
  generators. There a schema embedded in a message resolves ``$ref`` against the *document*,
  so every ``$defs`` entry is hoisted into ``components/schemas`` and its refs rewritten
  (``tools/asyncapi/check.mjs`` runs that parser in the test suite).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from lockers.wire import messages as m
from lockers.wire import topics as t
from lockers.wire.codec import MODELS, adapter
from lockers.wire.errors import WireError

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# The MQTT bindings version whose fields (qos and retain on operations) this document uses.
MQTT_BINDING_VERSION = "0.2.0"
# What pydantic writes for a time of day: HH:MM:SS with microseconds when there are any.
LOCAL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?$"
_DEFS = "#/$defs/"
_COMPONENT_SCHEMAS = "#/components/schemas/"

_PUBLISHED_BY = {t.Publisher.KIOSK: "Published by each kiosk",
                 t.Publisher.SERVER: "Published by the server"}
_ID_RULE = "1-63 characters of a-z 0-9 - _, starting with a letter or digit"
_PARAMETERS: dict[str, Any] = {
    "site": {"description": f"The school's site id ({_ID_RULE}).", "examples": ["school1"]},
    "kiosk": {"description": f"The kiosk's id within its site ({_ID_RULE}).", "examples": ["k1"]},
}
_SECURITY: dict[str, Any] = {
    "brokerAccount": {
        "type": "userPassword",
        "description": "Each kiosk has its own broker account and may write only its own "
                       "namespace; the server has one account (the broker's ACL is generated "
                       "from the same channel table).",
    },
}
_SERVERS: dict[str, Any] = {
    "school": {
        "host": "{host}:8883",
        "protocol": "secure-mqtt",
        "protocolVersion": "5",
        "description": "The school's Mosquitto, as kiosks reach it: TLS verified against the "
                       "school's CA.",
        "variables": {"host": {"description": "The broker's host name in the school's network.",
                               "examples": ["lockers-server.school.internal"]}},
        "security": [{"$ref": "#/components/securitySchemes/brokerAccount"}],
    },
    "local": {
        "host": "127.0.0.1:1883",
        "protocol": "mqtt",
        "protocolVersion": "5",
        "description": "The same broker as the server process sees it on its own host.",
        "security": [{"$ref": "#/components/securitySchemes/brokerAccount"}],
    },
}


class WireJsonSchema(GenerateJsonSchema):
    """Pydantic's JSON Schema generator, saying what the wire really carries for times of day."""

    def time_schema(self, schema: core_schema.TimeSchema) -> JsonSchemaValue:
        """A local wall-clock time, without an offset.

        Release windows and ``late_after`` are the school's local times in the timezone the
        policy names (docs/protocol.md), sent without an offset; JSON Schema's ``time`` format
        (RFC 3339) requires one, so a validator that checks formats would refuse real policies.
        """
        return {"type": "string", "pattern": LOCAL_TIME_PATTERN,
                "description": "Local wall-clock time of the school (HH:MM:SS), no offset."}


def payload_name(channel: t.Channel) -> str:
    """The name ``messages.py`` gives a channel's payload type (``KioskStatus``, ``Event``)."""
    model = MODELS[channel.name]
    # Looked up by identity so the union alias ``Event`` gets its name too, not only classes.
    for name, value in vars(m).items():
        if value is model:
            return name
    raise WireError(f"{channel.name}'s payload type is not named in lockers.wire.messages")


def channel_schema(channel: t.Channel) -> dict[str, Any]:
    """The standalone JSON Schema (draft 2020-12) of one channel's payload."""
    schema = adapter(channel).json_schema(mode="serialization", schema_generator=WireJsonSchema)
    schema.setdefault("title", payload_name(channel))
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema["$id"] = f"urn:lockers:v{t.PROTOCOL_VERSION}:{channel.name}"
    return schema


def asyncapi() -> dict[str, Any]:
    """An AsyncAPI 3.0 description of every channel, from the server's point of view."""
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for ch in t.CHANNELS:
        name = payload_name(ch)
        _add_schema(schemas, name, _embedded(channel_schema(ch), schemas))
        messages[ch.name] = {
            "name": ch.name,
            "title": name,
            "summary": ch.description,
            "contentType": "application/json",
            "payload": {"$ref": f"{_COMPONENT_SCHEMAS}{name}"},
        }
        channels[ch.name] = {
            "address": f"{t.PREFIX}/{{site}}/{{kiosk}}/{ch.suffix}",
            "description": ch.description,
            "parameters": {p: {"$ref": f"#/components/parameters/{p}"} for p in _PARAMETERS},
            "messages": {ch.name: {"$ref": f"#/components/messages/{ch.name}"}},
        }
        # The server receives what kiosks publish and sends the rest.
        action = "receive" if ch.publisher is t.Publisher.KIOSK else "send"
        operations[f"{ch.name}_{action}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{ch.name}"},
            "summary": f"{_PUBLISHED_BY[ch.publisher]}: {ch.description}",
            "messages": [{"$ref": f"#/channels/{ch.name}/messages/{ch.name}"}],
            # QoS and the retain flag are per publish, so MQTT puts them on the operation.
            "bindings": {"mqtt": {"qos": ch.qos, "retain": ch.retain,
                                  "bindingVersion": MQTT_BINDING_VERSION}},
        }
    return {
        "asyncapi": "3.0.0",
        "id": f"urn:lockers:v{t.PROTOCOL_VERSION}",
        "info": {"title": "School phone lockers wire protocol",
                 "version": str(t.PROTOCOL_VERSION),
                 "description": "Kiosks and the school's server talk only through the school's "
                                "MQTT 5 broker. This document describes the server's side; a "
                                "kiosk does the opposite action on each channel. See "
                                "docs/protocol.md.",
                 "license": {"name": "MIT"}},
        "defaultContentType": "application/json",
        "servers": _SERVERS,
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "parameters": _PARAMETERS,
            "securitySchemes": _SECURITY,
        },
    }


def _embedded(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """``schema`` as an AsyncAPI message payload: its ``$defs`` moved into ``schemas``."""
    for name, definition in schema.pop("$defs", {}).items():
        _add_schema(schemas, name, _rewrite(definition))
    # A dialect or an $id would change how the refs resolve inside the document.
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    return _rewrite(schema)


def _rewrite(node: Any) -> Any:
    """A copy of ``node`` with refs into ``$defs`` pointing at ``components/schemas``.

    Pydantic's OpenAPI-style ``discriminator`` object is dropped: AsyncAPI's schema format
    (JSON Schema draft 07 plus its own keywords) defines ``discriminator`` as a property name
    of an inheritance chain, and the ``oneOf`` of ``const`` types already tells events apart.
    """
    if isinstance(node, dict):
        return {k: (_COMPONENT_SCHEMAS + v[len(_DEFS):]
                    if k == "$ref" and isinstance(v, str) and v.startswith(_DEFS)
                    else _rewrite(v))
                for k, v in node.items()
                if not (k == "discriminator" and isinstance(v, dict) and "propertyName" in v)}
    if isinstance(node, list):
        return [_rewrite(v) for v in node]
    return node


def _add_schema(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    if name in schemas and schemas[name] != schema:
        raise WireError(f"two wire types are both named {name!r} with different fields: "
                        "rename one in lockers/wire/messages.py")
    schemas[name] = schema


def render_all() -> dict[str, str]:
    """File name -> text of every generated file."""
    files = {f"{ch.name}.schema.json": _dump(channel_schema(ch)) for ch in t.CHANNELS}
    files["asyncapi.json"] = _dump(asyncapi())
    return files


def write_all(out_dir: Path) -> list[Path]:
    """Write the generated files into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_all().items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"
