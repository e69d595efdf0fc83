"""Property-based: schemathesis generates requests from the OpenAPI document (valid and
invalid ones), sends them over loopback HTTP, and checks the answers: never a server
error, only documented status codes, bodies that match the documented schemas."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from conftest import ApiCaller, add_partner, add_shipment, config_dict
from hypothesis import HealthCheck, settings
from schemathesis.checks import missing_required_header, positive_data_acceptance

from libfed.kernel.config import parse_config
from libfed.kernel.db import Database
from libfed.root.app import create_app


def _served_document() -> dict:
    """The document as the application serves it, every package's operations in it;
    made before any test runs, so from an application that never opens its database
    (a configured secret key, and nothing else is read before a request)."""
    configured = config_dict("sqlite:////nonexistent/never-opened.db")
    configured["server"] = {"secret_key": "s" * 32}
    app = create_app(parse_config(configured), Database(configured["database"]["url"]))
    return app.test_client().get("/api/v1/openapi.json").get_json()


schema = schemathesis.openapi.from_dict(_served_document())


@pytest.fixture
def seeded_server(live_server: str, client, tokens: dict[str, str]) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A ledger with something in it, so that ids 1 and 2 exist; yields the base URL."""
    coordinator = ApiCaller(client, tokens["coordinator"])
    turkey = add_partner(coordinator)
    home = add_partner(coordinator, "Bakı Dövlət Universiteti", "AZ")
    coordinator.create(
        "/agreements", {"partner_id": turkey["id"], "basis": "gift", "start_date": "2024-01-01"}
    )
    add_shipment(coordinator, turkey["id"])
    add_shipment(coordinator, home["id"], "incoming")
    yield live_server.removesuffix("/oai")


@schema.parametrize()
@settings(
    # The same examples on every run: a failure in CI is then one a developer sees too
    # (random ones found the four bugs fixed so far; widen them here when hunting again).
    derandomize=True,
    database=None,
    max_examples=25,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_the_api_keeps_its_documented_promises(  # type: ignore[no-untyped-def]
    case, seeded_server: str, tokens: dict[str, str]
) -> None:
    case.call_and_validate(
        base_url=seeded_server,
        headers={"Authorization": f"Bearer {tokens['admin']}"},
        excluded_checks=[
            # A schema-valid body may still name a partner that does not exist or a move
            # the state machine forbids: 404/409/422 are the documented answers there.
            positive_data_acceptance,
            # A missing If-Match is answered 428 Precondition Required (RFC 6585), which
            # this check does not know; test_exchange_api asserts the 428 itself.
            missing_required_header,
        ],
    )
