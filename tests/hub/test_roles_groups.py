"""Configured roles and group filters: a teaching assistant reads the students' group only."""

from __future__ import annotations

from bindery.hub.roles import RoleSettings
from bindery.hub.services import ServiceSettings


def test_a_role_given_to_a_group_reaches_only_the_filtered_group(api_hub):
    c, h = api_hub.client, api_hub.headers()
    api_hub.hub.settings.roles = [
        RoleSettings(name="teaching", groups=["tas"],
                     scopes=["read:users!group=students", "list:users!group=students",
                             "list:groups"]),
    ]
    c.post("/hub/api/users", json={"usernames": ["bob", "carol", "dave"]}, headers=h)
    c.post("/hub/api/groups/students", json={"users": ["bob"]}, headers=h)
    c.post("/hub/api/groups/tas", json={"users": ["carol"]}, headers=h)
    carol = api_hub.token_for("carol")
    me = c.get("/hub/api/user", headers=api_hub.headers(carol)).json()
    assert "read:users!group=students" in me["scopes"] and "list:groups" in me["scopes"]
    bob = c.get("/hub/api/users/bob", headers=api_hub.headers(carol))
    assert bob.status_code == 200 and bob.json()["groups"] == ["students"]
    # dave is no student: carol sees his name only (read:users:name), not his model.
    dave = c.get("/hub/api/users/dave", headers=api_hub.headers(carol)).json()
    assert "servers" not in dave and "groups" not in dave
    assert c.get("/hub/api/groups", headers=api_hub.headers(carol)).status_code == 200
    # Listing users reaches the students only (JupyterHub lists what the filter allows).
    listed = c.get("/hub/api/users", headers=api_hub.headers(carol)).json()
    assert [u["name"] for u in listed] == ["bob"]
    # Leaving the group ends the role at once.
    c.request("DELETE", "/hub/api/groups/tas/users", json={"users": ["carol"]}, headers=h)
    assert "servers" not in c.get("/hub/api/users/bob", headers=api_hub.headers(carol)).json()


def test_bare_filters_mean_the_holder_and_services_get_roles_too(api_hub):
    c, h = api_hub.client, api_hub.headers()
    token = "service-token-0123456789"
    api_hub.hub.settings.services = [ServiceSettings(name="grader", api_token=token)]
    api_hub.hub.settings.roles = [
        RoleSettings(name="graders", services=["grader"], scopes=["list:users"]),
        RoleSettings(name="own-activity", users=["erin"], scopes=["read:users:activity!user"]),
    ]
    from bindery.hub.service_registry import register_service_tokens

    register_service_tokens(api_hub.hub.db, api_hub.hub.settings.services)
    c.post("/hub/api/users/erin", headers=h)
    assert c.get("/hub/api/users", headers=api_hub.headers(token)).status_code == 200
    me = c.get("/hub/api/user", headers=api_hub.headers(token)).json()
    assert me["kind"] == "service" and "read:users:name" in me["scopes"]
    erin = c.get("/hub/api/user", headers=api_hub.headers(api_hub.token_for("erin"))).json()
    assert "read:users:activity!user=erin" in erin["scopes"]
