"""kwok's configuration: which nodes it manages and the stages that move fake nodes and
pods through their lives (kwok ships no stages of its own when run as a bare binary).

- node-ready: a managed node whose Ready condition is not True becomes Ready, keeping the
  capacity and addresses it was created with; kwok then keeps it alive by renewing its node Lease.
- pod-running: a pod bound to a managed node becomes Running and Ready at once, with a pod
  IP from kwok's --cidr and its node's IP as host IP, so Services and EndpointSlices see it.
- pod-done: a running pod that is not restarted when it exits (restartPolicy Never or
  OnFailure: Jobs, helm hooks) succeeds, so Jobs complete.
- pod-gone: a pod marked for deletion (with no finalizers left) is removed, which a kubelet
  would do after stopping its containers.
"""

from __future__ import annotations

from pathlib import Path

import yaml

MANAGED_ANNOTATION = "kwok.x-k8s.io/node"
MANAGED_VALUE = "fake"
POD_CIDR = "10.244.0.0/16"

_NODE_READY = """\
{{ $now := Now }}
conditions:
- type: Ready
  status: "True"
  reason: KubeletReady
  message: kwok fake node is ready
  lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $now | Quote }}
{{ range $type := list "MemoryPressure" "DiskPressure" "PIDPressure" "NetworkUnavailable" }}
- type: {{ $type }}
  status: "False"
  reason: KwokFake
  message: ""
  lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $now | Quote }}
{{ end }}
nodeInfo:
  architecture: amd64
  operatingSystem: linux
  kubeletVersion: {{ printf "kwok-%s" Version | Quote }}
  kubeProxyVersion: {{ printf "kwok-%s" Version | Quote }}
  containerRuntimeVersion: {{ printf "kwok-%s" Version | Quote }}
  kernelVersion: {{ printf "kwok-%s" Version | Quote }}
  osImage: kwok
  machineID: ""
  systemUUID: ""
  bootID: ""
phase: Running
"""

_POD_RUNNING = """\
{{ $now := Now }}
phase: Running
startTime: {{ $now | Quote }}
hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
podIP: {{ PodIPWith .spec.nodeName (or .spec.hostNetwork false) (or .metadata.uid "")
  (or .metadata.name "") (or .metadata.namespace "") | Quote }}
conditions:
{{ range $type := list "PodScheduled" "Initialized" "ContainersReady" "Ready" }}
- type: {{ $type }}
  status: "True"
  lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
{{ end }}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  imageID: ""
  ready: true
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
"""

_POD_DONE = """\
{{ $now := Now }}
phase: Succeeded
conditions:
{{ range $type := list "ContainersReady" "Ready" }}
- type: {{ $type }}
  status: "False"
  reason: PodCompleted
  lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
{{ end }}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  ready: false
  started: false
  state:
    running: null
    terminated:
      exitCode: 0
      reason: Completed
      finishedAt: {{ $now | Quote }}
{{ end }}
"""


def _stage(name: str, kind: str, expressions: list[dict], nxt: dict) -> dict:
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": {
            "resourceRef": {"apiGroup": "v1", "kind": kind},
            "selector": {"matchExpressions": expressions},
            "next": nxt,
        },
    }


def _status_patch(template: str) -> dict:
    """Strategic-merge the rendered template into the object's status subresource."""
    return {"patches": [{"subresource": "status", "root": "status", "type": "strategic",
                         "template": template}]}


def documents() -> list[dict]:
    return [
        _stage("node-ready", "Node", [
            {"key": '.status.conditions.[] | select( .type == "Ready" ) | .status',
             "operator": "NotIn", "values": ["True"]},
        ], _status_patch(_NODE_READY)),
        _stage("pod-running", "Pod", [
            {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"},
            {"key": ".spec.nodeName", "operator": "Exists"},
            {"key": ".status.phase", "operator": "In", "values": ["Pending"]},
        ], _status_patch(_POD_RUNNING)),
        _stage("pod-done", "Pod", [
            {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"},
            {"key": ".spec.restartPolicy", "operator": "In", "values": ["Never", "OnFailure"]},
            {"key": ".status.phase", "operator": "In", "values": ["Running"]},
        ], _status_patch(_POD_DONE)),
        _stage("pod-gone", "Pod", [
            {"key": ".metadata.deletionTimestamp", "operator": "Exists"},
            {"key": ".metadata.finalizers", "operator": "DoesNotExist"},
        ], {"delete": True}),
    ]


def write(path: Path) -> Path:
    path.write_text(yaml.safe_dump_all(documents(), sort_keys=False))
    return path
