"""Machine-readable contract: JSON Schemas and an AsyncAPI 3 document, generated from the
models so they cannot drift (a test compares the committed files with a fresh generation)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lockers.wire import topics as t
from lockers.wire.codec import adapter


def channel_schema(channel: t.Channel) -> dict[str, Any]:
    """The JSON Schema of one channel's payload."""
    schema = adapter(channel).json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:lockers:v{t.PROTOCOL_VERSION}:{channel.name}"
    return schema


def asyncapi() -> dict[str, Any]:
    """An AsyncAPI 3.0 description of every channel."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    components: dict[str, Any] = {"messages": {}}
    for ch in t.CHANNELS:
        components["messages"][ch.name] = {
            "name": ch.name,
            "contentType": "application/json",
            "payload": channel_schema(ch),
            "bindings": {"mqtt": {"qos": ch.qos, "retain": ch.retain}},
        }
        channels[ch.name] = {
            "address": f"{t.PREFIX}/{{site}}/{{kiosk}}/{ch.suffix}",
            "description": ch.description,
            "parameters": {"site": {}, "kiosk": {}},
            "messages": {ch.name: {"$ref": f"#/components/messages/{ch.name}"}},
        }
        # From the server's point of view: it receives what kiosks publish.
        operations[f"{ch.name}_{'receive' if ch.publisher is t.Publisher.KIOSK else 'send'}"] = {
            "action": "receive" if ch.publisher is t.Publisher.KIOSK else "send",
            "channel": {"$ref": f"#/channels/{ch.name}"},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "School phone lockers wire protocol",
                 "version": str(t.PROTOCOL_VERSION),
                 "description": "See docs/protocol.md."},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": components,
    }


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
