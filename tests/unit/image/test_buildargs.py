"""image.build_args: pip's own settings reach a generated Dockerfile's install step as ARGs
(a private index or a wheel directory, no Dockerfile of one's own); a URL with credentials is
refused before any build, exit 2, without printing them (build args stay in the image's
history)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelship import cli
from modelship.image import buildargs

PROJECT = {"server.py": "print('hi')\n", "requirements.txt": "llama-cpp-python==0.3.36\n"}


def _config(tmp_path: Path, build_args: dict[str, str]) -> Path:
    for name, text in PROJECT.items():
        (tmp_path / name).write_text(text)
    config = tmp_path / "modelship.yaml"
    config.write_text("model: {name: m}\nimage:\n  accelerator: cpu\n  build_args: "
                      + json.dumps(build_args) + "\n")
    return config


def test_pip_settings_given_as_build_args_are_declared_before_the_install_step(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, {"PIP_FIND_LINKS": "http://127.0.0.1:8123/",
                                "PIP_ONLY_BINARY": "llama-cpp-python"})
    assert cli.main(["build", "--config", str(config), "--print-dockerfile"]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    declared = [i for i, line in enumerate(lines)
                if line in ("ARG PIP_FIND_LINKS", "ARG PIP_ONLY_BINARY")]
    install = next(i for i, line in enumerate(lines) if "pip install -r" in line)
    assert len(declared) == 2
    assert max(declared) < install
    assert "127.0.0.1:8123" not in text  # a value, not part of the Dockerfile


@pytest.mark.parametrize("value", [
    pytest.param("https://deploy:s3cret@pypi.example.com/simple", id="user-and-password"),
    pytest.param("https://s3cret@pypi.example.com/simple", id="token-as-user"),
    pytest.param("https://pypi.org/simple http://x:s3cret@mirror.local/simple", id="second-url"),
])
def test_a_url_with_credentials_is_refused_without_showing_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str) -> None:
    config = _config(tmp_path, {"PIP_EXTRA_INDEX_URL": value})
    assert cli.main(["build", "--config", str(config), "--print-dockerfile"]) == 2
    err = capsys.readouterr().err
    assert "image.build_args.PIP_EXTRA_INDEX_URL" in err
    assert "carries credentials" in err
    assert "docker history" in err
    assert "s3cret" not in err
    assert "***@" in err


@pytest.mark.parametrize(("value", "shown"), [
    ("https://u:p@host/simple", "https://***@host/simple"),
    ("http://127.0.0.1:8123/", "http://127.0.0.1:8123/"),
    ("a@b.c", "a@b.c"),  # no URL: nothing to hide
])
def test_hide_credentials(value: str, shown: str) -> None:
    assert buildargs.hide_credentials(value) == shown
