"""Accelerator profiles: config and requirement detection -> kind, CUDA, base image, arch
flags, labels, chart values and warnings."""

from __future__ import annotations

import pytest

from modelship.image import accelerators as acc


@pytest.mark.parametrize(
    ("requirements", "cuda", "why"),
    [
        pytest.param("torch==2.3.1+cu121\nnumpy", "12.1", "torch==2.3.1+cu121", id="torch-local"),
        pytest.param("torchvision==0.18.1+cu118", "11.8", "torchvision==0.18.1+cu118",
                     id="torchvision-local"),
        pytest.param("--extra-index-url https://download.pytorch.org/whl/cu124\ntorch==2.4",
                     "12.4", "--extra-index-url https://download.pytorch.org/whl/cu124",
                     id="torch-index"),
        pytest.param("--index-url https://download.pytorch.org/whl/cu118\ntorch", "11.8",
                     "--index-url https://download.pytorch.org/whl/cu118", id="index-cu118"),
        pytest.param("nvidia-cuda-runtime-cu12==12.4.127", "12.4",
                     "nvidia-cuda-runtime-cu12==12.4.127", id="nvidia-pkg-versioned"),
        pytest.param("nvidia-cublas-cu11", "11.8", "nvidia-cublas-cu11", id="nvidia-pkg-cu11"),
        pytest.param("onnxruntime-gpu==1.18.0", acc.DEFAULT_CUDA, "onnxruntime-gpu",
                     id="onnxruntime-gpu"),
        pytest.param("tensorflow[and-cuda]==2.16.1", acc.DEFAULT_CUDA, "tensorflow[and-cuda]",
                     id="tensorflow-and-cuda"),
        pytest.param("jax[cuda12]==0.4.30", acc.DEFAULT_CUDA, "jax[cuda12]==0.4.30",
                     id="jax-cuda12"),
        pytest.param("jax[cuda11_pip]", "11.8", "jax[cuda11_pip]", id="jax-cuda11"),
        pytest.param("cupy-cuda12x", acc.DEFAULT_CUDA, "cupy-cuda12x", id="cupy"),
        pytest.param("numpy==2.2.6\nprometheus-client", None, None, id="cpu-only"),
        pytest.param("--index-url https://download.pytorch.org/whl/cpu\ntorch==2.4+cpu", None,
                     None, id="torch-cpu-wheels"),
        pytest.param("# torch==2.3.1+cu121 (commented out)\nnumpy", None, None, id="comment"),
        pytest.param("onnxruntime==1.18", None, None, id="onnxruntime-cpu"),
    ],
)
def test_detect(requirements: str, cuda: str | None, why: str | None):
    assert acc.detect(requirements) == (cuda, why)


@pytest.mark.parametrize(
    ("settings", "requirements", "expected"),
    [
        pytest.param({}, "numpy", {"kind": "cpu", "base_image": acc.CPU_BASE, "cuda": None},
                     id="auto-cpu"),
        pytest.param({"accelerator": "cpu"}, "torch==2.3.1+cu121",
                     {"kind": "cpu", "base_image": acc.CPU_BASE}, id="config-cpu-wins"),
        pytest.param({}, "torch==2.3.1+cu121",
                     {"kind": "nvidia", "cuda": "12.1", "gpu_count": 1,
                      "base_image": "nvidia/cuda:12.1.1-runtime-ubuntu22.04"},
                     id="auto-detects-torch"),
        pytest.param({"accelerator": "nvidia"}, "",
                     {"kind": "nvidia", "cuda": acc.DEFAULT_CUDA,
                      "base_image": "nvidia/cuda:12.4.1-runtime-ubuntu22.04"},
                     id="nvidia-default-cuda"),
        pytest.param({"accelerator": "nvidia", "cuda": "11.8", "gpu_count": 4},
                     "", {"cuda": "11.8", "gpu_count": 4,
                          "base_image": "nvidia/cuda:11.8.0-runtime-ubuntu22.04"},
                     id="nvidia-cuda-11.8-4-gpus"),
        pytest.param({"accelerator": "nvidia", "cuda": "12.4.1"}, "",
                     {"cuda": "12.4"}, id="patch-version-accepted"),
        pytest.param({"accelerator": "nvidia", "cuda": "13.0"}, "",
                     {"base_image": "nvidia/cuda:13.0.1-runtime-ubuntu24.04"}, id="cuda-13"),
        pytest.param({"gpu_products": ["H100"]}, "",
                     {"kind": "nvidia", "arch_list": ["9.0"]}, id="products-imply-nvidia"),
        pytest.param({"accelerator": "nvidia", "gpu_products": ["t4", "A100", "L4", "H100"]},
                     "", {"gpu_products": ["T4", "A100", "L4", "H100"],
                          "arch_list": ["7.5", "8.0", "8.9", "9.0"]},
                     id="arch-list-sorted-case-insensitive"),
        pytest.param({}, "torch==2.5+cu127", {"cuda": "12.6"}, id="unknown-minor-nearest"),
    ],
)
def test_resolve(settings: dict, requirements: str, expected: dict):
    profile = acc.resolve(settings, requirements).as_dict()
    for key, value in expected.items():
        assert profile[key] == value, key
    assert "devel" not in profile["base_image"]


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        pytest.param({"accelerator": "tpu"}, "image.accelerator", id="unknown-accelerator"),
        pytest.param({"accelerator": "nvidia", "cuda": "10.2"}, "image.cuda", id="old-cuda"),
        pytest.param({"accelerator": "nvidia", "cuda": "twelve"}, "image.cuda", id="bad-cuda"),
        pytest.param({"gpu_products": ["H1000"]}, "image.gpu_products", id="unknown-product"),
        pytest.param({"accelerator": "nvidia", "gpu_count": 0}, "image.gpu_count",
                     id="zero-gpus"),
    ],
)
def test_resolve_rejects_bad_settings(settings: dict, key: str):
    with pytest.raises(acc.AcceleratorError) as caught:
        acc.resolve(settings)
    assert caught.value.key == key


@pytest.mark.parametrize(
    ("cuda", "products", "warns_about"),
    [
        pytest.param("11.8", ["H100"], [], id="11.8-h100-ok"),
        pytest.param("12.4", ["B200"], ["B200"], id="b200-needs-12.8"),
        pytest.param("12.8", ["B200"], [], id="b200-ok-on-12.8"),
        pytest.param("13.0", ["V100", "H100"], ["V100"], id="cuda13-drops-volta"),
        pytest.param("12.4", ["A100", "L4", "T4"], [], id="common-products"),
    ],
)
def test_warnings_when_cuda_cannot_target_a_product(cuda, products, warns_about):
    profile = acc.resolve({"accelerator": "nvidia", "cuda": cuda, "gpu_products": products})
    assert len(profile.warnings) == len(warns_about)
    for name, warning in zip(warns_about, profile.warnings, strict=True):
        assert name in warning
        assert cuda in warning


def test_build_args_labels_and_chart_values_for_nvidia():
    profile = acc.resolve({"accelerator": "nvidia", "cuda": "12.4", "gpu_count": 2,
                           "gpu_products": ["H100", "A100"]})
    assert profile.build_args() == {"CUDA_VERSION": "12.4", "TORCH_CUDA_ARCH_LIST": "8.0;9.0",
                                    "CUDAARCHS": "80;90"}
    assert profile.labels() == {"modelship.io/accelerator": "nvidia",
                                "modelship.io/cuda-version": "12.4",
                                "modelship.io/gpu-count": "2",
                                "modelship.io/gpu-products": "H100,A100"}
    assert profile.chart_values() == {"gpu": {"count": 2, "product": "NVIDIA-H100-80GB-HBM3"}}


def test_cpu_profile_has_no_gpu_values():
    profile = acc.resolve({"accelerator": "cpu"})
    assert profile.build_args() == {}
    assert profile.labels() == {"modelship.io/accelerator": "cpu"}
    assert profile.chart_values() == {"gpu": {"count": 0}}
