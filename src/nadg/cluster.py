"""Start N workers on loopback as real `nadg worker` processes (demo, `nadg up`, tests, bench)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from nadg.errors import NadgError

logger = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LocalWorker:
    """One `nadg worker` child process."""

    worker_id: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path | None = None
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: the worker dies without a goodbye, as a preempted VM does."""
        if self.alive:
            self.process.kill()
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@dataclass
class LocalCluster:
    """Start `size` workers with one token; a context manager that stops them all on exit."""

    size: int
    token: str | None = None
    max_concurrency: int = 2
    extra_args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    host: str = "127.0.0.1"
    name_prefix: str = "local"
    workers: list[LocalWorker] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [worker.url for worker in self.workers]

    def start(self, timeout: float = 30.0) -> LocalCluster:
        for _ in range(self.size):
            self.workers.append(self._spawn())
        try:
            for worker in self.workers:
                wait_until_healthy(worker, timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def add_worker(self, timeout: float = 30.0, extra_args: Sequence[str] = ()) -> LocalWorker:
        worker = self._spawn(extra_args)
        self.workers.append(worker)
        wait_until_healthy(worker, timeout=timeout)
        return worker

    def stop(self) -> None:
        for worker in self.workers:
            if worker.alive:
                worker.process.send_signal(signal.SIGTERM)
        for worker in self.workers:
            worker.stop()

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, extra_args: Sequence[str] = ()) -> LocalWorker:
        port = free_port(self.host)
        worker_id = f"{self.name_prefix}-{len(self.workers) + 1}-{port}"
        args = [
            sys.executable, "-m", "nadg", "worker",
            "--host", self.host,
            "--port", str(port),
            "--worker-id", worker_id,
            "--max-concurrency", str(self.max_concurrency),
            *self.extra_args,
            *extra_args,
        ]  # fmt: skip
        env = {**os.environ, **self.env}
        if self.token:
            env["NADG_AUTH_TOKEN"] = self.token  # never on the command line, where ps shows it
        log_path = self.log_dir / f"{worker_id}.log" if self.log_dir else None
        log = log_path.open("wb") if log_path else subprocess.DEVNULL
        try:
            process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        finally:
            if log_path and not isinstance(log, int):
                log.close()
        logger.debug("started worker %s on port %d", worker_id, port)
        return LocalWorker(worker_id, port, process, log_path, self.host)


def wait_until_healthy(worker: LocalWorker, timeout: float = 30.0) -> None:
    """Poll GET /health until it answers 200, the process dies, or the deadline passes."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if not worker.alive:
                raise NadgError(
                    f"worker {worker.worker_id} exited with {worker.process.returncode}"
                    + _log_tail(worker)
                )
            try:
                if http.get(f"{worker.url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise NadgError(
        f"worker {worker.worker_id} not healthy after {timeout:g} s" + _log_tail(worker)
    )


def _log_tail(worker: LocalWorker) -> str:
    if not worker.log_path or not worker.log_path.exists():
        return ""
    return ": " + worker.log_path.read_text(errors="replace")[-800:]
