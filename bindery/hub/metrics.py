"""Prometheus metrics of one hub (own registry, so several hubs in one process never clash)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class HubMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.spawn_duration = Histogram(
            "bindery_hub_spawn_duration_seconds", "Seconds from spawn request to server ready",
            ["status"], registry=self.registry,
            buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, float("inf")),
        )
        self.running_servers = Gauge(
            "bindery_hub_running_servers", "Servers currently running", registry=self.registry
        )
        self.active_users = Gauge(
            "bindery_hub_active_users", "Users active in the last 24 hours", registry=self.registry
        )
        self.total_users = Gauge(
            "bindery_hub_total_users", "Users in the database", registry=self.registry
        )
        self.request_duration = Histogram(
            "bindery_hub_request_duration_seconds",
            "Hub HTTP request duration",
            ["method", "handler", "code"],
            registry=self.registry,
        )
        self.proxy_route_ops = Counter(
            "bindery_hub_proxy_route_operations_total",
            "Route changes sent to the proxy",
            ["operation", "status"],
            registry=self.registry,
        )
        self.culled_servers = Counter(
            "bindery_hub_culled_servers_total",
            "Servers stopped by the built-in culler",
            ["reason"],
            registry=self.registry,
        )
