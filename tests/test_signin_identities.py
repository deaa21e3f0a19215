"""Turning a verified identity into a staff account (server.services.identities) on the real
database: linking an existing account, a rule naming a school that does not exist, two
identities wanting one account, and the provider being unreachable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from lockers.broker import free_port
from server.models import Staff, StaffIdentity
from server.oidc_config import MappingRule, OidcSettings
from server.services import Services
from server.services.identities import Identity, IdentityRefused
from tests.oidc_kit import lockers_web, school_services

ISSUER = "https://login.microsoftonline.com/tenant/v2.0"
OFFICE = (MappingRule(role="office", site="north", group="office"),)


def identity(subject: str, email: str, groups: tuple[str, ...] = ("office",),
             **claims: object) -> Identity:
    return Identity.from_claims({"iss": ISSUER, "sub": subject, "email": email,
                                 "name": "Olu Office", "groups": list(groups), **claims})


@pytest.fixture
def services(tmp_path: Path, each_database: str) -> Iterator[Services]:
    """The test school on a migrated database: SQLite, then PostgreSQL."""
    services = school_services(tmp_path)
    yield services
    services.store.dispose()


def test_an_existing_account_named_by_the_address_is_linked_not_duplicated(
        services: Services) -> None:
    services.admin.create_staff("admin", "olu@north.example", "Olu Office", "office",
                                "office pass 2")
    who = services.identities.sign_in(identity("sub-olu", "Olu@North.example"), OFFICE,
                                      "10.0.0.5")
    assert who.username == "olu@north.example"
    with services.store.read() as s:
        assert s.scalars(select(StaffIdentity.staff_id)).one() == who.id
        assert len(s.scalars(select(Staff)).all()) == 4  # admin, office1, head, olu


def test_a_second_identity_cannot_take_over_an_already_linked_account(
        services: Services) -> None:
    services.identities.sign_in(identity("sub-1", "olu@north.example"), OFFICE, "10.0.0.5")
    with pytest.raises(IdentityRefused, match="already linked"):
        services.identities.sign_in(identity("sub-2", "olu@north.example"), OFFICE, "10.0.0.6")


def test_an_unverified_address_earns_no_role_by_its_domain(services: Services) -> None:
    by_domain = (MappingRule(role="office", site="north", email_domain="north.example"),)
    with pytest.raises(IdentityRefused, match="not given access"):
        services.identities.sign_in(identity("sub-x", "x@north.example", (),
                                             email_verified=False), by_domain, "10.0.0.5")


def test_a_rule_naming_a_school_that_does_not_exist_says_which(services: Services) -> None:
    typo = (MappingRule(role="office", site="nroth", group="office"),)
    with pytest.raises(IdentityRefused, match="'nroth', which does not exist"):
        services.identities.sign_in(identity("sub-1", "olu@north.example"), typo, "10.0.0.5")


def test_an_unreachable_provider_gives_a_page_that_says_so(services: Services) -> None:
    port = free_port()
    nowhere = OidcSettings(enabled=True, provider_name="Trust 365", client_id="lockers",
                           client_secret="s", rules=OFFICE,
                           server_metadata_url=f"http://127.0.0.1:{free_port()}/.well-known/"
                                               "openid-configuration")
    with lockers_web(services, port, nowhere) as base, httpx.Client(base_url=base) as http:
        answer = http.get("/signin/oidc")
    assert answer.status_code == 502
    assert "could not be reached" in answer.text and "local account" in answer.text
