"""An API fuzz pass (schemathesis) over every JSON endpoint in the OpenAPI description:
whatever is sent, signed in or not, the server never answers with a 5xx."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from server.migrate import upgrade
from server.services import Services
from server.store import Store
from server.web.app import create_app
from tests.server_kit import make_clock, seed


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def web_schema(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[Any]:
    """The seeded school's API description, served in-process: once on SQLite and once on
    PostgreSQL (one database for the module: the fuzz pass is slow enough on one)."""
    cluster = None
    if request.param == "postgresql":
        cluster = request.getfixturevalue("postgres_cluster")
        url = cluster.create_database()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'lockers.db'}"
    upgrade(url)
    services = Services(Store(url), make_clock())
    seed(services)
    app = create_app(services)
    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.app = app  # requests go to the app in-process (ASGI)
    yield schema
    services.store.dispose()
    if cluster is not None:
        cluster.drop_database(url)


OFFICE = "Basic " + base64.b64encode(b"office1:office pass").decode()


# Its own time limit: a minute of fuzzing per database when the machine is quiet, and over
# pytest's 120 s default beside the full suite and two CPU hogs.
@pytest.mark.timeout(480)
def test_no_json_endpoint_answers_with_a_server_error(web_schema: Any) -> None:
    operations = [result.ok() for result in web_schema.get_all_operations()]
    assert len(operations) >= 5
    for operation in operations:
        for auth in (OFFICE, None):  # signed in, and not
            fuzz_operation(operation, auth)


def fuzz_operation(operation: Any, auth: str | None) -> None:
    """Send generated requests to one operation; fail on any 5xx."""

    @given(case=operation.as_strategy())
    @settings(max_examples=20, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case: Any) -> None:
        if auth:
            case.headers = {**(case.headers or {}), "Authorization": auth}
        case.call_and_validate(checks=[not_a_server_error])

    fuzz()


def test_the_openapi_description_lists_the_json_endpoints(web_schema: Any) -> None:
    paths = set(web_schema.raw_schema["paths"])
    assert {"/api/pupils/{pupil_ref}/cards", "/api/cards/lost", "/healthz"} <= paths
    assert not any(p.startswith(("/console", "/dashboard", "/signin")) for p in paths)


