"""Host-side work that environment modules ask for (:class:`HostWork`), run by the builder.

The environment layer is pure, so a module that must look at the network before it can
decide (is the conda channel there? what does the solve give?) describes the work as data;
detection calls back into this module through ``run_host_work``. Each kind of work has one
handler here; a handler writes into its directory of the build context and answers with a
:class:`HostResult`, or raises a :class:`~bindery.errors.BuildError` a person can read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bindery.builder.events import EventSink
from bindery.environment.modules import HostResult, HostRunner, HostWork
from bindery.errors import BuildError

#: (work, its directory in the build context, the builder's work dir, event sink) → result.
Handler = Callable[[HostWork, Path, Path, EventSink], HostResult]


def _conda(work: HostWork, out_dir: Path, work_dir: Path, emit: EventSink) -> HostResult:
    from bindery.builder.conda_client import run_conda_work

    return run_conda_work(work, out_dir, work_dir, emit)


HANDLERS: dict[str, Handler] = {"conda": _conda}


def host_runner(context_dir: Path, work_dir: Path, emit: EventSink) -> HostRunner:
    """The ``run_host_work`` callable for one build whose support files go to ``context_dir``."""

    def run(work: HostWork) -> HostResult:
        handler = HANDLERS.get(work.kind)
        if handler is None:
            raise BuildError(
                f"an environment module asked for host work of kind {work.kind!r}, which this "
                f"builder cannot do (known: {', '.join(sorted(HANDLERS))})"
            )
        target = (context_dir / work.context_dir).resolve()
        if not target.is_relative_to(context_dir.resolve()) or target == context_dir.resolve():
            raise BuildError(f"refusing host work output outside the build context: {work.context_dir}")
        return handler(work, target, work_dir, emit)

    return run
