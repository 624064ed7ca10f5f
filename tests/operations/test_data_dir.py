"""``--data-dir`` / ``$BINDERY_DATA_DIR`` moves every state file of an instance, through the
configuration loader; a second holder of the directory's lock is refused by name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bindery.commands.serve import prepare_settings
from bindery.composition import load_settings, resolve_data_dir
from bindery.state_dir import InstanceLock, InstanceRunning, holder


def test_the_environment_variable_places_the_hub_state(tmp_path: Path) -> None:
    settings = load_settings(environ={"BINDERY_DATA_DIR": str(tmp_path / "d")})
    data = resolve_data_dir(settings, default=Path("/nonexistent"))
    assert data == tmp_path / "d" and settings.hub.data_dir == str(data)
    assert settings.hub.db_url == f"sqlite:///{data / 'bindery-hub.sqlite'}"
    assert settings.hub.cookie_secret_file == str(data / "bindery-hub-cookie-secret")


def test_serve_keeps_database_secret_and_launch_log_in_its_data_dir(tmp_path: Path) -> None:
    settings = load_settings(environ={"BINDERY_DATA_DIR": str(tmp_path / "serve")})
    prepared = prepare_settings(settings)
    data = tmp_path / "serve"
    assert prepared.hub.db_url == f"sqlite:///{data / 'hub.sqlite'}"
    assert prepared.hub.cookie_secret_file == str(data / "cookie-secret")
    assert prepared.binder.events_log == str(data / "launches.jsonl")
    # Binder sessions are ephemeral: servers go with serve, homes are not kept.
    assert prepared.hub.cleanup_servers is True
    assert prepared.hub.spawner.persistent_home is False


def test_a_second_holder_is_refused_with_the_directory_and_pid(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from bindery.state_dir import InstanceLock;"
         "InstanceLock(Path(sys.argv[1]), 'bindery hub').acquire(); print('held', flush=True);"
         "time.sleep(60)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        assert holder(tmp_path).pid == child.pid
        with pytest.raises(InstanceRunning) as refused:
            InstanceLock(tmp_path, "bindery serve").acquire()
        message = str(refused.value)
        assert str(tmp_path) in message and f"pid {child.pid}" in message
        assert "bindery hub" in message
    finally:
        child.kill()
        child.wait()
    # kill -9 leaves no stale lock: the kernel released it with the process.
    assert holder(tmp_path) is None
    with InstanceLock(tmp_path, "bindery serve"):
        assert holder(tmp_path).pid == os.getpid()
