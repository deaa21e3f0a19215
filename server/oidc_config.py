"""The ``[oidc]`` section of server.toml: signing in with the trust's accounts (Microsoft Entra
ID or Google Workspace) and the rules that turn an identity into a staff role and school.

    [oidc]
    enabled = true
    provider_name = "Microsoft 365"               # the button says "Sign in with Microsoft 365"
    server_metadata_url = "<the provider's discovery URL: see docs/signin-oidc.md>"
    client_id = "<application (client) id>"
    client_secret_file = "oidc-client.secret"     # beside server.toml; or client_secret = "..."
    scopes = "openid email profile"
    redirect_uri = "https://lockers.trust.example/signin/oidc/callback"  # what is registered
    local_passwords = "everyone"                  # or "admins_only": break-glass admins only

    [[oidc.rules]]                                # the first rule that matches decides
    group = "0b6f...-group-object-id"             # a value of the ID token's groups claim
    role = "office"
    site = "north"                                # a site code; leave out for trust roles

    [[oidc.rules]]
    email_domain = "north.school.example"
    role = "office"
    site = "north"

An identity no rule matches is refused: there is no default role.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from server.errors import ServerConfigError

ROLES = ("office", "dsl", "leadership", "admin", "trust")
LOCAL_PASSWORDS = ("everyone", "admins_only")


@dataclass(frozen=True)
class MappingRule:
    """One rule: an identity in ``group``, or with exactly ``email``, or an address at
    ``email_domain``, becomes a ``role`` at ``site`` (None: every school, for trust roles).
    A rule naming several conditions needs all of them."""

    role: str
    site: str | None = None
    group: str | None = None
    email: str | None = None
    email_domain: str | None = None

    def matches(self, email: str | None, email_verified: bool, groups: frozenset[str]) -> bool:
        """True if an identity with this address and these groups meets every condition."""
        address = (email or "").strip().lower()
        if self.group is not None and self.group not in groups:
            return False
        # An address the provider has not verified cannot earn a role by its address.
        if (self.email or self.email_domain) and not (address and email_verified):
            return False
        if self.email is not None and address != self.email.lower():
            return False
        return self.email_domain is None or address.endswith("@" + self.email_domain.lower())


@dataclass(frozen=True)
class OidcSettings:
    """Everything the OpenID Connect sign-in needs (off unless ``enabled``)."""

    enabled: bool = False
    provider_name: str = "your school account"
    server_metadata_url: str = ""
    client_id: str = ""
    client_secret: str = ""
    scopes: str = "openid email profile"
    # The callback URL registered at the provider; by default built from the request, which
    # is only right when nothing (a proxy) rewrites the host or scheme.
    redirect_uri: str | None = None
    local_passwords: str = "everyone"
    clock_skew_s: int = 120  # accepted difference between the provider's clock and ours
    rules: tuple[MappingRule, ...] = field(default_factory=tuple)

    def local_password_allowed(self, role: str) -> bool:
        """May an account with ``role`` sign in with a local password?"""
        return (not self.enabled or self.local_passwords == "everyone" or role == "admin")


def load_oidc(config_path: Path, data: dict[str, Any]) -> OidcSettings:
    """The ``[oidc]`` section, checked, with ``client_secret_file`` read (relative to
    server.toml's folder)."""
    data = dict(data)
    secret_file = data.pop("client_secret_file", None)
    if secret_file:
        path = Path(secret_file)
        path = path if path.is_absolute() else config_path.resolve().parent / path
        try:
            data["client_secret"] = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ServerConfigError(f"[oidc] client_secret_file {path}: {exc}") from None
    rules = tuple(_rule(i, r) for i, r in enumerate(data.pop("rules", [])))
    known = {f.name for f in fields(OidcSettings)} - {"rules"}
    unknown = set(data) - known
    if unknown:
        raise ServerConfigError(f"[oidc] has unknown keys {sorted(unknown)}; "
                                f"known: {sorted(known | {'rules', 'client_secret_file'})}")
    settings = OidcSettings(**data, rules=rules)
    _check(settings)
    return settings


def _rule(index: int, data: dict[str, Any]) -> MappingRule:
    where = f"[[oidc.rules]] number {index + 1}"
    known = {f.name for f in fields(MappingRule)}
    if set(data) - known:
        raise ServerConfigError(f"{where} has unknown keys {sorted(set(data) - known)}; "
                                f"known: {sorted(known)}")
    rule = MappingRule(**data)
    if rule.role not in ROLES:
        raise ServerConfigError(f"{where}: role must be one of {list(ROLES)}, not {rule.role!r}")
    if not (rule.group or rule.email or rule.email_domain):
        # A rule with no condition would be a default role for anyone the provider knows.
        raise ServerConfigError(f"{where} needs group, email or email_domain")
    if rule.site is None and rule.role != "trust":
        raise ServerConfigError(f"{where}: a {rule.role} rule needs the site code it is for")
    return rule


def _check(settings: OidcSettings) -> None:
    if settings.local_passwords not in LOCAL_PASSWORDS:
        raise ServerConfigError(f"[oidc] local_passwords must be one of {list(LOCAL_PASSWORDS)}")
    if not settings.enabled:
        return
    missing = [name for name in ("server_metadata_url", "client_id", "client_secret")
               if not getattr(settings, name)]
    if missing:
        raise ServerConfigError(f"[oidc] is enabled but {', '.join(missing)} is not set: copy "
                                "them from the app registration (see docs/signin-oidc.md)")
    if not settings.rules:
        raise ServerConfigError("[oidc] is enabled but has no [[oidc.rules]]: nobody could "
                                "sign in (see docs/signin-oidc.md)")
