"""Every table of the server's database (SQLAlchemy 2.x typed models)."""

from server.models.audit import AuditEntry, AuditHead
from server.models.base import Base, UTCDateTime
from server.models.calendar import CalendarDay, Term
from server.models.contacts import PupilContact
from server.models.custody import CustodyMove, CustodyRecord
from server.models.groups import GroupMember, GroupWindow, PupilGroup
from server.models.identities import StaffIdentity
from server.models.imports import RosterMapping
from server.models.ingest import PendingEvent
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
from server.models.registers import Absence, OffSite, PhoneRegister
from server.models.school import Kiosk, Site, Slot
from server.models.security import CredentialGuard, WebSession

__all__ = [
    "Absence", "Alarm", "AuditEntry", "AuditHead", "Base", "CalendarDay", "Card", "Command",
    "Confiscation", "CredentialGuard", "CustodyMove", "CustodyRecord", "Deposit",
    "EarlyRelease", "EligibilityAgreement", "Event", "GroupMember", "GroupWindow", "Kiosk",
    "OffSite", "PhoneRegister", "Pupil", "PupilContact", "PupilException", "PupilGroup",
    "RosterMapping", "Site", "Slot", "Staff", "StaffIdentity", "Term", "UTCDateTime", "WebSession",
    "Notification", "NotifySettings", "PendingEvent",
]
