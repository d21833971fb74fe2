"""Reach a release's Services from wherever `modelship deploy` runs, through the API server.

A GitHub runner has the cluster's kubeconfig but no route to Service IPs or cluster DNS, so the
analysis probes call the API server's service proxy
(`/api/v1/namespaces/NS/services/NAME:PORT/proxy/...`) with the kubeconfig's credentials:
bearer token (refreshed for exec plugins such as EKS/GKE/AKS logins), client certificate, CA.
The API server forwards to one ready pod of the Service and passes its answer through.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    import requests


def service_url(api: Any, namespace: str, service: str, port: int) -> str:
    """Base URL of `service` through the API server; serve.* paths are appended to it."""
    host = str(api.configuration.host).rstrip("/")
    return (f"{host}/api/v1/namespaces/{quote(namespace, safe='')}/services/"
            f"{quote(service, safe='')}:{port}/proxy")


class Sessions:
    """Makes HTTP sessions that authenticate to the API server as the kube client does.
    Called once per thread by the serving client; each call reads the token anew, so a token
    refreshed by an exec plugin is picked up between steps."""

    def __init__(self, api: Any) -> None:
        self.configuration = api.configuration

    def __call__(self) -> requests.Session:
        import requests
        from requests.utils import should_bypass_proxies

        c = self.configuration
        session = requests.Session()
        for setting in c.auth_settings().values():  # refreshes exec-plugin tokens
            if setting.get("in") == "header" and setting.get("value"):
                session.headers[setting["key"]] = setting["value"]
        if c.cert_file:
            session.cert = (c.cert_file, c.key_file) if c.key_file else c.cert_file
        session.verify = (c.ssl_ca_cert or True) if c.verify_ssl else False
        # the kube client's own proxy choice (kubeconfig proxy-url, else *_PROXY / NO_PROXY)
        session.trust_env = False
        if c.proxy and not should_bypass_proxies(str(c.host), no_proxy=c.no_proxy):
            session.proxies = {"http": c.proxy, "https": c.proxy}
        return session
