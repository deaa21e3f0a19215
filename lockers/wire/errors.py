"""The one error type of the wire contract."""


class WireError(ValueError):
    """A topic or payload that does not follow the wire contract.

    Receivers catch this, count it and log it; it never changes state.
    """
