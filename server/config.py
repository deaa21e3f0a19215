"""The server's typed configuration, read from one TOML file (defaults run the demo).

    [database]
    url = "sqlite:///var/server/lockers.db"     # or postgresql+psycopg://user:pw@host/db
    [mqtt]
    host = "127.0.0.1"
    port = 1883
    username = "server"
    password_file = "var/broker/server.password"  # or password = "..."
    [web]
    host = "127.0.0.1"
    port = 8080
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from server.errors import ConfigError
from server.mqtt_link import MqttSettings


@dataclass(frozen=True)
class WebSettings:
    """Where the web app listens."""

    host: str = "127.0.0.1"
    port: int = 8080
    secret_key_file: str | None = None


@dataclass(frozen=True)
class ServerConfig:
    """Everything ``lockers server`` needs."""

    database_url: str = "sqlite:///var/server/lockers.db"
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    web: WebSettings = field(default_factory=WebSettings)
    replica_tick_s: float = 30.0
    ingest_max_batch: int = 500
    log_level: str = "INFO"


def _section(cls: type, data: dict[str, Any], name: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"[{name}] has unknown keys {sorted(unknown)}; known: {sorted(known)}")
    return cls(**data)


def load(path: Path | str) -> ServerConfig:
    """Read and check a server.toml."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found (see hardware/server.example.toml)"
                          ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    mqtt = dict(data.get("mqtt", {}))
    pw_file = mqtt.pop("password_file", None)
    if pw_file:
        pw_path = (path.parent / pw_file) if not Path(pw_file).is_absolute() else Path(pw_file)
        try:
            mqtt["password"] = pw_path.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"[mqtt] password_file {pw_path}: {exc}") from None
    db = data.get("database", {})
    srv = data.get("server", {})
    return ServerConfig(
        database_url=db.get("url", ServerConfig.database_url),
        mqtt=_section(MqttSettings, mqtt, "mqtt"),
        web=_section(WebSettings, data.get("web", {}), "web"),
        replica_tick_s=float(srv.get("replica_tick_s", 30.0)),
        ingest_max_batch=int(srv.get("ingest_max_batch", 500)),
        log_level=str(srv.get("log_level", "INFO")),
    )
