"""The kiosk's typed config file (TOML). Defaults run the demo's sim kiosk.

It lives in the kernel because two parts share it: the kiosk reads it
(:func:`load_kiosk_config`), and the server's provisioning, the demo and the simulator write
it (:func:`dump_kiosk_config`), so the file a school copies onto a Pi is always one the kiosk
accepts.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lockers.errors import LockersError

REPO = Path(__file__).resolve().parents[1]


class KioskConfigError(LockersError, ValueError):
    """The kiosk's config file is missing or wrong."""


class BrokerConfig(BaseModel):
    """How the kiosk reaches Mosquitto (its own account; TLS in production)."""

    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = 1883
    username: str = "kiosk-demo-k1"
    password: str = ""
    tls_ca: Path | None = None
    keepalive_s: int = Field(default=15, ge=5, le=300)
    reconnect_max_s: int = Field(default=30, ge=1, le=300,
                                 description="Longest wait between reconnect attempts.")


class ReaderConfig(BaseModel):
    """A card reader: its role and a part of its PC/SC name."""

    model_config = ConfigDict(extra="forbid")
    role: str = "arrival"
    name: str = "ACR122U"


class RelayConfig(BaseModel):
    """Relay timing and the power supply's limit."""

    model_config = ConfigDict(extra="forbid")
    pulse_s: float = Field(default=0.5, gt=0, le=5)
    max_coils: int = Field(default=4, ge=1, le=64)
    max_on_s: float = Field(default=3.0, gt=0, le=10)


class SerialConfig(BaseModel):
    """The RS-485 adapter of the lock-control boards (only with a board map)."""

    model_config = ConfigDict(extra="forbid")
    port: str | None = Field(default=None, description="e.g. /dev/ttyUSB0; None: the board "
                             "map's port")
    baudrate: int | None = Field(default=None, description="None: the board map's baud rate")


class KioskConfig(BaseModel):
    """Everything one kiosk needs."""

    model_config = ConfigDict(extra="forbid")
    site: str = "demo"
    kiosk: str = "k1"
    card_key: str = Field(default="demo-card-key", min_length=8,
                          description="The site's card hash key (from provisioning).")
    state_dir: Path = Path("var/kiosk")
    pinmap: Path = REPO / "hardware" / "pinmaps" / "sim8.toml"
    boardmap: Path | None = Field(default=None, description="Lock-control boards on RS-485 "
                                  "(hardware/boardmaps/); when set, the slots are on the boards")
    serial: SerialConfig = SerialConfig()
    readers: list[ReaderConfig] = Field(default_factory=lambda: [ReaderConfig()])
    relays: RelayConfig = RelayConfig()
    broker: BrokerConfig = BrokerConfig()
    tap_hold_off_s: float = 3.0
    door_open_timeout_s: float = Field(default=8.0, gt=0,
                                       description="A pulsed door that never opens: give up.")
    command_ack_timeout_s: float = 8.0
    synchronous: str = Field(default="FULL", pattern="^(FULL|NORMAL)$")
    clock_synced_flag: Path | None = Field(
        default=Path("/run/systemd/timesync/synchronized"),
        description="A file that exists once NTP has set the clock since boot "
                    "(systemd-timesyncd's); until then, or without it, only the server's "
                    "acknowledgements vouch for the kiosk's clock.")
    clock_checks: bool = Field(
        default=True, description="Doubt a clock that jumped, is off the server's or was never "
                                  "synced, and then open nothing by the release window. Only a "
                                  "simulation with a sped-up clock turns this off.")


def load_kiosk_config(path: Path) -> KioskConfig:
    """Read and validate a kiosk config file; raise :class:`KioskConfigError` saying what is
    wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KioskConfigError(f"kiosk config {path} does not exist (see "
                          "hardware/kiosk.example.toml)") from None
    except tomllib.TOMLDecodeError as exc:
        raise KioskConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        config = KioskConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise KioskConfigError(f"{path}: {where}: {first['msg']}") from None
    base = path.parent
    if not config.pinmap.is_absolute() and not config.pinmap.exists():
        config.pinmap = base / config.pinmap
    if config.boardmap is not None and not config.boardmap.is_absolute() \
            and not config.boardmap.exists():
        config.boardmap = base / config.boardmap
    return config


def dump_kiosk_config(config: KioskConfig, header: str = "") -> str:
    """The TOML text of ``config`` (paths as text), with an optional comment header."""
    data = config.model_dump(mode="json", exclude_none=True)
    lines = "".join(f"# {line}\n" for line in header.splitlines())
    return lines + tomli_w.dumps(data)
