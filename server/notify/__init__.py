"""Telling people: a durable outbox, a sender that sends each message at most once, channels
(SMTP e-mail, Apprise for SMS and chat), and who hears what (see triggers.py for the hooks).
"""

from server.notify.outbox import About, enqueue
from server.notify.recipients import Recipient, recipients_for_pupil
from server.notify.sender import Sender
from server.notify.triggers import (
    device_handed_over,
    device_held_for_parent,
    office_told_of_held_device,
)

__all__ = ["About", "Recipient", "Sender", "device_handed_over", "device_held_for_parent",
           "office_told_of_held_device",
           "enqueue", "recipients_for_pupil"]
