"""One exception base for the server, with messages a school's IT person can act on."""

from __future__ import annotations


class ServerError(Exception):
    """Base of every error the server raises on purpose."""


class NotFound(ServerError):
    """A record named by the caller does not exist."""


class NotAllowed(ServerError):
    """The action breaks a school rule (e.g. releasing a device handed to the police)."""


class Forbidden(NotAllowed):
    """The staff member's role does not allow this action (or the account is disabled)."""


class ConfigError(ServerError):
    """The server's configuration file is missing or wrong."""


class AuditChainBroken(ServerError):
    """The audit log has been edited or rows deleted behind the application's back."""
