"""When `deploy` asks the Gateway whether it can mirror (release/mirror.py): the reading of
the Gateway itself is shown on the real test bed (tests/integration/release/
test_release_gateway.py)."""

from __future__ import annotations

import pytest

from modelship.release import mirror

TRAEFIK = {"traffic": {"mode": "gateway-api", "gatewayApi": {"mirror": "traefikService"}}}


@pytest.mark.parametrize(("values", "strategy", "shadow", "needed"), [
    pytest.param({}, "canary", True, True, id="shadow-step"),
    pytest.param({}, "canary", False, False, id="plain-canary"),
    # the chart renders a TraefikService for every canary: its CRD must be served
    pytest.param(TRAEFIK, "canary", False, True, id="traefik-service-without-shadow"),
    pytest.param(TRAEFIK, "blue-green", False, False, id="blue-green-renders-none"),
    pytest.param({"traffic": {"mode": "replicas", "gatewayApi": {"mirror": "traefikService"}}},
                 "canary", False, False, id="no-route"),
])
def test_the_gateway_is_asked_before_anything_that_mirrors(
        values: dict[str, object], strategy: str, shadow: bool, needed: bool) -> None:
    assert mirror.needed(values, strategy, shadow) is needed
