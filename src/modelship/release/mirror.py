"""Before a shadow step changes anything: can the route's Gateway mirror requests?

A shadow step mirrors with the HTTPRoute `RequestMirror` filter (an extended Gateway API
feature) or, with `traffic.gatewayApi.mirror: traefikService`, with a Traefik TraefikService
of kind mirroring (Traefik's Gateway API provider has no RequestMirror). An implementation
without the filter may refuse the whole rule (Traefik's provider then answers 500 for every
request on the route), and a TraefikService nobody serves leaves the route without a backend,
so the deploy must stop before the lock and helm when the chosen way is not there.
Implementations list what they support in their GatewayClass's `status.supportedFeatures`
(Gateway API >= 1.2; `HTTPRouteRequestMirror`): that list decides the filter. A class that
lists nothing cannot be shown to mirror, which is refused too (exit 2).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelship.errors import ConfigError, InfraError
from modelship.release import kube

FEATURE = "HTTPRouteRequestMirror"
GROUP, VERSION = "gateway.networking.k8s.io", "v1"
TRAEFIK = "traefik.io/gateway-controller"
TRAEFIK_GROUP, TRAEFIK_VERSION = "traefik.io", "v1alpha1"


def parent_refs(values: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    traffic = values.get("traffic")
    api = traffic.get("gatewayApi") if isinstance(traffic, Mapping) else None
    refs = api.get("parentRefs") if isinstance(api, Mapping) else None
    return [r for r in refs or [] if isinstance(r, Mapping) and r.get("name")]


def check(api: Any, namespace: str, values: Mapping[str, Any], *,
          config_file: str | None = None) -> list[str]:
    """The Gateways (namespace/name) that will mirror; ConfigError (exit 2, naming
    deploy.canary.shadow) when one of the route's Gateways cannot, or the route has none."""
    refs = parent_refs(values)
    if not refs:
        raise ConfigError("mirroring needs the route attached to a Gateway; "
                          "deploy.values.traffic.gatewayApi.parentRefs is empty",
                          file=config_file, key="deploy.canary.shadow")
    via_traefik = _method(values) == "traefikService"
    checked = []
    for ref in refs:
        where = f"{ref.get('namespace') or namespace}/{ref['name']}"
        features, controller = _class_features(api, where)
        if via_traefik:
            _check_traefik(api, namespace, where, controller, config_file)
        elif FEATURE not in features:
            listed = "lists no supported features" if not features else \
                f"does not list {FEATURE} among {len(features)} supported features"
            hint = ("drop canary.shadow, or attach the route to a Gateway whose class "
                    f"supports {FEATURE}")
            if TRAEFIK in controller:
                hint = ("Traefik mirrors with a TraefikService: set deploy.values.traffic."
                        "gatewayApi.mirror: traefikService (needs Traefik's kubernetesCRD "
                        "provider and its CRDs)")
            raise ConfigError(
                f"the Gateway {where} ({controller}) {listed}: it cannot be shown to mirror "
                "requests, and a route with a filter it does not support may fail every "
                "request. Nothing was changed", file=config_file, key="deploy.canary.shadow",
                hint=hint)
        checked.append(where)
    return checked


def needed(values: Mapping[str, Any], strategy: str, shadow: bool) -> bool:
    """Whether `check` must run: a canary with a shadow step, or a canary in gateway-api mode
    whose chart renders a TraefikService (mirror: traefikService) even without one."""
    from modelship.release.values import traffic_mode  # values -> strategy -> mirror

    return strategy == "canary" and (shadow or (
        traffic_mode(values) == "gateway-api" and _method(values) == "traefikService"))


def _method(values: Mapping[str, Any]) -> str:
    traffic = values.get("traffic")
    api = traffic.get("gatewayApi") if isinstance(traffic, Mapping) else None
    method = api.get("mirror") if isinstance(api, Mapping) else None
    return str(method or "requestMirror")


def _check_traefik(api: Any, namespace: str, gateway: str, controller: str,
                   config_file: str | None) -> None:
    """mirror: traefikService needs a Traefik Gateway and the TraefikService kind served in
    the release's namespace (Traefik's CRDs); the kubernetesCRD provider itself cannot be
    seen from the API, and without it the shadow step reads no canary requests (inconclusive,
    never passed)."""
    key = "deploy.values.traffic.gatewayApi.mirror"
    if TRAEFIK not in controller:
        raise ConfigError(f"mirror: traefikService needs a Traefik Gateway; {gateway} is "
                          f"{controller}. Nothing was changed", file=config_file, key=key,
                          hint="use mirror: requestMirror where the class supports "
                               f"{FEATURE}")
    from kubernetes import client

    try:
        client.CustomObjectsApi(api).list_namespaced_custom_object(
            TRAEFIK_GROUP, TRAEFIK_VERSION, namespace, "traefikservices", limit=1)
    except kube.api_errors() as e:
        status = getattr(e, "status", None)
        if status == 404:
            raise ConfigError("mirror: traefikService, but the cluster does not serve "
                              f"traefikservices.{TRAEFIK_GROUP}/{TRAEFIK_VERSION}. Nothing "
                              "was changed", file=config_file, key=key,
                              hint="install Traefik's CRDs and enable its kubernetesCRD "
                                   "provider") from None
        if status == 403:
            raise ConfigError(f"cannot list traefikservices in {namespace} (HTTP 403)",
                              file=config_file, key=key,
                              hint="allow list and create on traefikservices "
                                   f"({TRAEFIK_GROUP})") from None
        raise InfraError(f"reading traefikservices in {namespace}: {e}") from None


def _class_features(api: Any, gateway: str) -> tuple[set[str], str]:
    """(supported feature names, 'class X, controller Y') of the class behind `gateway`."""
    from kubernetes import client

    custom: Any = client.CustomObjectsApi(api)
    namespace, name = gateway.split("/", 1)
    try:
        found = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "gateways", name)
        class_name = found.get("spec", {}).get("gatewayClassName", "")
        gateway_class = custom.get_cluster_custom_object(GROUP, VERSION, "gatewayclasses",
                                                         class_name)
    except kube.api_errors() as e:
        status = getattr(e, "status", None)
        if status == 404:
            raise ConfigError(f"the route's Gateway {gateway} or its GatewayClass does not "
                              "exist", key="deploy.values.traffic.gatewayApi.parentRefs") \
                from None
        if status == 403:
            raise ConfigError(f"cannot read the Gateway {gateway} and its GatewayClass to "
                              f"tell whether it mirrors requests (HTTP 403)",
                              key="deploy.canary.shadow",
                              hint="allow get on gateways and gatewayclasses "
                                   "(gateway.networking.k8s.io)") from None
        raise InfraError(f"reading the Gateway {gateway}: {e}") from None
    listed = gateway_class.get("status", {}).get("supportedFeatures") or []
    # Gateway API >= 1.2 lists {name: ...}; 1.1 listed plain strings
    names = {f.get("name") if isinstance(f, Mapping) else f for f in listed}
    controller = gateway_class.get("spec", {}).get("controllerName", "?")
    return {n for n in names if isinstance(n, str)}, f"class {class_name}, {controller}"
