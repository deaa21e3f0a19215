"""One exception base for the server, with messages a school's IT person can act on."""

from __future__ import annotations

from lockers.errors import LockersError


class ServerError(LockersError):
    """Base of every error the server raises on purpose."""


class NotFound(ServerError, LookupError):
    """A record named by the caller does not exist."""


class NotAllowed(ServerError, PermissionError):
    """The action breaks a school rule (e.g. releasing a device handed to the police)."""


class Forbidden(NotAllowed):
    """The staff member's role does not allow this action (or the account is disabled)."""


class ServerConfigError(ServerError, ValueError):
    """The server's configuration file is missing or wrong."""


class AuditChainBroken(ServerError):
    """The audit log has been edited or rows deleted behind the application's back."""


class DatabaseNotReady(ServerError):
    """The database cannot be used: never initialised, behind the code's schema, or corrupt.
    Raised once at start-up with the command that fixes it."""
