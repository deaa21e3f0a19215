"""The one error type of the wire contract."""

from lockers.errors import LockersError


class WireError(LockersError, ValueError):
    """A topic or payload that does not follow the wire contract.

    Receivers catch this, count it and log it; it never changes state.
    """
