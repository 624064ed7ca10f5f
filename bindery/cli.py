"""The ``bindery`` command: build, run, doctor — and hub, proxy, serve from their parts.

Commands of other parts are imported only when used, so ``bindery build`` stays
fast and a broken optional part cannot break the builder.
"""

from __future__ import annotations

import importlib
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import click

from bindery import __version__
from bindery.builder.events import BuildEvent
from bindery.composition import Settings, load_settings, make_builder
from bindery.config import ConfigError
from bindery.errors import BinderyError
from bindery.progress import JsonProgress, LiveProgress
from bindery.readiness import NotReady, wait_until_ready

if TYPE_CHECKING:
    from bindery.builder import Builder

LAZY_COMMANDS = {
    "hub": ("bindery.commands.hub", "hub_group", "Run the multi-user hub (JupyterHub's job)."),
    "proxy": ("bindery.proxy.cli", "proxy_command", "Run the built-in reverse proxy."),
    "serve": ("bindery.commands.serve", "serve_command",
              "Run the whole Binder service: launch page, builder, hub, proxy."),
    "status": ("bindery.commands.status", "status_command",
               "Summarise the instance on a data directory: servers, routes, builds."),
}


class LazyGroup(click.Group):
    """A click group whose heavier subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            module, attr, help_text = LAZY_COMMANDS[name]
            try:
                return getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as exc:
                # Python unbinds ``exc`` after the except block; keep the reason.
                reason = str(exc)

                @click.command(name, help=help_text)
                def unavailable() -> None:
                    raise click.ClickException(f"'bindery {name}' is not available: {reason}")
                return unavailable
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="bindery")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="TOML settings file (default: $BINDERY_CONFIG or ./bindery.toml).")
@click.option("--data-dir", "data_dir", type=click.Path(file_okay=False), default=None,
              help="State directory of hub/serve/status (default: $BINDERY_DATA_DIR, else "
                   "the command's own default).")
@click.pass_context
def main(ctx: click.Context, config_file: str | None, data_dir: str | None) -> None:
    """Bindery: any git repository to a live Jupyter environment behind one link."""
    ctx.ensure_object(dict)
    ctx.obj["config_file"] = config_file
    ctx.obj["data_dir"] = data_dir


def _settings(ctx: click.Context) -> Settings:
    try:
        return load_settings(ctx.obj.get("config_file"))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _build_options(func: Any) -> Any:
    for option in reversed([
        click.argument("spec"),
        click.option("--ref", default=None, help="Branch, tag or commit (default: the default branch)."),
        click.option("--image-name", default=None, help="Name for the image (default: derived from source and commit)."),
        click.option("--json-logs", is_flag=True, help="One JSON event per line on stdout, for programs."),
    ]):
        func = option(func)
    return func


def _do_build(settings: Settings, spec: str, ref: str | None, image_name: str | None,
              json_logs: bool) -> tuple[str, Builder]:
    display = JsonProgress() if json_logs else LiveProgress()
    failed_reported = False

    def progress(event: BuildEvent) -> None:
        nonlocal failed_reported
        failed_reported = failed_reported or event.get("phase") == "failed"
        display(event)

    with display:
        try:
            builder = make_builder(settings)
            progress({"phase": "resolving", "message": f"Resolving {spec}" + (f" at {ref}" if ref else "") + "\n"})
            resolved = builder.resolve(spec, ref)
            image = builder.build(resolved, on_event=progress, image_name=image_name)
        except BinderyError as exc:
            # Build errors already sent their 'failed' event; resolve errors have not.
            if not failed_reported:
                progress({"phase": "failed", "message": f"{exc}\n"})
            raise click.ClickException(str(exc)) from exc
    return image.name, builder


@main.command()
@_build_options
@click.pass_context
def build(ctx: click.Context, spec: str, ref: str | None, image_name: str | None,
          json_logs: bool) -> None:
    """Build (or reuse) the image for SPEC: a path, a git URL, gh:owner/repo, gl:…, gist:…

    The image name is printed as the last line of output (with --json-logs, the
    last line is the 'built' event carrying imageName).
    """
    name, _ = _do_build(_settings(ctx), spec, ref, image_name, json_logs)
    if not json_logs:
        click.echo(name)


@main.command()
@_build_options
@click.option("--editable", is_flag=True, help="Mount the local repository as the home directory.")
@click.option("--memory", default="2g", show_default=True, help="Memory limit of the container.")
@click.option("--cpus", default=1.0, show_default=True, type=float, help="CPU limit of the container.")
@click.option("--port", default=0, type=int, help="Host port on 127.0.0.1 (default: a free one).")
@click.option("--allow-root", is_flag=True,
              help="Run as root if the image says so (default: such images run as uid 1000, gid 100).")
@click.pass_context
def run(ctx: click.Context, spec: str, ref: str | None, image_name: str | None, json_logs: bool,
        editable: bool, memory: str, cpus: float, port: int, allow_root: bool) -> None:
    """Build SPEC if needed, start JupyterLab on 127.0.0.1 and print its URL; Ctrl-C stops it."""
    from bindery.engine.base import RunRequest

    settings = _settings(ctx)
    mount = None
    if editable:
        mount = Path(spec).expanduser()
        if not mount.is_dir():
            raise click.ClickException("--editable needs SPEC to be a local directory")
    name, builder = _do_build(settings, spec, ref, image_name, json_logs)
    emit = JsonProgress() if json_logs else LiveProgress()
    token = secrets.token_hex(24)
    emit({"phase": "launching", "message": f"Starting a container from {name}\n"})
    server = builder.engine.run(RunRequest(
        image=name, token=token, host_port=port, mount_home=mount, memory=memory, cpus=cpus,
        labels={"org.bindery.run": "cli"}, allow_root=allow_root,
    ))
    stopping = False

    def _stop(*_: Any) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            builder.engine.stop(server.container_id)

    def _terminated(*_: Any) -> None:
        _stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, _terminated)
    try:
        _wait_until_ready(builder, server.url, server.container_id, token)
        url = f"{server.url}/lab?token={token}"
        emit({"phase": "ready", "url": server.url + "/", "token": token, "image": name,
              "message": f"JupyterLab is ready: {url}\n"})
        if not json_logs:
            click.echo(url)
            click.echo("Press Ctrl-C to stop and remove the container.", err=True)
        while builder.engine.is_running(server.container_id):
            time.sleep(1)
        logs = builder.engine.logs(server.container_id)
        raise click.ClickException(f"the server stopped unexpectedly:\n{logs}")
    except KeyboardInterrupt:
        click.echo("\nStopping…", err=True)
    except NotReady as exc:
        logs = builder.engine.logs(server.container_id)
        raise click.ClickException(f"{exc}\nLast lines of the server log:\n{logs}") from exc
    finally:
        _stop()


def _wait_until_ready(builder: Builder, url: str, container_id: str, token: str) -> float:
    """The shared readiness probe, ending early when the container exits."""
    async def alive() -> bool:
        return builder.engine.is_running(container_id)

    async def wait() -> float:
        return await wait_until_ready(f"{url}/api/status", token, 120, alive)

    return anyio.run(wait)


@main.command()
@click.argument("image")
@click.option("--output", "output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Only write the pinned repository files into this (new or empty) directory.")
@click.option("--image-name", default=None, help="Name for the new image.")
@click.option("--json-logs", is_flag=True, help="One JSON event per line on stdout, for programs.")
@click.pass_context
def rebuild(ctx: click.Context, image: str, output: Path | None, image_name: str | None,
            json_logs: bool) -> None:
    """Reproduce IMAGE's package set from its labels alone, build it and compare.

    Writes requirements.txt (==), runtime.txt, apt.txt (=version), environment.yml
    (conda) from the image's labels; with --output only writes them. Exits 1 when the
    new image's packages differ from the old one's (the differences are printed).
    """
    from bindery.builder.rebuild import rebuild_image, reproduction, write_reproduction

    settings = _settings(ctx)
    if output is not None:
        builder = make_builder(settings)
        labels = builder.engine.image_labels(image)
        if labels is None:
            raise click.ClickException(f"There is no image named {image} on this engine.")
        try:
            found = reproduction(labels)
            write_reproduction(found, output)
        except BinderyError as exc:
            raise click.ClickException(str(exc)) from exc
        for note in found.notes:
            click.echo(f"Note: {note}", err=True)
        click.echo(f"Wrote {', '.join(sorted(found.files))} to {output}", err=True)
        click.echo(str(output))
        return
    display = JsonProgress() if json_logs else LiveProgress()
    with display:
        try:
            result = rebuild_image(make_builder(settings), image, on_event=display,
                                   image_name=image_name)
        except BinderyError as exc:
            raise click.ClickException(str(exc)) from exc
    for note in result.notes:
        click.echo(f"Note: {note}", err=True)
    if result.differences:
        click.echo(f"{result.image} differs from {image}:", err=True)
        for line in result.differences:
            click.echo(f"  {line}", err=True)
        click.echo(result.image)
        sys.exit(1)
    click.echo(f"{result.image} has the same {result.packages} Python packages (and the same "
               f"apt.txt versions, where recorded) as {image}.", err=True)
    click.echo(result.image)


@main.command()
@click.option("--fix", is_flag=True, help="Install/start the engine and make missing base images (root).")
@click.option("--no-default-image", is_flag=True, help="Skip building the default environment.")
@click.pass_context
def doctor(ctx: click.Context, fix: bool, no_default_image: bool) -> None:
    """Check (and with --fix, repair) the container engine and base images."""
    from bindery.doctor import run_doctor

    settings = _settings(ctx)
    checks = run_doctor(settings, fix, lambda msg: click.echo(msg, err=True),
                        default_image=not no_default_image)
    for check in checks:
        mark = click.style("ok  ", fg="green") if check.ok else click.style("FAIL", fg="red")
        click.echo(f"{mark} {check.name}: {check.detail}")
    if not all(c.ok for c in checks):
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
