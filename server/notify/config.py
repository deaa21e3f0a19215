"""The ``[notify]`` section of server.toml: where messages go out, and how hard to try.

    [notify]
    enabled = true                      # false (the default): messages queue, nothing is sent
    sender = "Phone lockers <lockers@school.example>"
    smtp_host = "smtp.school.example"
    smtp_port = 587
    smtp_security = "starttls"          # none | starttls | ssl
    smtp_username = "lockers"
    smtp_password_file = "secrets/smtp.password"
    [notify.channels]                   # Apprise URLs, one per channel name
    sms = "twilio://SID:TOKEN@+441234567890/{to}"   # {to}: the recipient's number
    dsl_chat = "msteams://..."          # named by a site's dsl_chat setting
"""

from __future__ import annotations

from dataclasses import dataclass, field

SECURITY = ("none", "starttls", "ssl")


@dataclass(frozen=True)
class NotifyConfig:
    """How the sender reaches the world. The defaults keep the demo quiet: nothing is sent."""

    enabled: bool = False
    sender: str = "Phone lockers <lockers@localhost>"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_security: str = "none"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_s: float = 30.0
    smtp_ca_file: str | None = None  # a school relay's own CA; default: the system's CAs
    channels: dict[str, str] = field(default_factory=dict)
    poll_s: float = 5.0
    backoff_first_s: float = 30.0
    backoff_max_s: float = 3600.0
    max_attempts: int = 12  # about 17 hours of trying with the defaults, then "failed"
    # A claim older than this was left by a sender that died mid-send (see docs/adr/0003).
    claim_timeout_s: float = 600.0
