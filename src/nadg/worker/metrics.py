"""Prometheus metrics of one worker, in the app's own registry (never the global one)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


@dataclass
class WorkerMetrics:
    registry: CollectorRegistry
    tasks: Counter
    duration: Histogram
    running: Gauge

    @classmethod
    def create(cls) -> WorkerMetrics:
        registry = CollectorRegistry(auto_describe=True)
        return cls(
            registry=registry,
            tasks=Counter(
                "nadg_worker_tasks",
                "Tasks run by this worker, by kind and final status.",
                ["kind", "status"],
                registry=registry,
            ),
            duration=Histogram(
                "nadg_worker_task_duration_seconds",
                "Wall-clock duration of tasks, by kind.",
                ["kind"],
                buckets=BUCKETS,
                registry=registry,
            ),
            running=Gauge(
                "nadg_worker_running_tasks", "Tasks running right now.", registry=registry
            ),
        )

    def observe(self, kind: str, status: str, seconds: float) -> None:
        self.tasks.labels(kind=kind, status=status).inc()
        self.duration.labels(kind=kind).observe(seconds)

    def render(self) -> bytes:
        data: bytes = generate_latest(self.registry)
        return data
