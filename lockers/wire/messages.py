"""Every message kiosks and the server exchange, with its validation.

Payloads are JSON objects. Each carries ``v`` (the protocol version) and, where a receiver has
to tell several kinds apart on one channel, a ``type``. Models forbid unknown fields and are
immutable, so a payload that validates here is exactly what the contract describes.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from lockers.wire.topics import PROTOCOL_VERSION


def _text_like(pattern: str, what: str, parse: Any) -> BeforeValidator:
    """Read a string only in ``pattern``'s shape, with ``parse``: pydantic alone would also
    read "1" as a time (seconds since 1970), which the published JSON Schema refuses. Parsing
    here also lets the strict decoder (lockers.wire.codec) take times written as text."""
    shape = re.compile(pattern)

    def read(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if not shape.fullmatch(value):
            raise ValueError(f"{what} must look like {pattern}")
        return parse(value.upper() if what == "a time" else value)

    return BeforeValidator(read)


_CLOCK = r"([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?"
# An instant: RFC 3339 date-time with its offset (what the schema's "date-time" means).
Timestamp = Annotated[AwareDatetime, _text_like(
    r"\d{4}-\d{2}-\d{2}[Tt]" + _CLOCK + r"([Zz]|[+-]\d{2}:\d{2})", "a time",
    datetime.fromisoformat)]
Day = Annotated[date, _text_like(r"\d{4}-\d{2}-\d{2}", "a date", date.fromisoformat)]
# A time of day at the school, local and without an offset (a release window's edges).
_CLOCK_SCHEMA = {"type": "string", "pattern": f"^{_CLOCK}$"}
ClockTime = Annotated[time, _text_like(_CLOCK, "a time of day", time.fromisoformat),
                      WithJsonSchema(_CLOCK_SCHEMA, mode="validation"),
                      WithJsonSchema(_CLOCK_SCHEMA, mode="serialization")]


def _not_a_bool(value: Any) -> Any:
    if isinstance(value, bool):  # True == 1 in Python: Literal[1] alone would accept it
        raise ValueError("the protocol version is a number")
    return value


Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
# A card is known on the kiosk only by a keyed hash of its UID (HMAC-SHA256, 32 hex digits).
CardHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
PupilRef = Annotated[str, StringConstraints(min_length=1, max_length=64)]
StaffRef = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Text = Annotated[str, StringConstraints(max_length=500)]
SlotNumber = Annotated[int, Field(ge=1, le=999)]
Seq = Annotated[int, Field(ge=1)]
# "scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>": memory-hard, checkable on a kiosk with hashlib
# alone (locker_controller.staff.pin_matches), slow to brute force from a stolen replica.
PinHash = Annotated[str, StringConstraints(
    pattern=r"^scrypt\$\d{1,7}\$\d{1,2}\$\d\$[0-9a-f]{32}\$[0-9a-f]{64}$")]
# One boot of a kiosk's store (its outbox and slot records): 16 hex digits made when the store
# is created. A kiosk whose state file was lost starts a new epoch, so the server sees a
# restarted sequence instead of taking new events for duplicates.
Epoch = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")]
# One device the school has taken charge of, from hand-in to hand-back (DESIGN.md: custody).
# Minted by whoever takes the device in: a kiosk ("<kiosk>.<epoch>.<seq>" of the deposit
# event) or the server ("s<number>") for office hand-ins and confiscations.
CustodyId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,80}$")]


class Part(BaseModel):
    """Base of every piece of a payload: strict shape (unknown fields refused), immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class WireModel(Part):
    """Base of every whole payload: a :class:`Part` that carries the protocol version."""

    v: Annotated[Literal[1], BeforeValidator(_not_a_bool)] = PROTOCOL_VERSION


# --- slot states: the one definition both sides use -------------------------------------


class SlotState(StrEnum):
    """Where a slot is in its lifecycle (drawn in docs/slot-states.md)."""

    FREE = "free"
    OPENING_FOR_DEPOSIT = "opening_for_deposit"
    OPEN_FOR_DEPOSIT = "open_for_deposit"
    OCCUPIED = "occupied"
    HELD = "held"
    OPENING_FOR_RELEASE = "opening_for_release"
    OPEN_FOR_RELEASE = "open_for_release"
    FAULT = "fault"


class KioskMode(StrEnum):
    """How a kiosk is working: normally, in maintenance (no pupil taps), or in an emergency
    (the fire alarm is on)."""

    NORMAL = "normal"
    MAINTENANCE = "maintenance"
    EMERGENCY = "emergency"


class OpenedVia(StrEnum):
    """Who or what opened a slot for its device to come out."""

    PUPIL = "pupil"
    EARLY_RELEASE = "early_release"
    REMOTE_UNLOCK = "remote_unlock"
    EMERGENCY = "emergency"
    STAFF = "staff"


# --- kiosk status (retained; birth and last will) ---------------------------------------


class KioskStatus(WireModel):
    """Birth message and last will of a kiosk, retained on its status topic."""

    kiosk: Id
    site: Id
    state: Literal["online", "offline"]
    reason: Literal["birth", "will", "shutdown"]
    at: Timestamp | None = None  # a last will is written at connect time: no clock
    software: Text | None = None
    policy_version: int | None = None
    outbox_pending: int | None = Field(default=None, ge=0)
    readers_ok: bool | None = None
    mode: KioskMode | None = None


class SlotView(Part):
    """One slot in a snapshot: its state, whose device is in it and which custody record."""

    slot: SlotNumber
    state: SlotState
    pupil_ref: PupilRef | None = None
    door_open: bool = False
    custody_id: CustodyId | None = None


class SlotSnapshot(WireModel):
    """Every slot of a kiosk, retained, republished whenever one changes."""

    kiosk: Id
    site: Id
    at: Timestamp
    slots: list[SlotView]


# --- events (kiosk -> server, sequenced, from the durable outbox) -----------------------


class TapOutcome(StrEnum):
    """What the kiosk decided when a card was tapped."""

    DEPOSIT_OPENED = "deposit_opened"
    RELEASE_OPENED = "release_opened"
    EARLY_RELEASE_OPENED = "early_release_opened"
    NOT_RELEASE_TIME = "not_release_time"
    HELD = "held"
    EXEMPT = "exempt"
    UNKNOWN_CARD = "unknown_card"
    ALREADY_DEPOSITED = "already_deposited"
    NOTHING_TO_COLLECT = "nothing_to_collect"
    NO_FREE_SLOT = "no_free_slot"
    SLOT_UNAVAILABLE = "slot_unavailable"
    STAFF_CARD = "staff_card"
    KIOSK_CLOSED = "kiosk_closed"
    # The kiosk doubts its own clock (never synced, jumped, off the server's): it opens no
    # locker by the release window until the time is confirmed.
    CLOCK_UNSURE = "clock_unsure"


class AlarmKind(StrEnum):
    """Conditions a person has to look at."""

    DOOR_LEFT_OPEN = "door_left_open"
    FORCED_OPEN = "forced_open"
    DOOR_DID_NOT_OPEN = "door_did_not_open"
    READER_FAULT = "reader_fault"
    RELAY_WATCHDOG = "relay_watchdog"
    FIRE_ALARM = "fire_alarm"
    EMPTY_DEPOSIT = "empty_deposit"
    # A remote unlock named a custody record this kiosk's own record of the slot disagrees
    # with: the door stayed shut and staff must check what is inside.
    CUSTODY_MISMATCH = "custody_mismatch"
    # A slot opened by an emergency (or by staff when it was free) closed with contents other
    # than its record says, or it has no sensor to tell: staff must look inside.
    CONTENTS_CHANGED = "contents_changed"
    # A lock-control board stopped answering: its slots can neither open nor be watched.
    BOARD_FAULT = "board_fault"


class EventBase(WireModel):
    """Fields every event carries: who sent it, its place in the kiosk's sequence, when.

    ``epoch`` names the boot of the kiosk's store the sequence belongs to: the server is
    idempotent on (kiosk, epoch, seq). Kiosks older than custody send none; the server treats
    that as one unnamed epoch.
    """

    kiosk: Id
    site: Id
    seq: Seq
    at: Timestamp
    epoch: Epoch | None = None


class TapEvent(EventBase):
    """A card was tapped and the kiosk decided."""

    type: Literal["tap"] = "tap"
    reader: Id
    card: CardHash
    pupil_ref: PupilRef | None = None
    outcome: TapOutcome
    slot: SlotNumber | None = None
    flags: list[Literal["not_eligible", "late"]] = Field(default_factory=list)


class DoorEvent(EventBase):
    """A door switch changed; ``expected`` is False when nothing commanded the door open."""

    type: Literal["door"] = "door"
    slot: SlotNumber
    door: Literal["opened", "closed"]
    expected: bool


class SlotStateEvent(EventBase):
    """A slot moved between states (the server mirrors the kiosk's slots from these)."""

    type: Literal["slot_state"] = "slot_state"
    slot: SlotNumber
    state: SlotState
    previous: SlotState
    pupil_ref: PupilRef | None = None
    custody_id: CustodyId | None = None


class DepositEvent(EventBase):
    """A device went into a slot: the door closed after a deposit opening.

    ``via`` says how: the pupil's own tap, staff at the kiosk handing in for a named pupil
    (a forgotten card), or staff putting a confiscated device into a free slot (it is held at
    once). ``custody_id`` is the record the kiosk minted for it (the server's own id when staff
    put in a device the server already holds a record for).
    """

    type: Literal["deposit"] = "deposit"
    slot: SlotNumber
    pupil_ref: PupilRef
    empty: bool | None = None  # None: this slot has no presence sensor
    custody_id: CustodyId | None = None
    via: Literal["pupil", "staff_assisted", "staff_confiscated"] = "pupil"
    staff_ref: StaffRef | None = None


class CollectionEvent(EventBase):
    """A slot was emptied: the door closed after a release opening."""

    type: Literal["collected"] = "collected"
    slot: SlotNumber
    pupil_ref: PupilRef | None = None
    via: OpenedVia
    command_id: Text | None = None
    custody_id: CustodyId | None = None


class AlarmEvent(EventBase):
    """An alarm raised or cleared."""

    type: Literal["alarm"] = "alarm"
    alarm: AlarmKind
    state: Literal["raised", "cleared"]
    slot: SlotNumber | None = None
    reader: Id | None = None
    board: Id | None = None  # a lock-control board that stopped answering (its slots in detail)
    detail: Text | None = None


class KioskRestartedEvent(EventBase):
    """The controller started: after a clean stop, a crash or a power cut."""

    type: Literal["restarted"] = "restarted"
    clean_shutdown: bool
    slots_recovered: int = Field(ge=0)
    outbox_pending: int = Field(ge=0)


class StaffActionEvent(EventBase):
    """Something a member of staff did at the kiosk in staff mode."""

    type: Literal["staff_action"] = "staff_action"
    staff_ref: StaffRef
    action: Literal["enrol_card", "open_slot", "clear_fault", "staff_mode_entered",
                    "pin_refused", "assisted_hand_in", "confiscated_hand_in"]
    slot: SlotNumber | None = None
    card: CardHash | None = None
    pupil_ref: PupilRef | None = None
    reason: Text | None = None


Event = Annotated[
    TapEvent | DoorEvent | SlotStateEvent | DepositEvent | CollectionEvent | AlarmEvent
    | KioskRestartedEvent | StaffActionEvent,
    Field(discriminator="type"),
]


class EventAck(WireModel):
    """The server has committed these events of this kiosk; the kiosk may forget them.

    With ``resend`` the server also asks the kiosk to offer every event it has not had
    acknowledged again, at once: a server process has started listening to this kiosk, or one
    that held some of its events unacknowledged was lost (docs/adr/0010). Such a request may
    acknowledge nothing (``seqs`` empty); any other acknowledgement names at least one event.
    """

    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"properties": {"seqs": {"minItems": 1}}, "required": ["seqs"]},
        {"properties": {"resend": {"const": True}}, "required": ["resend"]}]})

    kiosk: Id
    seqs: list[Seq] = Field(default_factory=list)
    at: Timestamp
    epoch: Epoch | None = None  # the epoch of the acknowledged events (as they carried it)
    resend: Literal[True] | None = None  # left out unless the server asks for a resend

    @model_validator(mode="after")
    def _names_an_event_or_asks(self) -> EventAck:
        if not self.seqs and not self.resend:
            raise ValueError("an acknowledgement names at least one event, or asks for a resend")
        return self


# --- the policy replica (server -> kiosk) -----------------------------------------------


class PupilStatus(StrEnum):
    """What a pupil's tap may do today."""

    NORMAL = "normal"
    EXEMPT = "exempt"  # medical or other exception: greeted, recorded, no door opens
    HELD = "held"  # a confiscated device: the pupil's tap never opens the slot


class ReleaseDay(Part):
    """One calendar day at the kiosk: closed (no school) or the release window."""

    day: Day
    school_day: bool
    release_opens: ClockTime | None = None
    release_closes: ClockTime | None = None


class CardWindow(Part):
    """A pupil's own collection window on one day (their group's: an after-school club, a
    year group), replacing the school's window for this card on that day only."""

    day: date
    opens: time
    closes: time


class CardEntry(Part):
    """The minimum a kiosk knows about one card (DESIGN.md: no full records on a kiosk)."""

    card: CardHash
    pupil_ref: PupilRef
    first_name: Annotated[str, StringConstraints(max_length=40)]
    status: PupilStatus = PupilStatus.NORMAL
    slot: SlotNumber | None = None  # fixed assignment, or the slot the device is held in
    eligible: bool = True
    early_release: Text | None = None  # id of an approved early release, usable once
    window: CardWindow | None = None  # the pupil's group's window today, if it has one
    elsewhere: list[DeviceWhere] = Field(default_factory=list, max_length=10)


class DeviceWhere(Part):
    """Where one of a pupil's devices is, so the kiosk can tell the pupil (and nothing more):
    "Your phone is at North entrance, locker 12" or "your parent or carer can collect it from
    the office". Sent only for devices at another kiosk, or held."""

    kiosk: Id | None = None  # None: not in a locker (the office, the DSL)
    kiosk_name: Annotated[str, StringConstraints(max_length=60)] | None = None
    slot: SlotNumber | None = None
    held: bool = False
    back: Literal["at_window", "parent_or_carer", "office"] = "at_window"


class SlotCustody(Part):
    """The server's record of what is in one of this kiosk's slots (the custody picture a
    kiosk rebuilds from after losing its state, and checks its own against)."""

    slot: SlotNumber
    custody_id: CustodyId
    pupil_ref: PupilRef
    held: bool = False


class StaffEntry(Part):
    """A staff card that may enter staff mode with its PIN."""

    card: CardHash
    staff_ref: StaffRef
    pin_hash: PinHash


class KioskSettings(Part):
    """School settings the kiosk needs to decide alone."""

    assignment: Literal["fixed", "dynamic"] = "dynamic"
    timezone: Text = "Europe/London"
    door_open_alarm_s: int = Field(default=60, ge=5, le=3600)
    late_after: ClockTime | None = None


class PolicySnapshot(WireModel):
    """The whole replica for one kiosk; retained, so a connecting kiosk catches up."""

    kiosk: Id
    site: Id
    version: int = Field(ge=1)
    generated_at: Timestamp
    settings: KioskSettings
    days: list[ReleaseDay]
    cards: list[CardEntry]
    staff: list[StaffEntry] = Field(default_factory=list)
    # What the server believes is in each of this kiosk's occupied slots.
    custody: list[SlotCustody] = Field(default_factory=list)


class PolicyUpdate(WireModel):
    """A small change on top of ``base_version``; a kiosk on another version waits for the
    retained snapshot instead of applying it."""

    kiosk: Id
    site: Id
    version: int = Field(ge=2)
    base_version: int = Field(ge=1)
    generated_at: Timestamp
    upsert_cards: list[CardEntry] = Field(default_factory=list)
    remove_cards: list[CardHash] = Field(default_factory=list)
    upsert_staff: list[StaffEntry] = Field(default_factory=list)
    remove_staff: list[CardHash] = Field(default_factory=list)
    days: list[ReleaseDay] | None = None
    settings: KioskSettings | None = None
    custody: list[SlotCustody] | None = None  # the whole picture again when it changed


# --- commands (server -> kiosk) and their acknowledgements ------------------------------


class CommandKind(StrEnum):
    """What the server can ask a kiosk to do."""

    REMOTE_UNLOCK = "remote_unlock"
    EMERGENCY_OPEN = "emergency_open"
    RESYNC = "resync"
    SET_MODE = "set_mode"


class Command(WireModel):
    """A command, with who asked, why, and until when it may be carried out."""

    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
    kiosk: Id
    kind: CommandKind
    actor: StaffRef
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    issued_at: Timestamp
    expires_at: Timestamp
    slot: SlotNumber | None = None
    purpose: Literal["parent_collection", "early_release", "staff", "fault_fix",
                     "fire_alarm", "drill", "dsl_handover", "police_handover",
                     "return_to_pupil"] | None = None
    mode: Literal[KioskMode.NORMAL, KioskMode.MAINTENANCE] | None = None
    # A remote unlock names the custody record it opens for and whose device that is: the
    # kiosk opens only if its own record of the slot matches, else refuses (DESIGN: custody).
    custody_id: CustodyId | None = None
    expected_pupil_ref: PupilRef | None = None


class CommandOutcome(StrEnum):
    """What physically happened."""

    DOOR_OPENED = "door_opened"
    DOOR_ALREADY_OPEN = "door_already_open"
    DOOR_DID_NOT_OPEN = "door_did_not_open"
    DONE = "done"
    REFUSED = "refused"
    EXPIRED = "expired"
    DUPLICATE = "duplicate"


class SlotOutcome(Part):
    """The outcome for one slot of a command that touches several."""

    slot: SlotNumber
    outcome: CommandOutcome


class CommandAck(WireModel):
    """The kiosk's answer to a command."""

    command_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
    kiosk: Id
    at: Timestamp
    outcome: CommandOutcome
    detail: Text | None = None
    slots: list[SlotOutcome] = Field(default_factory=list)
