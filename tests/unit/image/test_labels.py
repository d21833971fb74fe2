"""Labels written into the Dockerfile as one LABEL instruction (the engine's build API makes
each label given to it a build step of its own), and what stays with the API."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelship.image import context, dockerfile

LABELS = {"org.opencontainers.image.revision": "5f0c2a9", "modelship.io/model": "sentiment",
          "org.opencontainers.image.title": "my model", "modelship.io/note": ""}


def test_every_plain_label_goes_into_one_instruction_at_the_end():
    text, rest = dockerfile.fold_labels("FROM scratch\nCOPY x /x\n", LABELS)
    assert rest == {}
    assert text.startswith("FROM scratch\nCOPY x /x\n")
    tail = text.split("\nLABEL ", 1)[1]
    assert tail == ('"modelship.io/model"="sentiment" \\\n    "modelship.io/note"="" \\\n'
                    '    "org.opencontainers.image.revision"="5f0c2a9" \\\n'
                    '    "org.opencontainers.image.title"="my model"\n')
    assert sum(line.startswith("LABEL") for line in text.splitlines()) == 1


@pytest.mark.parametrize("value", ['say "hi"', "cost $5", "a\\b", "tick`", "two\nlines"])
def test_a_value_the_dockerfile_would_read_differently_stays_with_the_api(value):
    text, rest = dockerfile.fold_labels("FROM scratch\n", {"a": "1", "b": value})
    assert rest == {"b": value}
    assert '"a"="1"' in text
    assert value not in text


@pytest.mark.parametrize("original", [
    pytest.param("# escape=`\nFROM scratch\n", id="escape-directive"),
    pytest.param("FROM scratch\nRUN echo \\\n", id="trailing-continuation"),
    pytest.param("", id="empty"),
])
def test_a_dockerfile_we_cannot_safely_extend_is_left_alone(original):
    assert dockerfile.fold_labels(original, LABELS) == (original, LABELS)


def test_a_projects_own_dockerfile_goes_along_as_a_labelled_copy(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY x /x\n")
    (tmp_path / "x").write_text("x\n")
    ctx = context.scan(tmp_path)
    files, path, rest = context.with_labels(ctx, {}, "Dockerfile", LABELS)
    assert path == ".modelship-build/Dockerfile"
    assert rest == {}
    assert files[path].decode().startswith("FROM scratch\nCOPY x /x\n")
    assert "LABEL " in files[path].decode()
    assert (tmp_path / "Dockerfile").read_text() == "FROM scratch\nCOPY x /x\n"  # untouched


def test_a_generated_dockerfile_is_labelled_in_place():
    files, path, rest = context.with_labels(
        context.Context(root=Path("."), files=[], top_level=[]),
        {".modelship-build/Dockerfile": b"FROM scratch\n"}, ".modelship-build/Dockerfile",
        {"a": "1"})
    assert (path, rest) == (".modelship-build/Dockerfile", {})
    assert files[path] == (b'FROM scratch\n\n# labels (modelship build): one step, not one per '
                           b'label\nLABEL "a"="1"\n')
