"""The server's typed configuration, read from one TOML file (defaults run the demo).

    [database]
    url = "sqlite:///var/server/lockers.db"     # or postgresql+psycopg://user:pw@host/db
    migrate_on_start = false                    # true: `lockers migrate` at each start
    [mqtt]
    host = "127.0.0.1"
    port = 1883
    username = "server"
    password_file = "var/broker/server.password"  # or password = "..."
    [web]
    host = "127.0.0.1"
    port = 8080
    [notify]                                    # see server/notify/config.py
    enabled = false
    [oidc]                                      # see server/oidc_config.py
    enabled = false
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w

from server.errors import ServerConfigError
from server.mqtt_link import MqttSettings
from server.notify.config import SECURITY, NotifyConfig
from server.oidc_config import OidcSettings, load_oidc


@dataclass(frozen=True)
class WebSettings:
    """Where the web app listens."""

    host: str = "127.0.0.1"
    port: int = 8080
    secret_key_file: str | None = None
    # Served over TLS (directly or behind a proxy): Secure session cookie and HSTS.
    behind_tls: bool = False
    max_request_bytes: int = 2_000_000  # uploads (the .ics of term dates) are a few kB


@dataclass(frozen=True)
class ServerConfig:
    """Everything ``lockers server`` needs."""

    database_url: str = "sqlite:///var/server/lockers.db"
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    web: WebSettings = field(default_factory=WebSettings)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    oidc: OidcSettings = field(default_factory=OidcSettings)
    replica_tick_s: float = 30.0
    ingest_max_batch: int = 500
    # /healthz answers 503 once a received message has waited this long to be applied.
    ingest_stuck_after_s: float = 60.0
    # Bring the schema up to date at start ([database] migrate_on_start): for a trust's
    # several processes, which may start together; the migration lock makes one migrate.
    migrate_on_start: bool = False
    log_level: str = "INFO"
    # The audit anchor (server.audit_anchor): its HMAC key and checkpoint file; by default
    # beside server.toml (``config_dir``), outside the database.
    audit_key_file: str | None = None
    audit_anchor_file: str | None = None
    config_dir: str | None = None  # where server.toml was read from (not written back)


def _section(cls: type, data: dict[str, Any], name: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ServerConfigError(f"[{name}] has unknown keys {sorted(unknown)}; "
                                f"known: {sorted(known)}")
    return cls(**data)


def load(path: Path | str) -> ServerConfig:
    """Read and check a server.toml."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ServerConfigError(f"config file {path} not found (see hardware/server.example.toml)"
                          ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ServerConfigError(f"{path} is not valid TOML: {exc}") from None
    mqtt = dict(data.get("mqtt", {}))
    pw_file = mqtt.pop("password_file", None)
    if pw_file:
        pw_path = (path.parent / pw_file) if not Path(pw_file).is_absolute() else Path(pw_file)
        try:
            mqtt["password"] = pw_path.read_text().strip()
        except OSError as exc:
            raise ServerConfigError(f"[mqtt] password_file {pw_path}: {exc}") from None
    notify = _notify(path, dict(data.get("notify", {})))
    db = data.get("database", {})
    srv = data.get("server", {})
    return ServerConfig(
        database_url=db.get("url", ServerConfig.database_url),
        migrate_on_start=bool(db.get("migrate_on_start", False)),
        mqtt=_section(MqttSettings, mqtt, "mqtt"),
        web=_section(WebSettings, data.get("web", {}), "web"),
        notify=notify,
        oidc=load_oidc(path, data.get("oidc", {})),
        replica_tick_s=float(srv.get("replica_tick_s", 30.0)),
        ingest_max_batch=int(srv.get("ingest_max_batch", 500)),
        ingest_stuck_after_s=float(srv.get("ingest_stuck_after_s", 60.0)),
        log_level=str(srv.get("log_level", "INFO")),
        audit_key_file=_beside(path, data.get("audit", {}).get("key_file")),
        audit_anchor_file=_beside(path, data.get("audit", {}).get("anchor_file")),
        config_dir=str(path.resolve().parent),
    )


def _beside(config_path: Path, name: str | None) -> str | None:
    """A path from server.toml, relative to the file's folder."""
    if not name:
        return None
    return str(Path(name) if Path(name).is_absolute() else config_path.resolve().parent / name)
def _notify(path: Path, notify: dict[str, Any]) -> NotifyConfig:
    pw_file = notify.pop("smtp_password_file", None)
    if pw_file:
        pw_path = (path.parent / pw_file) if not Path(pw_file).is_absolute() else Path(pw_file)
        try:
            notify["smtp_password"] = pw_path.read_text().strip()
        except OSError as exc:
            raise ServerConfigError(f"[notify] smtp_password_file {pw_path}: {exc}") from None
    config = _section(NotifyConfig, notify, "notify")
    if config.smtp_security not in SECURITY:
        raise ServerConfigError(f"[notify] smtp_security must be one of {list(SECURITY)}, "
                                f"not {config.smtp_security!r}")
    return config


def dump(config: ServerConfig, password_file: str | None = None) -> str:
    """The TOML text of ``config``, the inverse of :func:`load` (the demo and the simulator
    write their server.toml with it). With ``password_file`` the broker password is left out
    of the file and read from that file instead. ``[oidc]`` is not written: its client secret
    belongs in its own file, and the demo and the simulator sign in with local accounts."""
    mqtt = {k: v for k, v in asdict(config.mqtt).items() if v is not None}
    if password_file is not None:
        mqtt.pop("password", None)
        mqtt["password_file"] = password_file
    data = {"database": {"url": config.database_url}, "mqtt": mqtt,
            "web": {k: v for k, v in asdict(config.web).items() if v is not None},
            # The SMTP password is never written back: it belongs in smtp_password_file.
            "notify": {k: v for k, v in asdict(config.notify).items()
                       if v is not None and k != "smtp_password"},
            "server": {"replica_tick_s": config.replica_tick_s,
                       "ingest_max_batch": config.ingest_max_batch,
                       "ingest_stuck_after_s": config.ingest_stuck_after_s,
                       "log_level": config.log_level}}
    audit = {k: v for k, v in (("key_file", config.audit_key_file),
                               ("anchor_file", config.audit_anchor_file)) if v}
    if audit:
        data["audit"] = audit
    return tomli_w.dumps(data)
