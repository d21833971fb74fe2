"""A kubernetes API client for the release's cluster (KUBECONFIG and deploy.kube_context, or
in-cluster), and one place that turns API failures into modelship errors."""

from __future__ import annotations

import os
from typing import Any

from modelship import kubeconfig
from modelship.errors import InfraError, UsageError


def client(kube_context: str | None) -> Any:
    """An ApiClient; KUBECONFIG is read now (the library fixes its default at import)."""
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    files = os.environ.get("KUBECONFIG", os.path.expanduser("~/.kube/config"))
    # every file, merged as kubectl and helm do (the library merges an os.pathsep-joined list)
    found = os.pathsep.join(f for f in files.split(os.pathsep) if f and os.path.exists(f))
    merged = found or None
    if merged is not None:  # a malformed file is the user's to fix (exit 2), named
        kubeconfig.check(merged.split(os.pathsep), kube_context)
    try:
        if merged is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config()
            from kubernetes import client as k8s

            return k8s.ApiClient()
        api: Any = config.new_client_from_config(
            config_file=merged, context=kube_context)
    except (ConfigException, OSError, TypeError) as e:
        if kube_context and merged is not None:
            missing = _missing_context(merged, kube_context)
            if missing is not None:
                raise missing from None
        where = f"context '{kube_context}'" if kube_context else "the current context"
        raise InfraError(f"cannot load the kube config ({merged or files}, {where}): {e}",
                         hint="set KUBECONFIG, or deploy.kube_context to a context in it") from e
    # fail fast while the API server is down: a few quick retries, not urllib3's defaults
    api.configuration.retries = 1
    return api


def _missing_context(files: str, wanted: str) -> UsageError | None:
    """A kube_context that no kubeconfig file names is a configuration mistake (exit 2), not
    an unreachable cluster: name the contexts that exist."""
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    try:
        contexts, _ = config.list_kube_config_contexts(config_file=files)
    except (ConfigException, OSError, TypeError):
        return None
    names = [str(c.get("name")) for c in contexts or []]
    if wanted in names:
        return None
    return UsageError(f"kube context '{wanted}' is not in the kubeconfig ({files}); "
                      f"its contexts: {', '.join(names) or 'none'}",
                      hint="set deploy.kube_context (or environments.<name>.kube_context) to "
                           "one of them")


def unreachable(error: BaseException, what: str) -> InfraError:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return InfraError(f"cluster unreachable while {what}: {text}",
                      hint="check KUBECONFIG / deploy.kube_context and that the API server is up")


def api_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the API server did not answer (or refused)."""
    import urllib3
    from kubernetes.client.exceptions import ApiException

    return (ApiException, urllib3.exceptions.HTTPError, OSError)


def get_json(api: Any, path: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    """GET an API path as plain JSON: no typed model classes (their import and parsing cost
    seconds), for the reads on a rollback's critical path."""
    import json

    method, url, headers, body, post = api.param_serialize(
        "GET", path, query_params=list((query or {}).items()),
        header_params={"Accept": "application/json"}, auth_settings=["BearerToken"])
    response = api.call_api(method, url, header_params=headers, body=body, post_params=post)
    response.read()
    if not 200 <= response.status < 300:
        from kubernetes.client.exceptions import ApiException

        raise ApiException(status=response.status, reason=f"GET {path}: {response.data!r}")
    data: dict[str, Any] = json.loads(response.data)
    return data
