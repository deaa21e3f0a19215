"""The ``[oidc]`` section of server.toml and its mapping rules: what a school's IT writes, and
what the server refuses to start with (a rule that would hand out a default role)."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import load
from server.errors import ServerConfigError
from server.oidc_config import MappingRule

GOOD = """
[database]
url = "sqlite:///lockers.db"
[oidc]
enabled = true
provider_name = "Microsoft 365"
server_metadata_url = "https://login.microsoftonline.com/tenant-id/v2.0/.well-known/openid-configuration"
client_id = "11111111-2222-3333-4444-555555555555"
client_secret_file = "oidc-client.secret"
local_passwords = "admins_only"

[[oidc.rules]]
group = "6f1c-north-office"
role = "office"
site = "north"

[[oidc.rules]]
email_domain = "trust.example"
role = "trust"
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "oidc-client.secret").write_text("s3cret from the app registration\n")
    path = tmp_path / "server.toml"
    path.write_text(text)
    return path


def test_the_trusts_settings_load_with_the_secret_read_from_its_own_file(tmp_path: Path
                                                                         ) -> None:
    oidc = load(write(tmp_path, GOOD)).oidc
    assert oidc.enabled and oidc.client_secret == "s3cret from the app registration"
    assert [r.role for r in oidc.rules] == ["office", "trust"]
    assert oidc.rules[1].site is None  # a trust role covers every school
    assert oidc.local_password_allowed("admin") and not oidc.local_password_allowed("office")


@pytest.mark.parametrize(("change", "complaint"), [
    ('[[oidc.rules]]\nrole = "office"\nsite = "north"\n', "needs group, email or email_domain"),
    ('[[oidc.rules]]\ngroup = "g"\nrole = "office"\n', "needs the site code"),
    ('[[oidc.rules]]\ngroup = "g"\nrole = "head"\nsite = "north"\n', "role must be one of"),
])
def test_a_rule_that_could_give_anyone_a_role_stops_the_server_with_a_reason(
        tmp_path: Path, change: str, complaint: str) -> None:
    with pytest.raises(ServerConfigError, match=complaint):
        load(write(tmp_path, GOOD + change))


def test_enabled_without_rules_or_client_id_says_what_is_missing(tmp_path: Path) -> None:
    without_rules = GOOD.split("[[oidc.rules]]")[0]
    with pytest.raises(ServerConfigError, match="no \\[\\[oidc.rules\\]\\]"):
        load(write(tmp_path, without_rules))
    with pytest.raises(ServerConfigError, match="client_id is not set"):
        load(write(tmp_path, without_rules.replace('client_id = "1111', 'x = "1111')
                   .replace("x = ", "# ")))


def test_an_address_counts_only_when_the_provider_verified_it() -> None:
    by_domain = MappingRule(role="office", site="north", email_domain="north.example")
    assert by_domain.matches("Tess@North.Example", True, frozenset())
    assert not by_domain.matches("tess@north.example", False, frozenset())
    assert not by_domain.matches("tess@evilnorth.example", True, frozenset())
    both = MappingRule(role="dsl", site="north", group="dsl", email_domain="north.example")
    assert not both.matches("tess@north.example", True, frozenset({"office"}))
    assert both.matches("tess@north.example", True, frozenset({"dsl"}))
