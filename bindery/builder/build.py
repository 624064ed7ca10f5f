"""Source → environment → plan → engine: one repository becomes one image.

The builder owns image identity. An image's name is derived from the source and
the *resolved* ref plus a fingerprint of everything else that shapes the image
(builder version, base images, Jupyter packages, CA certificates), so the same
inputs map to the same name and an existing image is reused without building.
Every image carries provenance labels, including a lock of the Python packages
that were really installed, read back from the image after the build.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import hashlib
import json
import re
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bindery import __version__
from bindery.builder.events import BuildEvent, EventSink
from bindery.builder.failures import explain_failure
from bindery.builder.host_work import host_runner
from bindery.builder.locks import LockCache
from bindery.builder.modules import load_modules
from bindery.builder.python_mirror import mirror_problem
from bindery.builder.settings import BuilderSettings
from bindery.engine.base import BuildRequest, Engine
from bindery.environment import EnvironmentOptions, default_environment, detect, render
from bindery.environment.dockerfile import remote_fetches
from bindery.environment.grade import SUMMARY_PREFIX
from bindery.environment.modules import EnvironmentModule
from bindery.environment.repo_config import ignored_root_file, read_repo_config
from bindery.errors import BinderyError, BuildError, BuildLimitExceeded, SourceError
from bindery.sources import SourceCatalog
from bindery.sources.base import Ref

LABEL = "org.bindery"
LOCK_PATH = "/srv/bindery-lock.txt"


@dataclass(frozen=True)
class BuiltImage:
    """The result of :meth:`Builder.build`."""

    name: str
    ref: Ref | None
    reused: bool
    labels: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def _slug(text: str) -> str:
    """A docker-repository-safe slug: lowercase, ``[a-z0-9._-]``, no leading separator."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return (slug or "repo")[:60]


def _no_events(event: BuildEvent) -> None:
    return None


@functools.cache
def host_uv_binary() -> Path | None:
    """The uv executable Bindery itself runs with (the ``uv`` dependency), if present.

    Images get this binary instead of downloading uv in every cold build. It only
    suits images for the host's own CPU architecture, which a local engine is.
    """
    try:
        from uv import find_uv_bin
    except ImportError:
        return None
    try:
        found = Path(find_uv_bin())
    except FileNotFoundError:
        return None
    return found if found.is_file() else None


@functools.cache
def _uv_digest(uv: Path) -> str:
    """Short content hash of the uv binary (names the ``bindery/uv`` image)."""
    digest = hashlib.sha256()
    with uv.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


@functools.cache
def _uv_identity() -> str:
    """What identifies the bundled uv in the fingerprint ("" when none is bundled)."""
    uv = host_uv_binary()
    if uv is None:
        return ""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"uv {version('uv')}"
    except PackageNotFoundError:
        return f"uv size {uv.stat().st_size}"


def _refuse_remote_fetches(path: str, text: str) -> None:
    """A public build of a repository Dockerfile must not make the engine fetch URLs.

    The engine downloads ``ADD <url>`` sources and ``# syntax=`` frontends from
    the host's own network, where 127.0.0.1 and private addresses may serve
    secrets; ``RUN curl`` runs inside the build container and is not affected.
    """
    problems = remote_fetches(text)
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise BuildError(
            f"{path} asks the container engine to download files itself, which this public "
            f"service does not allow:\n{listed}\n"
            "Download them in a RUN step instead (e.g. `RUN curl -fsSLo /dest URL`), "
            "or drop the '# syntax=' line."
        )


class Builder:
    """Builds (or reuses) the image for a repository."""

    def __init__(self, settings: BuilderSettings, engine: Engine,
                 sources: SourceCatalog | None = None, *, public: bool = False) -> None:
        self.settings = settings
        #: It builds what anyone can launch: a repository Dockerfile may not make
        #: the engine download anything itself (the host's network would serve it).
        self.public = public
        self.engine = engine
        self.sources = sources if sources is not None else SourceCatalog()
        self.environment_options = settings.environment_options()
        #: Installed environment modules (conda, R, ...), with their options.
        self.modules = load_modules(settings.modules)
        #: Locks read before, by layer digest (saves reading them back on rebuilds).
        self.locks = LockCache(settings.work_dir / "locks")

    # -- identity ------------------------------------------------------------

    def resolve(self, spec: str, ref: str | None = None) -> Ref:
        """Pin ``spec``/``ref`` to an exact commit before anything is built."""
        return self.sources.resolve(spec, ref)

    def ca_bundle(self) -> bytes | None:
        """The extra CA certificates to trust inside builds, concatenated (PEM)."""
        paths = self.settings.extra_ca_certificates
        if not paths:
            return None
        chunks = []
        for path in paths:
            try:
                chunks.append(Path(path).read_bytes().strip() + b"\n")
            except OSError as exc:
                raise BinderyError(
                    f"extra CA certificate file {path} cannot be read ({exc.strerror}); "
                    "fix builder.extra_ca_certificates"
                ) from exc
        return b"".join(chunks)

    def fingerprint(self) -> str:
        """Short hash of every builder input other than the repository itself."""
        b = self.settings
        digest = hashlib.sha256()
        digest.update(__version__.encode())
        digest.update(json.dumps([b.base_images, b.default_python, b.jupyter_packages,
                                  b.jupyter_remove, b.modules], sort_keys=True).encode())
        digest.update(json.dumps([b.python_policy, b.python_install_mirror, b.managed_pythons,
                                  b.node_requirement, b.apt_ignore_valid_until]).encode())
        digest.update(self.ca_bundle() or b"")
        # The rendered template itself, so a change to how images are made is a new
        # name even within one version; and the uv binary copied into them.
        uv = host_uv_binary()
        plan = render(default_environment(self.environment_options), self.environment_options,
                      ca_bundle=None, bundled_uv=uv is not None,
                      uv_image=f"bindery/uv:{_uv_digest(uv)}" if uv is not None else "")
        digest.update(plan.dockerfile.encode())
        for name, data in sorted(plan.context_files.items()):  # e.g. the images' Jupyter config
            digest.update(name.encode() + b"\0" + data)
        digest.update(_uv_identity().encode())
        return digest.hexdigest()[:8]

    def image_name(self, ref: Ref) -> str:
        """``<prefix>/<slug>-<urlhash>:<resolved>-<fingerprint>``.

        A long resolved ref (a local folder's ``<commit>-dirty-<hash>``) is
        shortened to a digest of the whole value rather than cut, so two
        different dirty states never share a name.
        """
        url_hash = hashlib.sha256(ref.url.encode()).hexdigest()[:6]
        base = _slug(ref.display_name or ref.url.rstrip("/").rsplit("/", 1)[-1])
        resolved = _slug(ref.resolved)
        if len(resolved) > 24:
            resolved = resolved[:12] + "-" + hashlib.sha256(ref.resolved.encode()).hexdigest()[:11]
        return f"{self.settings.image_prefix}/{base}-{url_hash}:{resolved}-{self.fingerprint()}"

    def find_image(self, ref: Ref) -> str | None:
        """The name of an already built image for ``ref``, or ``None``."""
        name = self.image_name(ref)
        return name if self.engine.image_labels(name) is not None else None

    # -- building ------------------------------------------------------------

    def _work_dir(self) -> Path:
        """Where checkouts and build contexts are made (``builder.work_dir``)."""
        self.settings.work_dir.mkdir(parents=True, exist_ok=True)
        return self.settings.work_dir

    def build(
        self,
        ref: Ref,
        *,
        on_event: EventSink | None = None,
        image_name: str | None = None,
    ) -> BuiltImage:
        """Fetch ``ref`` and build its image, or reuse the existing one.

        Events are dicts with a BinderHub-style ``phase`` (``fetching``,
        ``building``, ``built``, ``failed``) and a ``message``. On failure a
        ``failed`` event is sent, the exception re-raised, and no image is left.
        """
        emit = on_event or _no_events
        name = image_name or self.image_name(ref)
        started = time.monotonic()
        labels = self.engine.image_labels(name)
        if labels is not None:
            graded = labels.get(f"{LABEL}.grade-line")
            emit({"phase": "built", "imageName": name, "reused": True,
                  "message": (f"Bindery: {graded}\n" if graded else "") + f"Found built image {name}\n"})
            return BuiltImage(name, ref, True, labels)
        try:
            emit({"phase": "fetching", "message": f"Fetching {ref.url} at {ref.resolved}\n"})
            with tempfile.TemporaryDirectory(prefix="bindery-build-", dir=self._work_dir()) as tmp:
                checkout = Path(tmp) / "repo"
                self._fetch(ref, checkout)
                provenance = {
                    f"{LABEL}.source": ref.url,
                    f"{LABEL}.source-kind": ref.source,
                    f"{LABEL}.ref": ref.resolved,
                    f"{LABEL}.requested-ref": ref.requested or "",
                }
                labels = self._build_checkout(Path(tmp), name, provenance, emit)
        except BinderyError as exc:
            emit({"phase": "failed", "message": f"{exc}\n"})
            raise
        seconds = time.monotonic() - started
        emit({"phase": "built", "imageName": name, "reused": False,
              "message": f"Built image {name} in {seconds:.1f} s\n"})
        return BuiltImage(name, ref, False, labels, seconds)

    def _fetch(self, ref: Ref, dest: Path) -> None:
        self.sources.named(ref.source).fetch(ref, dest, max_bytes=self.settings.max_repo_bytes)
        size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file() and not p.is_symlink())
        if size > self.settings.max_repo_bytes:
            raise SourceError(
                f"The repository is {size / 1e6:.0f} MB, larger than this deployment's "
                f"limit of {self.settings.max_repo_bytes / 1e6:.0f} MB."
            )

    def _build_checkout(
        self, workdir: Path, name: str, provenance: dict[str, str], emit: EventSink
    ) -> dict[str, str]:
        """Render and build ``workdir/repo`` as image ``name``; return its labels."""
        b = self.settings
        checkout = workdir / "repo"
        support = workdir / ".bindery"
        support.mkdir(exist_ok=True)
        options = self._options_for_build(emit)
        options, modules, repo_labels = self._apply_repo_config(checkout, options, emit)
        env = detect(checkout, options, modules,
                     run_host_work=host_runner(support, self._work_dir(), emit))
        uv = host_uv_binary()
        uv_image = self._ensure_uv_image(uv, emit) if uv is not None else ""
        plan = render(env, options, ca_bundle=self.ca_bundle(), bundled_uv=uv is not None,
                      uv_image=uv_image)
        if plan.uses_repo_dockerfile and self.public:
            _refuse_remote_fetches(env.dockerfile or "Dockerfile", env.dockerfile_text or "")
        for line in plan.summary:
            emit({"phase": "building", "message": f"Bindery: {line}\n"})
        for rel, data in plan.context_files.items():
            target = (support / rel).resolve()
            if not target.is_relative_to(support.resolve()):
                raise BuildError(f"refusing context file outside the build context: {rel}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            if rel.endswith((".sh", "start")) or data.startswith(b"#!"):
                target.chmod(0o755)
        if uv is not None and not uv_image and not plan.uses_repo_dockerfile:
            shutil.copy2(uv, support / "uv")
        dockerfile = workdir / "Dockerfile.bindery"
        dockerfile.write_text(plan.dockerfile)
        context = self._docker_context(checkout, plan.context_dir) if plan.uses_repo_dockerfile \
            else workdir
        if plan.required_image:
            self._check_required_image(plan.required_image, env.devcontainer or "the repository")
        labels = {
            **plan.labels,
            **provenance,
            f"{LABEL}.builder-version": __version__,
            f"{LABEL}.fingerprint": self.fingerprint(),
            f"{LABEL}.base-image": plan.base_image,
            f"{LABEL}.python": plan.python_version,
            f"{LABEL}.repo-dockerfile": str(plan.uses_repo_dockerfile).lower(),
            **repo_labels,
            # The grade's summary line, shown again when the image is reused.
            f"{LABEL}.grade-line": next((line for line in plan.summary
                                         if line.startswith(SUMMARY_PREFIX)), ""),
            **plan.labels,
        }
        if not plan.uses_repo_dockerfile:
            self._ensure_base_image(plan.base_image, emit)
        staging = f"{name.rsplit(':', 1)[0]}:staging-{uuid.uuid4().hex[:12]}"
        # A guess at the lock, from the last build of this repository: right for any
        # rebuild that installs the same packages (checked by layer digest below).
        cache_key = f"{name.rsplit(':', 1)[0]} {self.fingerprint()}"
        guess = None if plan.uses_repo_dockerfile else self.locks.last_labels(cache_key)
        if guess is not None:
            labels.update(guess)
        try:
            self.engine.build(
                BuildRequest(context, dockerfile, staging, labels, b.build_timeout, b.build_memory,
                             build_args=plan.build_args),
                lambda line: emit({"phase": "building", "message": line}),
            )
        except BuildLimitExceeded:
            raise
        except BuildError as exc:
            if not exc.step:
                raise
            raise BuildError(explain_failure(exc, plan), exc.log_tail, step=exc.step,
                             step_output=exc.step_output, exit_code=exc.exit_code) from exc
        try:
            read_back = {f"{LABEL}.lock": self._read_lock(staging)}
            read_back.update({label: self._read_report(staging, path)
                              for label, path in plan.report_files.items()})
            if not plan.uses_repo_dockerfile and not any(
                    value.startswith("(not recorded") for value in read_back.values()):
                self.locks.remember(cache_key, read_back)
            if guess == read_back and self.engine.tag_image(staging, name):
                return labels  # the labels the build was given are the image's own
            labels.update(read_back)
            # Labels are metadata: a FROM-only build adds them without a new layer.
            with tempfile.TemporaryDirectory(prefix="bindery-label-") as tmp:
                label_file = Path(tmp) / "Dockerfile"
                label_file.write_text(f"FROM {staging}\n")
                self.engine.build(
                    BuildRequest(Path(tmp), label_file, name, labels, 300, None), lambda _: None
                )
        finally:
            self.engine.remove_image(staging)
        return labels

    def _options_for_build(self, emit: EventSink) -> EnvironmentOptions:
        """The environment options for one build: uv-managed Pythons only while the
        configured mirror answers (asked now, so an outage is noticed per build)."""
        options = self.environment_options
        if not options.python_install_mirror:
            return options
        problem = mirror_problem(options.python_install_mirror)
        if not problem:
            return options
        emit({"phase": "building", "message": f"Bindery: the Python mirror "
              f"{options.python_install_mirror} {problem}; only Debian's Pythons are on offer.\n"})
        return dataclasses.replace(options, python_mirror_problem=problem)

    def _apply_repo_config(
        self, checkout: Path, options: EnvironmentOptions, emit: EventSink
    ) -> tuple[EnvironmentOptions, list[EnvironmentModule], dict[str, str]]:
        """The repository's own ``bindery.toml``: its version pin and allowed options
        (:mod:`bindery.environment.repo_config`)."""
        config = read_repo_config(checkout)
        if config is None:
            hidden = ignored_root_file(checkout)
            if hidden:
                emit({"phase": "building", "message": f"Bindery: {hidden}\n"})
            return options, self.modules, {}
        problem = config.version_problem(__version__)
        if problem and self.settings.repo_version_mismatch == "error":
            raise BuildError(f"{problem} (builder.repo_version_mismatch is 'error'.)")
        emit({"phase": "building", "message": f"Bindery: {config.summary()}\n"})
        if problem:
            emit({"phase": "building", "message": f"Bindery: WARNING: {problem}\n"})
        if config.options:
            options = dataclasses.replace(options, **config.options)
        modules = self.modules
        if config.modules:
            merged = {name: dict(table) for name, table in self.settings.modules.items()}
            for name, table in config.modules.items():
                merged.setdefault(name, {}).update(table)
            modules = load_modules(merged)
        return options, modules, {f"{LABEL}.builder-requested": config.version or "(any)"}

    @staticmethod
    def _docker_context(checkout: Path, relative: str) -> Path:
        """The build context inside the checkout; a linked directory that leads out of it
        (``.devcontainer`` → ``/``) would send the host's files to the engine."""
        context = (checkout / relative).resolve() if relative else checkout
        if not context.is_relative_to(checkout.resolve()) or not context.is_dir():
            raise BuildError(f"The build context {relative}/ is not a directory inside the "
                             "repository.")
        return context

    def _check_required_image(self, image: str, origin: str) -> None:
        """devcontainer.json ``image``: allow-listed on a public builder, and present."""
        patterns = self.settings.devcontainer_images
        if self.public and not any(fnmatch.fnmatchcase(image, p) for p in patterns):
            allowed = ", ".join(patterns) or "none are"
            raise BuildError(f"{origin} asks for the image {image}, which this public service "
                             f"does not allow (builder.devcontainer_images: {allowed}).")
        if self.engine.image_labels(image) is None:
            raise BuildError(
                f"{origin} asks for the image {image}, which is not on this machine. Bindery "
                "does not fetch devcontainer images from their registry: pull it onto the "
                f"engine first (docker pull {image}), or use build.dockerfile instead.")

    def _ensure_uv_image(self, uv: Path, emit: EventSink) -> str:
        """``bindery/uv:<digest>``: the builder's uv binary alone (``/uv``), made once.
        Builds copy uv from it instead of carrying 40 MB in every context. "" when the
        engine cannot make it (the binary then travels in the context as before)."""
        name = f"bindery/uv:{_uv_digest(uv)}"
        if self.engine.image_labels(name) is not None:
            return name
        try:
            with tempfile.TemporaryDirectory(prefix="bindery-uv-", dir=self._work_dir()) as tmp:
                shutil.copy2(uv, Path(tmp) / "uv")
                (Path(tmp) / "Dockerfile").write_text("FROM scratch\nCOPY uv /uv\n")
                self.engine.build(BuildRequest(Path(tmp), Path(tmp) / "Dockerfile", name,
                                               {f"{LABEL}.uv": _uv_identity()}, 300, None),
                                  lambda _: None)
        except BinderyError as exc:
            emit({"phase": "building", "message": f"Bindery: could not make {name} ({exc}); "
                  "uv travels in the build context instead\n"})
            return ""
        return name

    def _ensure_base_image(self, image: str, emit: EventSink) -> None:
        """Make a missing base image now (debootstrap), with its progress in the build log."""
        if self.engine.image_labels(image) is not None:
            return
        emit({"phase": "building",
              "message": f"Bindery: base image {image} is missing; making it now (once)\n"})
        self.engine.provide_base_image(
            image, self.settings.debian_mirror,
            lambda line: emit({"phase": "building", "message": f"[base image] {line}"}))

    def _read_lock(self, image: str) -> str:
        try:
            return self.engine.read_file(image, LOCK_PATH).strip()
        except Exception:  # noqa: BLE001 - a repo Dockerfile may not have a venv or cat
            return "(not recorded: the image does not provide " + LOCK_PATH + ")"

    def _read_report(self, image: str, path: str) -> str:
        try:
            return self.engine.read_file(image, path).strip()
        except Exception:  # noqa: BLE001 - the step that writes it may have been skipped
            return f"(not recorded: the build wrote no {path})"

    # -- the default environment ----------------------------------------------

    def default_image_name(self) -> str:
        return f"{self.settings.image_prefix}/default:{__version__}-{self.fingerprint()}"

    def ensure_default_image(self, on_event: EventSink | None = None) -> str:
        """The no-configuration environment (JupyterLab, Notebook 7, ipykernel), built once."""
        emit = on_event or _no_events
        name = self.default_image_name()
        if self.engine.image_labels(name) is not None:
            return name
        with tempfile.TemporaryDirectory(prefix="bindery-default-", dir=self._work_dir()) as tmp:
            (Path(tmp) / "repo").mkdir()
            self._build_checkout(Path(tmp), name, {f"{LABEL}.source": "(default environment)"}, emit)
        emit({"phase": "built", "imageName": name, "message": f"Built image {name}\n"})
        return name
