"""Every table of the server's database (SQLAlchemy 2.x typed models)."""

from server.models.audit import AuditEntry, AuditHead
from server.models.base import Base, UTCDateTime
from server.models.calendar import CalendarDay, Term
from server.models.notifications import Notification, NotifySettings
from server.models.operations import Alarm, Command, Event
from server.models.people import Card, Pupil, Staff
from server.models.records import (
    Confiscation,
    Deposit,
    EarlyRelease,
    EligibilityAgreement,
    PupilException,
)
from server.models.school import Kiosk, Site, Slot

__all__ = [
    "Alarm", "AuditEntry", "AuditHead", "Base", "CalendarDay", "Card", "Command",
    "Confiscation", "Deposit", "EarlyRelease", "EligibilityAgreement", "Event", "Kiosk",
    "Notification", "NotifySettings", "Pupil", "PupilException", "Site", "Slot", "Staff",
    "Term", "UTCDateTime",
]
