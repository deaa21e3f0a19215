"""The MQTT topic tree: the only place a topic string is built or taken apart.

Every topic lives under ``lockers/v1/<site>/<kiosk>/``. The kiosk publishes its status, its
slot snapshot, its events and its command acknowledgements; the server publishes the policy
replica, commands and the acknowledgements of events it has committed. The broker's ACL
(:mod:`lockers.broker`) is generated from the same table, so a kiosk can only ever write the
topics listed as kiosk-published under its own name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from lockers.wire.errors import WireError

ROOT = "lockers"
PROTOCOL_VERSION = 1
PREFIX = f"{ROOT}/v{PROTOCOL_VERSION}"

# Site and kiosk ids become topic levels and broker user names: keep them plain.
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class Publisher(StrEnum):
    """Who is allowed to publish on a channel."""

    KIOSK = "kiosk"
    SERVER = "server"


@dataclass(frozen=True)
class Channel:
    """One kind of topic under a kiosk's namespace."""

    name: str
    suffix: str
    publisher: Publisher
    qos: int
    retain: bool
    description: str


STATUS = Channel("status", "status", Publisher.KIOSK, 1, True,
                 "Kiosk birth and last will: online/offline, software version, policy version.")
SLOTS = Channel("slots", "slots", Publisher.KIOSK, 1, True,
                "Snapshot of every slot's state, republished when one changes.")
EVENTS = Channel("events", "events", Publisher.KIOSK, 1, False,
                 "Sequenced events from the kiosk's durable outbox (taps, doors, alarms, ...).")
EVENT_ACKS = Channel("event_acks", "events/ack", Publisher.SERVER, 1, False,
                     "The server's acknowledgement that it has committed events; only then does "
                     "the kiosk delete them from its outbox.")
POLICY = Channel("policy", "policy", Publisher.SERVER, 1, True,
                 "Full policy replica snapshot for this kiosk (retained, so a kiosk that "
                 "connects catches up).")
POLICY_UPDATES = Channel("policy_updates", "policy/update", Publisher.SERVER, 1, False,
                         "Small change to the replica, applied only on top of its base version.")
COMMANDS = Channel("commands", "cmd", Publisher.SERVER, 1, False,
                   "A command for the kiosk (remote unlock, emergency open, resync, mode).")
COMMAND_ACKS = Channel("command_acks", "cmd/ack", Publisher.KIOSK, 1, False,
                       "What physically happened when the kiosk carried out a command.")

CHANNELS: tuple[Channel, ...] = (
    STATUS, SLOTS, EVENTS, EVENT_ACKS, POLICY, POLICY_UPDATES, COMMANDS, COMMAND_ACKS,
)
_BY_SUFFIX = {c.suffix: c for c in CHANNELS}


def check_id(kind: str, value: str) -> str:
    """Return ``value`` if it is a valid site or kiosk id, else raise :class:`WireError`."""
    if not _ID.match(value):
        raise WireError(
            f"{kind} id {value!r} is not valid: use 1-63 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return value


def kiosk_prefix(site: str, kiosk: str) -> str:
    """``lockers/v1/<site>/<kiosk>``: the namespace a kiosk owns."""
    return f"{PREFIX}/{check_id('site', site)}/{check_id('kiosk', kiosk)}"


def topic(channel: Channel, site: str, kiosk: str) -> str:
    """The concrete topic of ``channel`` for one kiosk."""
    return f"{kiosk_prefix(site, kiosk)}/{channel.suffix}"


def filter_all_kiosks(channel: Channel, site: str = "+") -> str:
    """A subscription filter for ``channel`` across every kiosk (of one site, or of all)."""
    site_level = site if site == "+" else check_id("site", site)
    return f"{PREFIX}/{site_level}/+/{channel.suffix}"


def shared(filter_: str, group: str) -> str:
    """An MQTT 5 shared-subscription filter, so several servers split the load."""
    return f"$share/{group}/{filter_}"


@dataclass(frozen=True)
class ParsedTopic:
    """A topic taken apart: which kiosk, which channel."""

    site: str
    kiosk: str
    channel: Channel


def parse(topic_: str) -> ParsedTopic:
    """Take a concrete topic apart; raise :class:`WireError` for anything not in the tree."""
    parts = topic_.split("/")
    if len(parts) < 5 or "/".join(parts[:2]) != PREFIX:
        raise WireError(f"topic {topic_!r} is not under {PREFIX}/<site>/<kiosk>/")
    site, kiosk, suffix = parts[2], parts[3], "/".join(parts[4:])
    channel = _BY_SUFFIX.get(suffix)
    if channel is None:
        raise WireError(f"topic {topic_!r} names no known channel ({suffix!r})")
    check_id("site", site)
    check_id("kiosk", kiosk)
    return ParsedTopic(site, kiosk, channel)
