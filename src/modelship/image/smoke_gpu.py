"""The GPU half of the smoke test: ask the engine for GPUs for the model container, and check
from inside that container that it sees them.

The check runs in the model container, never in modelship's own: the action's image has no
`nvidia-smi`, the model's image is what must see the GPU, and the NVIDIA container toolkit puts
`nvidia-smi` into a container granted GPUs when NVIDIA_DRIVER_CAPABILITIES includes `utility`
(the generated Dockerfile sets `compute,utility`). When it is absent (a project's own Dockerfile
may leave `utility` out) the image's Python asks torch for the CUDA device count instead.

What was tested here: no machine this project is tested on has a GPU. The engine's refusal of a
GPU request is real (tests/integration/test_build.py asserts it is read as "no GPU on this
runner"), and so is running these check commands in a container that lacks the tools; a granted
request and an answering `nvidia-smi` are not, so `parse_nvidia_smi` is tested on the output
format nvidia-smi documents for `--query-gpu ... --format=csv,noheader`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MODES = ("auto", "required")  # image.smoke.gpu
# docker exec: the command does not exist in the image (126: found but not runnable)
_TOOL_MISSING = (126, 127)
_TORCH_MISSING = 3
# Ask for every GPU the runner has: the smoke test proves the image can use a GPU; how many the
# deployment gets is the chart's business (gpu.count), and a runner with fewer GPUs than
# image.gpu_count should still exercise the path rather than refuse to start.
ALL_GPUS = -1

NVIDIA_SMI = ["nvidia-smi", "--query-gpu=index,name,memory.total,driver_version",
              "--format=csv,noheader"]
TORCH_CHECK = "\n".join([
    "import sys",
    "try:",
    "    import torch",
    "except ImportError:",
    f"    sys.exit({_TORCH_MISSING})",
    "count = torch.cuda.device_count()",
    "for i in range(count):",
    "    print(f'{i}, {torch.cuda.get_device_name(i)}')",
    "sys.exit(0 if count else 1)",
])

# Engine answers to a GPU request that mean "this runner has no usable GPU", not a broken image.
_NO_GPU = [
    (re.compile(r'could not select device driver "[^"]*" with capabilities', re.I),
     "the Docker engine has no GPU device driver (no NVIDIA container toolkit)"),
    (re.compile(r"nvidia-container-cli: (?:initialization error|detection error)|"
                r"libnvidia-ml\.so|driver not loaded|no cuda-capable device|"
                r"nvml error|unknown device", re.I),
     "the NVIDIA container toolkit found no usable GPU or driver"),
]


def device_requests() -> list[Any]:
    import docker.types

    return [docker.types.DeviceRequest(count=ALL_GPUS, capabilities=[["gpu"]])]


def no_gpu_reason(engine_message: str) -> str | None:
    """Why the engine could not give the model container a GPU, when its error says the runner
    has none; None for any other failure to start (which stays an error)."""
    for pattern, reason in _NO_GPU:
        if pattern.search(engine_message):
            return f"no GPU on this runner: {reason} ({engine_message.strip()[:200]})"
    return None


def check_commands(python: str = "python") -> list[list[str]]:
    """The commands run in the model container, in order, until one can answer."""
    return [list(NVIDIA_SMI), [python, "-c", TORCH_CHECK]]


def parse_nvidia_smi(output: str) -> list[str]:
    """GPU descriptions from `nvidia-smi --query-gpu=index,name,... --format=csv,noheader`."""
    devices = []
    for line in output.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 2 and parts[0].isdigit() and parts[1]:
            devices.append(", ".join(parts[1:]))
    return devices


@dataclass
class GpuCheck:
    devices: list[str] = field(default_factory=list)  # what the model container sees
    tool: str | None = None  # which command answered; None: none could run
    detail: str = ""

    @property
    def seen(self) -> bool:
        return bool(self.devices)


def check_inside(container: Any) -> GpuCheck:
    """Run the check commands in the model container; the first that exists decides."""
    tried = []
    for command in check_commands():
        code, raw = container.exec_run(command, stdout=True, stderr=True)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        tool = "nvidia-smi" if command[0] == "nvidia-smi" else "torch"
        if code in _TOOL_MISSING or (tool == "torch" and code == _TORCH_MISSING):
            tried.append(f"{tool}: not in the image")
            continue
        devices = parse_nvidia_smi(text)
        if code == 0 and devices:
            return GpuCheck(devices, tool, text.strip()[:500])
        return GpuCheck([], tool, f"{tool} exited {code}: {text.strip()[:500] or '(no output)'}")
    return GpuCheck([], None, "; ".join(tried))
