"""Who hears what, as the school's settings form shows it: each setting's words, its kind,
and the checks a value must pass before it is saved. One table, read by the form, the
service that saves and the tests, so a new setting is added in one place (plus its column).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from email.errors import HeaderParseError
from email.headerregistry import Address
from typing import Any

from server.errors import NotAllowed

SWITCH, NUMBER, CLOCK, TEXT, WORDING, EMAIL, CHAT = (
    "switch", "number", "clock", "text", "wording", "email", "chat")


@dataclass(frozen=True)
class Setting:
    """One field of the form: the column it saves to, its label, and a hint in words."""

    key: str
    kind: str
    label: str
    hint: str = ""


GROUPS: tuple[tuple[str, tuple[Setting, ...]], ...] = (
    ("Who hears what", (
        Setting("parent_when_held", SWITCH, "Parents and carers, when a device is held for "
                "them to collect"),
        Setting("dsl_when_handed_over", SWITCH, "The DSL, at once, when a device is handed to "
                "the DSL"),
        Setting("leadership_when_police", SWITCH, "Leadership, when a device is handed to the "
                "police"),
        Setting("office_when_overnight", SWITCH, "The office, when a device is left in school "
                "overnight"),
        Setting("office_when_held_days", NUMBER, "The office, when a held device is still "
                "held after this many school days", "0: never"),
        Setting("leadership_digest", SWITCH, "Leadership, a digest of each school day"),
        Setting("digest_at", CLOCK, "The digest goes at", "after the release window closes"),
        Setting("leadership_termly", SWITCH, "Leadership, a compliance summary at the end of "
                "each term"),
    )),
    ("The school's words to parents", (
        Setting("held_wording", WORDING, "Why it was held",
                "follows \"Amira's mobile phone\" in the message"),
        Setting("collection_place", TEXT, "Where to collect it"),
        Setting("collection_hours", TEXT, "When to collect it"),
        Setting("signed", TEXT, "Signed"),
    )),
    ("Where staff messages go", (
        Setting("dsl_email", EMAIL, "DSL's mailbox", "a role mailbox, e.g. dsl@school"),
        Setting("dsl_chat", CHAT, "DSL's chat channel", "a name from [notify.channels] in "
                "server.toml"),
        Setting("leadership_email", EMAIL, "Leadership's mailbox"),
        Setting("leadership_chat", CHAT, "Leadership's chat channel"),
        Setting("office_email", EMAIL, "Office's mailbox"),
        Setting("office_chat", CHAT, "Office's chat channel"),
    )),
)
SETTINGS = {s.key: s for _, group in GROUPS for s in group}
REQUIRED = frozenset({"held_wording", "collection_place", "collection_hours", "signed"})
MAX_HELD_DAYS = 60  # beyond a half term nobody is chasing anything any more


class SettingRefused(NotAllowed):
    """A value the school typed cannot be saved (the message says which and why)."""


def _email(setting: Setting, value: str) -> str:
    if not value:
        return ""
    try:
        address = Address(addr_spec=value)
    except (HeaderParseError, ValueError, IndexError) as exc:
        raise SettingRefused(f"{setting.label}: {value!r} is not an e-mail address") from exc
    if not address.username or "." not in address.domain:
        raise SettingRefused(f"{setting.label}: {value!r} is not an e-mail address "
                             "(name@school.example)")
    return address.addr_spec


def _number(setting: Setting, value: Any) -> int:
    try:
        days = int(value)
    except (TypeError, ValueError) as exc:
        raise SettingRefused(f"{setting.label}: {value!r} is not a number of days") from exc
    if not 0 <= days <= MAX_HELD_DAYS:
        raise SettingRefused(f"{setting.label}: between 0 (never) and {MAX_HELD_DAYS} days")
    return days


def _clock(setting: Setting, value: Any) -> time:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value))
    except ValueError as exc:
        raise SettingRefused(f"{setting.label}: {value!r} is not a time (17:00)") from exc


def _text(setting: Setting, value: Any) -> str:
    text = " ".join(str(value).split())  # one line: it sits inside a sentence
    if setting.key in REQUIRED and not text:
        raise SettingRefused(f"{setting.label} cannot be empty: parents need it")
    limit = 500 if setting.kind == WORDING else 200
    if len(text) > limit:
        raise SettingRefused(f"{setting.label}: at most {limit} characters")
    return text.rstrip(".") if setting.key == "held_wording" else text  # the template ends it


def checked(changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` with each value checked and tidied; :class:`SettingRefused` names the
    first that cannot be saved."""
    unknown = sorted(set(changes) - set(SETTINGS))
    if unknown:
        raise SettingRefused(f"unknown notification settings {unknown}; known: "
                             f"{sorted(SETTINGS)}")
    out: dict[str, Any] = {}
    for key, value in changes.items():
        setting = SETTINGS[key]
        if setting.kind == SWITCH:
            out[key] = bool(value)
        elif setting.kind == NUMBER:
            out[key] = _number(setting, value)
        elif setting.kind == CLOCK:
            out[key] = _clock(setting, value)
        elif setting.kind == EMAIL:
            out[key] = _email(setting, str(value).strip())
        elif setting.kind == CHAT:
            out[key] = str(value).strip()
        else:
            out[key] = _text(setting, value)
    return out
