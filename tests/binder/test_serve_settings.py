"""What ``bindery serve`` hands the hub: culling, anonymous users, images, paths."""

from bindery.commands.serve import prepare_settings
from bindery.composition import Settings, load_settings


def test_serve_configures_the_hub_for_binder_use(tmp_path, monkeypatch):
    monkeypatch.setenv("BINDERY_ALLOW_LOCAL_REPOS", "1")
    monkeypatch.setenv("BINDERY_BINDER__CULL_IDLE_TIMEOUT", "120")
    s = load_settings()
    s.binder.data_dir = str(tmp_path)
    ready = prepare_settings(s, port=9999)
    assert ready.allow_local_repos is True
    hub = ready.hub
    assert (hub.cull.timeout, hub.cull.max_age, hub.cull.temporary_users) == (120, 6 * 3600, True)
    assert hub.auth.kind == "anonymous"
    assert f"{s.builder.image_prefix}/*" in hub.spawner.allowed_images
    assert hub.db_url == f"sqlite:///{tmp_path / 'hub.sqlite'}"
    assert hub.proxy.port == ready.binder.port == 9999
    assert ready.binder.hub_url == f"http://127.0.0.1:{hub.hub_port}/hub/"
    assert len(ready.binder.hub_api_token) >= 32
    assert ready.binder.events_log == str(tmp_path / "launches.jsonl")
    assert s.binder.hub_api_token == "" and s.hub.auth.kind != "anonymous"  # caller untouched


def test_defaults_are_the_documented_ones():
    b = Settings().binder
    assert (b.port, b.cull_idle_timeout, b.cull_max_age) == (8585, 600, 21600)
    assert Settings().allow_local_repos is False
