"""The probes' way into the cluster: the API server's service proxy URL and sessions that carry
the kube client's credentials (the live path is tested in tests/integration/release)."""

from __future__ import annotations

from pathlib import Path

from kubernetes.client import ApiClient, Configuration

from modelship.release import proxy
from modelship.release.analysis.base import Endpoint


def api(**settings: object) -> ApiClient:
    configuration = Configuration(host="https://10.0.0.1:6443/")
    for name, value in settings.items():
        setattr(configuration, name, value)
    return ApiClient(configuration)


def test_service_url_names_namespace_service_and_port() -> None:
    url = proxy.service_url(api(), "prod", "sentiment-canary", 80)
    assert url == ("https://10.0.0.1:6443/api/v1/namespaces/prod/services/"
                   "sentiment-canary:80/proxy")
    endpoint = Endpoint(url, "2.0.0")
    assert endpoint.url("/predict") == url + "/predict"
    assert endpoint.url("v1/models/m:predict") == url + "/v1/models/m:predict"


def test_sessions_carry_the_bearer_token_and_read_it_anew() -> None:
    tokens = iter(["first", "second"])
    client = api(api_key={"authorization": "t0"}, api_key_prefix={"authorization": "Bearer"})

    def refresh(configuration: Configuration) -> None:  # what an exec plugin's loader does
        configuration.api_key["authorization"] = next(tokens)

    client.configuration.refresh_api_key_hook = refresh
    sessions = proxy.Sessions(client)
    assert sessions().headers["authorization"] == "Bearer first"
    assert sessions().headers["authorization"] == "Bearer second"


def test_sessions_use_client_certificate_and_ca(tmp_path: Path) -> None:
    cert, key, ca = (str(tmp_path / name) for name in ("c.pem", "k.pem", "ca.pem"))
    session = proxy.Sessions(api(cert_file=cert, key_file=key, ssl_ca_cert=ca))()
    assert session.cert == (cert, key)
    assert session.verify == ca
    assert "authorization" not in session.headers
    assert session.trust_env is False
    insecure = proxy.Sessions(api(verify_ssl=False))()
    assert insecure.verify is False


def test_sessions_follow_the_kube_clients_proxy_and_no_proxy() -> None:
    through = proxy.Sessions(api(proxy="http://proxy.corp:3128"))()
    assert through.proxies == {"http": "http://proxy.corp:3128", "https": "http://proxy.corp:3128"}
    bypassed = proxy.Sessions(api(proxy="http://proxy.corp:3128", no_proxy="10.0.0.1"))()
    assert bypassed.proxies == {}
