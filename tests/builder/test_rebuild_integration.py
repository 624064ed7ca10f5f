"""`bindery rebuild` on the real engine: an image with unpinned requirements and an
apt.txt is rebuilt from its labels alone, with the same packages at the same versions."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bindery.builder.rebuild import rebuild_image
from bindery.sources import resolve

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def test_rebuild_from_labels_gives_the_same_packages(builder, make_repo, tmp_path) -> None:
    repo = make_repo({"requirements.txt": "six\n", "apt.txt": "jq\n", "runtime.txt": "python-3.11\n"})
    old = builder.build(resolve(str(repo)))
    assert "six==" in old.labels["org.bindery.lock"]
    assert old.labels["org.bindery.apt"].startswith("jq=")
    assert old.labels["org.bindery.grade"] == "C"  # only the Python version is pinned
    result = rebuild_image(builder, old.name)
    new = builder.engine.image_labels(result.image) or {}
    assert result.differences == [] and result.packages > 50
    assert new["org.bindery.grade"] == "A"  # everything pinned now
    assert new["org.bindery.apt"] == old.labels["org.bindery.apt"]
    # --output writes the pinned files without building.
    out = tmp_path / "pins"
    written = subprocess.run([sys.executable, "-m", "bindery.cli", "rebuild", old.name,
                              "--output", str(out)], capture_output=True, text=True, timeout=120)
    assert written.returncode == 0, written.stderr
    assert (out / "runtime.txt").read_text() == "python-3.11\n"
    assert (out / "apt.txt").read_text().startswith("jq=")
    assert all("==" in line or " @ " in line
               for line in (out / "requirements.txt").read_text().splitlines()[1:])
