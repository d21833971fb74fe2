"""Accelerator profiles: `cpu`, or `nvidia` with a CUDA version, a GPU count and target products.

Pure: the profile comes from config values and the text of the project's requirement files.
It chooses the serving base image (a CUDA *runtime* image, never devel), build arguments such as
TORCH_CUDA_ARCH_LIST for the target products, the image labels and the chart's GPU values, and
it lists warnings (e.g. a CUDA version too old to target a product).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = ("auto", "cpu", "nvidia")
CPU_BASE = "python:3.11-slim-bookworm"
DEFAULT_CUDA = "12.4"

# CUDA major.minor -> (full version of the nvidia/cuda runtime image, Ubuntu release).
CUDA_IMAGES: dict[str, tuple[str, str]] = {
    "11.8": ("11.8.0", "ubuntu22.04"),
    "12.0": ("12.0.1", "ubuntu22.04"),
    "12.1": ("12.1.1", "ubuntu22.04"),
    "12.2": ("12.2.2", "ubuntu22.04"),
    "12.3": ("12.3.2", "ubuntu22.04"),
    "12.4": ("12.4.1", "ubuntu22.04"),
    "12.5": ("12.5.1", "ubuntu22.04"),
    "12.6": ("12.6.3", "ubuntu22.04"),
    "12.8": ("12.8.1", "ubuntu22.04"),
    "12.9": ("12.9.1", "ubuntu22.04"),
    "13.0": ("13.0.1", "ubuntu24.04"),
}


@dataclass(frozen=True)
class Product:
    name: str
    arch: str  # compute capability, as TORCH_CUDA_ARCH_LIST spells it
    label: str  # the nvidia.com/gpu.product node label (GPU feature discovery)


_PRODUCTS = [
    Product("B200", "10.0", "NVIDIA-B200"),
    Product("H200", "9.0", "NVIDIA-H200"),
    Product("H100", "9.0", "NVIDIA-H100-80GB-HBM3"),
    Product("L40S", "8.9", "NVIDIA-L40S"),
    Product("L40", "8.9", "NVIDIA-L40"),
    Product("L4", "8.9", "NVIDIA-L4"),
    Product("RTX4090", "8.9", "NVIDIA-GeForce-RTX-4090"),
    Product("A100", "8.0", "NVIDIA-A100-SXM4-80GB"),
    Product("A30", "8.0", "NVIDIA-A30"),
    Product("A10G", "8.6", "NVIDIA-A10G"),
    Product("A10", "8.6", "NVIDIA-A10"),
    Product("A6000", "8.6", "NVIDIA-RTX-A6000"),
    Product("T4", "7.5", "Tesla-T4"),
    Product("V100", "7.0", "Tesla-V100-SXM2-16GB"),
    Product("P100", "6.0", "Tesla-P100-PCIE-16GB"),
]
PRODUCTS: dict[str, Product] = {p.name: p for p in _PRODUCTS}

# compute capability -> the first CUDA release that can compile for it
_MIN_CUDA = {"6.0": "8.0", "7.0": "9.0", "7.5": "10.0", "8.0": "11.0", "8.6": "11.1",
             "8.9": "11.8", "9.0": "11.8", "10.0": "12.8"}
# CUDA 13 dropped Maxwell, Pascal and Volta: the oldest target it compiles for
_MIN_ARCH_CUDA13 = "7.5"


class AcceleratorError(ValueError):
    """A config value is not a valid accelerator setting; `key` names which one."""

    def __init__(self, key: str, message: str, choices: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.key = key
        self.choices = list(choices)


@dataclass
class Profile:
    kind: str  # cpu | nvidia
    cuda: str | None = None
    gpu_count: int = 0
    gpu_products: list[str] = field(default_factory=list)
    source: str = "config"  # config | detected (with what) | default
    warnings: list[str] = field(default_factory=list)

    @property
    def arch_list(self) -> list[str]:
        return sorted({PRODUCTS[p].arch for p in self.gpu_products}, key=_version)

    @property
    def base_image(self) -> str:
        if self.kind != "nvidia":
            return CPU_BASE
        full, ubuntu = CUDA_IMAGES[self.cuda or DEFAULT_CUDA]
        return f"nvidia/cuda:{full}-runtime-{ubuntu}"

    def build_args(self) -> dict[str, str]:
        if self.kind != "nvidia":
            return {}
        args = {"CUDA_VERSION": self.cuda or DEFAULT_CUDA}
        if self.arch_list:
            args["TORCH_CUDA_ARCH_LIST"] = ";".join(self.arch_list)
            args["CUDAARCHS"] = ";".join(a.replace(".", "") for a in self.arch_list)
        return args

    def labels(self) -> dict[str, str]:
        out = {"modelship.io/accelerator": self.kind}
        if self.kind == "nvidia":
            out["modelship.io/cuda-version"] = self.cuda or DEFAULT_CUDA
            out["modelship.io/gpu-count"] = str(self.gpu_count)
            if self.gpu_products:
                out["modelship.io/gpu-products"] = ",".join(self.gpu_products)
        return out

    def chart_values(self) -> dict[str, Any]:
        """The chart's `gpu` values (DESIGN.md, "Chart values contract")."""
        if self.kind != "nvidia":
            return {"gpu": {"count": 0}}
        gpu: dict[str, Any] = {"count": self.gpu_count}
        if self.gpu_products:
            gpu["product"] = PRODUCTS[self.gpu_products[0]].label
        return {"gpu": gpu}

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "cuda": self.cuda, "gpu_count": self.gpu_count,
                "gpu_products": list(self.gpu_products), "arch_list": self.arch_list,
                "base_image": self.base_image, "source": self.source,
                "warnings": list(self.warnings)}


# -- detection from requirements -------------------------------------------------------------
_TORCH_LOCAL = re.compile(r"^(?:torch|torchvision|torchaudio)\s*[=~<>!]=?\s*[\w.]*\+cu(\d{2,3})\b",
                          re.I)
_INDEX_CUDA = re.compile(r"download\.pytorch\.org/whl/(?:nightly/)?cu(\d{2,3})\b", re.I)
_NVIDIA_PKG = re.compile(r"^nvidia-[a-z0-9-]+-cu(\d{2})(?:\s*[=~]=\s*(\d+)\.(\d+))?", re.I)
_JAX = re.compile(r"^jax(?:lib)?\s*\[[^\]]*\bcuda(\d{2})", re.I)
_CUPY = re.compile(r"^cupy-cuda(\d{2,3})x?\b", re.I)
_GPU_ONLY = [
    (re.compile(r"^onnxruntime-gpu\b", re.I), "onnxruntime-gpu"),
    (re.compile(r"^tensorflow\s*\[[^\]]*and-cuda", re.I), "tensorflow[and-cuda]"),
    (re.compile(r"^paddlepaddle-gpu\b", re.I), "paddlepaddle-gpu"),
]
_CPU_INDEX = re.compile(r"download\.pytorch\.org/whl/cpu\b", re.I)


def _cuda_from_digits(digits: str) -> str:
    """`121` -> 12.1, `118` -> 11.8, `12` -> the default 12.x, `11` -> 11.8."""
    if len(digits) == 2:
        return DEFAULT_CUDA if digits == "12" else ("11.8" if digits == "11" else f"{digits}.0")
    return f"{digits[:-1]}.{digits[-1]}"


def detect(requirements: str) -> tuple[str | None, str | None]:
    """(CUDA version or None, what gave it away) from requirement file text; (None, None)
    when nothing asks for a GPU. A version-less hint (onnxruntime-gpu) gives the default."""
    found: tuple[str | None, str | None] = (None, None)
    for raw in requirements.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if _CPU_INDEX.search(line):
            continue
        for pattern in (_TORCH_LOCAL, _INDEX_CUDA, _JAX, _CUPY):
            match = pattern.search(line)
            if match:
                return _cuda_from_digits(match.group(1)), line
        match = _NVIDIA_PKG.match(line)
        if match:
            if match.group(2) and match.group(1) == match.group(2):
                return f"{match.group(2)}.{match.group(3)}", line
            return _cuda_from_digits(match.group(1)), line
        for pattern, name in _GPU_ONLY:
            if pattern.match(line) and found == (None, None):
                found = (DEFAULT_CUDA, name)
    return found


def _version(value: str) -> tuple[int, ...]:
    return tuple(int(part) for part in value.split("."))


def resolve(settings: Mapping[str, Any], requirements: str = "") -> Profile:
    """The profile from config values (`accelerator`, `cuda`, `gpu_count`, `gpu_products`) and
    requirement text. Raises AcceleratorError naming the bad key."""
    kind = str(settings.get("accelerator") or "auto")
    if kind not in KINDS:
        raise AcceleratorError("image.accelerator",
                               f"unknown accelerator '{kind}'; expected one of "
                               f"{', '.join(KINDS)}", KINDS)
    cuda = settings.get("cuda")
    cuda = None if cuda is None else str(cuda)
    if cuda is not None:
        if cuda.count(".") > 1:  # 12.4.1 -> 12.4
            cuda = ".".join(cuda.split(".")[:2])
        if cuda not in CUDA_IMAGES:
            raise AcceleratorError("image.cuda",
                                   f"unsupported CUDA version '{cuda}'; expected one of "
                                   f"{', '.join(CUDA_IMAGES)}", CUDA_IMAGES)
    products = [str(p) for p in settings.get("gpu_products") or []]
    canonical = {name.upper(): name for name in PRODUCTS}
    resolved_products = []
    for product in products:
        name = canonical.get(product.upper().replace(" ", "").replace("NVIDIA-", ""))
        if name is None:
            raise AcceleratorError("image.gpu_products",
                                   f"unknown GPU product '{product}'; expected one of "
                                   f"{', '.join(PRODUCTS)}", PRODUCTS)
        resolved_products.append(name)
    count = settings.get("gpu_count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise AcceleratorError("image.gpu_count", f"expected an integer >= 1, got {count!r}")

    source = "config"
    if kind == "auto":
        detected, why = detect(requirements)
        if detected is None and (cuda or resolved_products):
            kind, source = "nvidia", "config (cuda/gpu_products set)"
        elif detected is None:
            kind, source = "cpu", "detected (no GPU requirements)"
        else:
            kind, source = "nvidia", f"detected ({why})"
            cuda = cuda or (detected if detected in CUDA_IMAGES else _nearest(detected))
    if kind == "cpu":
        return Profile("cpu", source=source)
    if cuda is None:
        detected, why = detect(requirements)
        cuda = _nearest(detected) if detected else DEFAULT_CUDA
    profile = Profile("nvidia", cuda=cuda, gpu_count=int(count or 1),
                      gpu_products=resolved_products, source=source)
    profile.warnings.extend(_warnings(profile))
    return profile


def _nearest(cuda: str) -> str:
    """The newest known CUDA release with the same major version (e.g. 12.7 -> 12.6)."""
    same = [v for v in CUDA_IMAGES if v.split(".")[0] == cuda.split(".")[0]
            and _version(v) <= _version(cuda)]
    return max(same, key=_version) if same else DEFAULT_CUDA


def _warnings(profile: Profile) -> list[str]:
    out = []
    cuda = _version(profile.cuda or DEFAULT_CUDA)
    for name in profile.gpu_products:
        arch = PRODUCTS[name].arch
        needed = _MIN_CUDA.get(arch)
        if needed and cuda < _version(needed):
            out.append(f"CUDA {profile.cuda} cannot target {name} (compute capability {arch}); "
                       f"it needs CUDA >= {needed}")
        if cuda >= (13, 0) and _version(arch) < _version(_MIN_ARCH_CUDA13):
            out.append(f"CUDA {profile.cuda} dropped support for {name} (compute capability "
                       f"{arch}); use CUDA 12.x to target it")
    return out
