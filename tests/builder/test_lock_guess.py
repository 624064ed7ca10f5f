"""Rebuilds reuse the last read-back labels as a checked guess: a notebook-only rebuild
needs one build, and a rebuild whose packages changed still gets its own lock."""

from __future__ import annotations

import pytest

from bindery.sources import resolve

from .conftest import git

pytestmark = [pytest.mark.engine]


def test_labels_stay_exact_when_the_guess_is_right_and_when_it_is_wrong(builder, make_repo) -> None:
    repo = make_repo({"requirements.txt": "six\n", "apt.txt": "jq\n", "notebook.ipynb": "{}"})
    first = builder.build(resolve(str(repo)))
    (repo / "notebook.ipynb").write_text('{"cells": []}')
    git(repo, "commit", "-qam", "notebook only")
    labels_seen: list[int] = []
    original = builder.engine.build

    def counting(request, on_log):
        labels_seen.append(len(request.labels))
        return original(request, on_log)

    builder.engine.build = counting  # type: ignore[method-assign]
    try:
        second = builder.build(resolve(str(repo)))
        assert len(labels_seen) == 1  # one build: the guessed labels were right
        assert second.labels["org.bindery.lock"] == first.labels["org.bindery.lock"]
        assert second.labels["org.bindery.apt"] == first.labels["org.bindery.apt"]
        stored = builder.engine.image_labels(second.name) or {}
        assert stored["org.bindery.lock"] == first.labels["org.bindery.lock"]

        (repo / "requirements.txt").write_text("six\niniconfig\n")
        git(repo, "commit", "-qam", "one more package")
        labels_seen.clear()
        third = builder.build(resolve(str(repo)))
        assert len(labels_seen) == 2  # the guess was wrong: the label-only build follows
        stored = builder.engine.image_labels(third.name) or {}
        assert "iniconfig==" in stored["org.bindery.lock"]
        assert "iniconfig==" not in first.labels["org.bindery.lock"]
    finally:
        builder.engine.build = original  # type: ignore[method-assign]
