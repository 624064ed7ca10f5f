"""``bindery status``: what runs on a data directory — instance, servers, routes, builds.

Everything is read from what the instance keeps in its data directory: the lock file
(who runs, since when, where), the hub database (servers and why they stopped), the
proxy record (to ask the proxy's route API for its routes) and the launch log
(builds and launches). Nothing is changed: the database is read, never migrated.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import click
import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from bindery.commands.hub import PROXY_RECORD
from bindery.commands.options import DATA_DIR_OPTION
from bindery.commands.serve import SERVE_DATA_DIR
from bindery.composition import load_settings, resolve_data_dir
from bindery.config import ConfigError
from bindery.hub.proxy.processes import ProxyRecord
from bindery.state_dir import holder, lock_path

#: The hub database's file name under ``bindery hub`` and under ``bindery serve``.
DB_FILES = ("bindery-hub.sqlite", "hub.sqlite")


def _servers(db_url: str) -> list[dict[str, Any]] | str:
    """Servers of the hub database, or why they cannot be read."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            columns = {row[1] for row in conn.execute(text("PRAGMA table_info(servers)"))} \
                if db_url.startswith("sqlite") else {"last_error"}
            error = "s.last_error" if "last_error" in columns else "NULL"
            rows = conn.execute(text(
                f"SELECT u.name, s.name, s.started, s.pending, s.url, {error} "  # noqa: S608
                "FROM servers s JOIN users u ON u.id = s.user_id ORDER BY u.name, s.name"))
            servers = []
            for user, name, started, pending, url, last_error in rows:
                status = {"spawn": "starting", "stop": "stopping"}.get(pending or "") or (
                    "running" if started else "stopped")
                servers.append({"user": user, "name": name, "status": status,
                                "target": url, "last_error": last_error})
            return servers
    except SQLAlchemyError as err:
        return f"the hub database cannot be read: {err.__class__.__name__}"
    finally:
        engine.dispose()


def _routes(data_dir: Path) -> dict[str, str] | str:
    record = ProxyRecord.load(data_dir / PROXY_RECORD)
    if record is None:
        return "no proxy recorded"
    url = f"http://{record.api_ip}:{record.api_port}/api/routes"
    try:
        answer = httpx.get(url, headers={"Authorization": f"token {record.auth_token}"},
                           timeout=3, trust_env=False)
    except httpx.HTTPError:
        return f"the proxy (pid {record.pid}) does not answer at {url}"
    if answer.status_code != 200:
        return f"the proxy at {url} answered {answer.status_code}"
    return {path: str(entry.get("target")) for path, entry in answer.json().items()}


def _launches(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    statuses: Counter[str] = Counter()
    builds = 0
    last = None
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            statuses[str(entry.get("status"))] += 1
            builds += entry.get("build_seconds") is not None
            last = entry
    return {"launches": sum(statuses.values()), "by_status": dict(statuses), "builds": builds,
            "last": last}


def collect(data_dir: Path, db_url: str, launch_log: Path) -> dict[str, Any]:
    """Everything ``bindery status`` shows about one data directory, as plain data."""
    info = holder(data_dir)
    report: dict[str, Any] = {
        "data_dir": str(data_dir),
        "instance": None if info is None else {
            "pid": info.pid, "command": info.command, "started": info.started, "urls": info.urls},
    }
    if db_url.startswith("sqlite:///") and db_url.endswith(DB_FILES):
        # The default name: whichever command used this directory, read its database.
        found = [data_dir / name for name in DB_FILES if (data_dir / name).is_file()]
        db_url = f"sqlite:///{found[0]}" if found else ""
    report["servers"] = _servers(db_url) if db_url else []
    report["routes"] = _routes(data_dir) if info is not None else {}
    report["launch_log"] = _launches(launch_log)
    return report


def _print(report: dict[str, Any]) -> None:
    click.echo(f"Data directory: {report['data_dir']}")
    instance = report["instance"]
    if instance is None:
        click.echo("Instance: none running")
    else:
        urls = ", ".join(f"{k} {v}" for k, v in instance["urls"].items())
        click.echo(f"Instance: `{instance['command']}`, pid {instance['pid']}, since "
                   f"{instance['started']}" + (f" ({urls})" if urls else ""))
    servers = report["servers"]
    if isinstance(servers, str):
        click.echo(f"Servers: {servers}")
    else:
        counts = Counter(s["status"] for s in servers)
        click.echo("Servers: " + (", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
                                  or "none"))
        for server in servers:
            if server["status"] == "stopped" and not server["last_error"]:
                continue
            name = server["user"] + (f"/{server['name']}" if server["name"] else "")
            line = f"  {name}: {server['status']}"
            if server["target"]:
                line += f" at {server['target']}"
            if server["last_error"]:
                line += f" — {server['last_error']}"
            click.echo(line)
    routes = report["routes"]
    if isinstance(routes, str):
        click.echo(f"Routes: {routes}")
    elif instance is not None:
        click.echo(f"Routes: {len(routes)}")
        for path, target in sorted(routes.items()):
            click.echo(f"  {path} -> {target}")
    log = report["launch_log"]
    if log is not None:
        by_status = ", ".join(f"{n} {k}" for k, n in sorted(log["by_status"].items()))
        click.echo(f"Launches: {log['launches']} ({by_status}); builds: {log['builds']}")


@click.command("status")
@DATA_DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for programs.")
@click.pass_context
def status_command(ctx: click.Context, data_dir: str | None, as_json: bool) -> None:
    """Summarise the instance on a data directory: who runs it, servers, routes, builds.

    Without --data-dir (or $BINDERY_DATA_DIR), looks at the defaults of both
    `bindery serve` (~/.local/share/bindery) and `bindery hub` (the current directory).
    """
    root = ctx.find_root().obj or {}
    chosen = data_dir or root.get("data_dir")
    try:
        settings = load_settings(root.get("config_file"),
                                 overrides={"data_dir": chosen} if chosen else None)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    candidates: list[Path | None]
    if settings.data_dir or settings.binder.data_dir:
        candidates = [None]
    else:
        candidates = [SERVE_DATA_DIR, Path.cwd()]
    reports = []
    for default in candidates:
        one = settings.model_copy(deep=True)
        directory = resolve_data_dir(one, default=default or Path.cwd())
        if default is not None and not lock_path(directory).exists() and not any(
                (directory / name).exists() for name in DB_FILES):
            continue
        log_path = Path(one.binder.events_log) if one.binder.events_log else (
            directory / "launches.jsonl")
        reports.append(collect(directory, one.hub.db_url, log_path))
    if as_json:
        click.echo(json.dumps(reports if len(reports) != 1 else reports[0], default=str))
        return
    if not reports:
        click.echo("No Bindery data directory here (looked at "
                   f"{SERVE_DATA_DIR} and {Path.cwd()}); name one with --data-dir.")
        return
    for number, report in enumerate(reports):
        if number:
            click.echo("")
        _print(report)
