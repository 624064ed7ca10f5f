"""Prometheus metrics of the launch service (``/metrics``).

Names follow BinderHub's (``binderhub_build_time_seconds``...) so existing
dashboards keep working; a private registry keeps several apps in one process
(tests) from colliding.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

BUCKETS = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, float("inf"))


class BinderMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.build_time = Histogram("binderhub_build_time_seconds", "Time taken to build an image",
                                    ["status"], buckets=BUCKETS, registry=r)
        # Label sets as BinderHub's: ``retries`` is 0 on success (Bindery does not retry
        # a launch) and -1 on failure; ``provider`` is the provider's display name and
        # ``repo`` the repository URL, so per-repository dashboards keep working.
        self.launch_time = Histogram("binderhub_launch_time_seconds",
                                     "Time from image ready to server ready",
                                     ["status", "retries"], buckets=BUCKETS, registry=r)
        self.launches = Counter("binderhub_launch_count", "Launch requests by final status",
                                ["status", "provider", "repo"], registry=r)
        self.builds = Counter("binderhub_build_count", "Builds by final status",
                              ["status", "provider", "repo"], registry=r)
        self.builds_in_progress = Gauge("binderhub_inprogress_builds", "Builds running now",
                                        registry=r)
        self.launches_in_progress = Gauge("binderhub_inprogress_launches",
                                          "Launches running now", registry=r)
        self.queue_length = Gauge("binderhub_launch_queue_length",
                                  "Requests waiting for a free slot", registry=r)
