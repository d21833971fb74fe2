"""The fake nodes kwok runs: three CPU nodes and two GPU nodes, made through the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from testbed.cluster.kwok_config import MANAGED_ANNOTATION, MANAGED_VALUE

GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
GPU_PRODUCT = "NVIDIA-H100-80GB-HBM3"
GPU_TAINT = {"key": GPU_RESOURCE, "value": "present", "effect": "NoSchedule"}
# Fake nodes run nothing: a pod lands on one only when it tolerates this (GPU and scale
# tests); everything else goes to the real node (testbed.node).
FAKE_TAINT = {"key": MANAGED_ANNOTATION, "value": MANAGED_VALUE, "effect": "NoSchedule"}
FAKE_TOLERATION = {"key": MANAGED_ANNOTATION, "operator": "Equal", "value": MANAGED_VALUE,
                   "effect": "NoSchedule"}
# tolerating the taint allows the fake nodes; this keeps a pod off the real node too
FAKE_NODE_SELECTOR = {"type": "kwok"}


@dataclass(frozen=True)
class NodeSpec:
    name: str
    cpu: str = "4"
    memory: str = "16Gi"
    pods: str = "110"
    # a real kubelet reports its disk; without it the scheduler refuses any pod that requests
    # ephemeral-storage (the chart's model cache does)
    ephemeral_storage: str = "100Gi"
    gpus: int = 0
    ip: str = ""  # InternalIP, the host IP of its pods; nothing listens there

    def manifest(self) -> dict[str, Any]:
        labels = {
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "type": "kwok",
        }
        resources = {"cpu": self.cpu, "memory": self.memory, "pods": self.pods}
        spec: dict[str, Any] = {"taints": [FAKE_TAINT]}
        if self.gpus:
            labels.update({GPU_PRODUCT_LABEL: GPU_PRODUCT, "nvidia.com/gpu.present": "true",
                           "nvidia.com/gpu.count": str(self.gpus)})
            resources[GPU_RESOURCE] = str(self.gpus)
            spec["taints"] = [FAKE_TAINT, GPU_TAINT]
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.name,
                "labels": labels,
                "annotations": {MANAGED_ANNOTATION: MANAGED_VALUE,
                                "node.alpha.kubernetes.io/ttl": "0"},
            },
            "spec": spec,
            # kept on create; kwok's node-ready stage preserves it
            "status": {"capacity": self._with_disk(resources),
                       "allocatable": self._with_disk(resources),
                       "addresses": [{"type": "InternalIP", "address": self.ip},
                                     {"type": "Hostname", "address": self.name}]},
        }

    def _with_disk(self, resources: dict[str, str]) -> dict[str, str]:
        return {**resources, "ephemeral-storage": self.ephemeral_storage}


NODES = (
    NodeSpec("cpu-0", ip="10.240.0.10"), NodeSpec("cpu-1", ip="10.240.0.11"),
    NodeSpec("cpu-2", ip="10.240.0.12"),
    NodeSpec("gpu-0", gpus=4, ip="10.240.0.20"), NodeSpec("gpu-1", gpus=4, ip="10.240.0.21"),
)


def ensure(api_client: Any) -> None:
    """Create the nodes that do not exist yet."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    core = client.CoreV1Api(api_client)
    for node in NODES:
        try:
            core.create_node(node.manifest())
        except ApiException as e:
            if e.status != 409:
                raise


def _schedulable(node: Any) -> bool:
    """Ready, and the node lifecycle controller has lifted the not-ready taint it puts on a
    new node (it lags the Ready condition by a moment; pods would be unschedulable)."""
    ready = any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
    lifecycle_taints = [t for t in node.spec.taints or []
                        if t.key.startswith("node.kubernetes.io/")]
    return ready and not lifecycle_taints


def all_ready(api_client: Any) -> bool:
    from kubernetes import client

    items = client.CoreV1Api(api_client).list_node(_request_timeout=5).items
    ready = {n.metadata.name for n in items if _schedulable(n)}
    return ready >= {n.name for n in NODES}
