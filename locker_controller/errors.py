"""The one exception base of the kiosk controller."""

from lockers.errors import LockersError


class ControllerError(LockersError, RuntimeError):
    """A kiosk problem, with a message a school's IT person can act on."""

