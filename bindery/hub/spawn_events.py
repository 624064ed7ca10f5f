"""Progress events of a server start, as the progress API streams them (JupyterHub's shape).

Every event has ``progress`` (0..100) and ``message``; the last one of a start says
``ready`` (with the ``url`` to open) or ``failed``. Keys that do not apply are left
out of the JSON, as JupyterHub does, so clients can test ``event.get("ready")``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SpawnEvent:
    """One step of a server start."""

    progress: int
    message: str
    ready: bool = False
    failed: bool = False
    #: The message with a link, for pages that show HTML.
    html_message: str | None = None
    #: Where the ready server opens (its base URL plus the requested default URL).
    url: str | None = None

    @classmethod
    def ready_at(cls, base_url: str, url: str | None = None, *, link: bool = True) -> SpawnEvent:
        """The final event of a successful start; ``url`` defaults to ``base_url``."""
        target = url or base_url
        html = f'Server ready at <a href="{target}">{base_url}</a>' if link else None
        return cls(
            progress=100,
            message=f"Server ready at {base_url}",
            ready=True,
            html_message=html,
            url=target,
        )

    @classmethod
    def failed_because(cls, reason: str) -> SpawnEvent:
        """The final event of a start that failed; ``reason`` is for a person."""
        return cls(progress=100, message=f"Spawn failed: {reason}", failed=True)

    def as_json(self) -> dict[str, object]:
        """The event as the progress API sends it (``data: <json>``)."""
        out: dict[str, object] = {"progress": self.progress, "message": self.message}
        if self.ready:
            out["ready"] = True
        if self.failed:
            out["failed"] = True
        if self.html_message is not None:
            out["html_message"] = self.html_message
        if self.url is not None:
            out["url"] = self.url
        return out
