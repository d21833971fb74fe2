"""smoke_gpu: reading the engine's answer to a GPU request, the commands run inside the model
container, and what their answers mean.

No machine this project is tested on has a GPU. The engine's real refusal and the check commands
in a container without the tools are exercised in tests/integration/test_build.py. A container
whose `nvidia-smi` lists GPUs cannot be produced here: `_GpuContainer` below is a stand-in for
one, named as such, answering exec with output in nvidia-smi's documented
`--query-gpu=... --format=csv,noheader` format."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from modelship.errors import InfraError
from modelship.image import smoke, smoke_gpu

NVIDIA_SMI_OUTPUT = ("0, NVIDIA H100 80GB HBM3, 81559 MiB, 550.54.15\n"
                     "1, NVIDIA H100 80GB HBM3, 81559 MiB, 550.54.15\n")


@pytest.mark.parametrize(("message", "reason"), [
    pytest.param('could not select device driver "" with capabilities: [[gpu]]',
                 "the Docker engine has no GPU device driver", id="no-toolkit"),
    pytest.param("failed to create task for container: OCI runtime create failed: "
                 "nvidia-container-cli: initialization error: nvml error: driver not loaded: "
                 "unknown", "found no usable GPU or driver", id="toolkit-without-driver"),
    pytest.param("nvidia-container-cli: initialization error: load library failed: "
                 "libnvidia-ml.so.1: cannot open shared object file", "no usable GPU",
                 id="no-driver-library"),
])
def test_engine_answers_meaning_no_gpu_on_this_runner(message, reason):
    found = smoke_gpu.no_gpu_reason(message)
    assert found is not None
    assert found.startswith("no GPU on this runner: ")
    assert reason in found
    assert message[:60] in found  # the engine's own words are kept


@pytest.mark.parametrize("message", [
    'pull access denied for nvidia/cuda, repository does not exist',
    "OCI runtime create failed: exec: \"python\": executable file not found in $PATH",
    "Conflict. The container name \"/modelship-smoke-1\" is already in use",
])
def test_other_start_failures_are_not_mistaken_for_a_missing_gpu(message):
    assert smoke_gpu.no_gpu_reason(message) is None


def test_the_request_asks_for_every_gpu_with_the_gpu_capability():
    (request,) = smoke_gpu.device_requests()
    assert request["Count"] == -1
    assert request["Capabilities"] == [["gpu"]]
    assert request["Driver"] == ""  # the engine picks the driver that offers "gpu"


def test_check_commands_ask_nvidia_smi_then_torch_inside_the_model_container():
    first, second = smoke_gpu.check_commands("python3")
    assert first == ["nvidia-smi", "--query-gpu=index,name,memory.total,driver_version",
                     "--format=csv,noheader"]
    assert second[:2] == ["python3", "-c"]
    assert "torch.cuda.device_count()" in second[2]


def test_the_torch_check_says_torch_is_missing_with_its_own_exit_code():
    """Run the in-container script with this interpreter: without torch it exits 3, which
    check_inside reads as "not in the image" rather than "no GPU"."""
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", smoke_gpu.TORCH_CHECK],
                          capture_output=True, text=True, check=False, timeout=30)
    assert proc.returncode == 3, proc.stderr


def test_parse_nvidia_smi_reads_one_device_per_line():
    assert smoke_gpu.parse_nvidia_smi(NVIDIA_SMI_OUTPUT) == [
        "NVIDIA H100 80GB HBM3, 81559 MiB, 550.54.15"] * 2
    assert smoke_gpu.parse_nvidia_smi("No devices were found\n") == []
    assert smoke_gpu.parse_nvidia_smi("") == []


@dataclass
class _GpuContainer:
    """Stand-in for a model container granted GPUs: exec answers from a table by program."""

    answers: dict[str, tuple[int, bytes]]
    ran: list[list[str]] = field(default_factory=list)

    def exec_run(self, cmd: list[str], **kwargs: object) -> tuple[int, bytes]:
        self.ran.append(cmd)
        return self.answers.get(cmd[0], (127, b"executable file not found in $PATH"))

    def logs(self, tail: int) -> bytes:
        return b"(stand-in container: no logs)"


def test_nvidia_smi_listing_gpus_marks_the_gpu_path_as_run():
    container = _GpuContainer({"nvidia-smi": (0, NVIDIA_SMI_OUTPUT.encode())})
    result = smoke.SmokeResult(passed=False, gpu=False)
    smoke._check_gpu(container, smoke.SmokeSpec(
        port=1, health="/", predict="/", metrics=None, samples=[], nvidia=True,
        gpu_count=4), result)
    assert result.gpu is True
    assert result.gpu_reason is None
    assert len(result.gpu_devices) == 2
    assert container.ran == [smoke_gpu.NVIDIA_SMI]  # torch is not asked once nvidia-smi answered
    assert result.notes == ["this runner has 2 GPU(s); the deployment asks for 4 "
                            "(image.gpu_count)"]


def test_without_nvidia_smi_torch_answers():
    container = _GpuContainer({"python": (0, b"0, NVIDIA L4\n")})
    check = smoke_gpu.check_inside(container)
    assert check.devices == ["NVIDIA L4"]
    assert check.tool == "torch"


@pytest.mark.parametrize(("mode", "raises"), [("auto", False), ("required", True)])
def test_granted_but_not_seen(mode, raises):
    container = _GpuContainer({"nvidia-smi": (9, b"Failed to initialize NVML: Driver/library "
                                                 b"version mismatch\n")})
    result = smoke.SmokeResult(passed=False, gpu=False)
    spec = smoke.SmokeSpec(port=1, health="/", predict="/", metrics=None, samples=[],
                           nvidia=True, gpu=mode)
    if raises:
        with pytest.raises(InfraError, match=r"a GPU is required .* does not see one"):
            smoke._check_gpu(container, spec, result)
        return
    smoke._check_gpu(container, spec, result)
    assert result.gpu is False
    assert "nvidia-smi exited 9: Failed to initialize NVML" in (result.gpu_reason or "")
    assert result.notes[0].startswith("GPU path not confirmed: ")


def test_no_tool_in_the_image_is_not_a_gpu():
    check = smoke_gpu.check_inside(_GpuContainer({"python": (3, b"")}))
    assert not check.seen
    assert check.tool is None
    assert check.detail == "nvidia-smi: not in the image; torch: not in the image"
