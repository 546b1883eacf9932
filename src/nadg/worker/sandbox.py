"""Run untrusted Python under the strongest isolation this host allows: the only place that
starts processes for tasks.

`detect_sandbox` probes, once at start, which plan of `isolation.py` works here; `Sandbox.run`
takes an exec chain (pre-started by the warm pool of `pool.py`, or started on demand), feeds it
the task, reads stdout/stderr with caps, enforces the wall-clock timeout and kills whatever the
task left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import marshal
import os
import secrets
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from nadg.config import Settings
from nadg.errors import SandboxError
from nadg.worker.isolation import MARKER_ENV, Limits, Plan, command, fallback_env, layers_for
from nadg.worker.pool import Chain, WarmPool
from nadg.worker.streams import Capture, feed

logger = logging.getLogger(__name__)

PIPE = asyncio.subprocess.PIPE
DRAIN_GRACE_S = 1.0  # how long to wait for the pipes to close once the task is dead
PROBE_CODE = "import os, sys\nprint(sys.version)\nprint(os.getuid())\n"
INFO_CODE = (
    "import json, site, sys\n"
    "print(json.dumps({'version': sys.version, 'prefix': sys.prefix,"
    " 'base_prefix': sys.base_prefix, 'site': site.getsitepackages()}))"
)


@dataclass(frozen=True)
class Outcome:
    """What a sandboxed run produced."""

    return_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    truncated: bool
    duration_ms: float


class Sandbox:
    """Runs one task per call under `plan`; safe to call concurrently.

    With `warm_up(n)` a pool keeps `n` exec chains started ahead of demand; each still runs
    exactly one task. `close()` kills the idle ones.
    """

    def __init__(self, plan: Plan, limits: Limits, output_bytes: int) -> None:
        self.plan = plan
        self.limits = limits
        self.output_bytes = output_bytes
        self.pool: WarmPool | None = None

    @property
    def isolation(self) -> str:
        return self.plan.name

    def warm_up(self, size: int) -> None:
        """Keep `size` sandboxes started ahead of demand; 0 starts one per task instead.

        Only under bwrap. Without a pid namespace a running task sees the idle sandboxes in
        /proc and could write its own payload into one's stdin (/proc/<pid>/fd/0 needs no
        ptrace rights), i.e. run code in, and read, a later task of someone else.
        """
        if size <= 0 or self.pool is not None:
            return
        if not self.plan.bwrap:
            logger.info("no warm sandboxes without bwrap: one cold start per task")
            return
        self.pool = WarmPool(self.spawn, self.discard, size)
        self.pool.start()

    async def close(self) -> None:
        """Kill the idle sandboxes of the pool, if any."""
        pool, self.pool = self.pool, None
        if pool is not None:
            await pool.close()

    async def run(self, code: str, context: dict[str, str], timeout: float) -> Outcome:
        payload = marshal.dumps(
            (code, dict(context), list(self.plan.site_paths), self.limits.rlimits(timeout))
        )
        started = time.perf_counter()
        chain = await (self.pool.take() if self.pool else self.spawn())
        try:
            out, err = Capture(self.output_bytes), Capture(self.output_bytes)
            # The timeout starts here, when the payload is fed, not when the chain started.
            timed_out = await self._supervise(chain.proc, payload, out, err, timeout, chain.marker)
        finally:
            _remove(chain.workdir)
        return Outcome(
            return_code=None if timed_out else chain.proc.returncode,
            stdout=out.text(),
            stderr=err.text(),
            timed_out=timed_out,
            truncated=out.truncated or err.truncated,
            duration_ms=(time.perf_counter() - started) * 1000.0,
        )

    async def spawn(self) -> Chain:
        """Start the exec chain; it waits on stdin for its payload."""
        marker = secrets.token_hex(12)
        workdir = None if self.plan.bwrap else self._make_workdir()
        env = {} if self.plan.bwrap else fallback_env(marker, workdir or "/tmp")
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._argv,
                stdin=PIPE,
                stdout=PIPE,
                stderr=PIPE,
                env=env,
                cwd=workdir,
                start_new_session=True,  # its own process group, killed as one
            )
        except OSError as exc:
            _remove(workdir)
            raise SandboxError(f"could not start the sandbox: {exc}") from exc
        return Chain(proc, marker, workdir)

    async def discard(self, chain: Chain) -> None:
        """Kill a chain that never got its payload, and remove its workdir."""
        try:
            await self._kill(chain.proc, sweep=None)  # it ran no code: nothing to sweep
        finally:
            _remove(chain.workdir)

    @functools.cached_property
    def _argv(self) -> list[str]:
        return command(self.plan, self.limits)

    async def _supervise(
        self,
        proc: asyncio.subprocess.Process,
        payload: bytes,
        out: Capture,
        err: Capture,
        timeout: float,
        marker: str,
    ) -> bool:
        """Wait for the task within `timeout`; then kill what is left. True if it timed out."""
        assert proc.stdin and proc.stdout and proc.stderr
        io = [
            asyncio.create_task(feed(proc.stdin, payload)),
            asyncio.create_task(out.drain(proc.stdout)),
            asyncio.create_task(err.drain(proc.stderr)),
        ]
        timed_out = False
        try:
            async with asyncio.timeout(timeout):
                await exited(proc)
        except TimeoutError:
            timed_out = True
        finally:
            await self._kill(proc, marker)
            await _finish(io)
        return timed_out

    async def _kill(self, proc: asyncio.subprocess.Process, sweep: str | None) -> None:
        """Kill the task's process group (with bwrap: its pid namespace) and any escapee."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.returncode is None:
            # os.kill, not proc.kill(): Popen.send_signal polls first and would reap the child
            # behind asyncio's watcher, which then reports exit code 255.
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
        if sweep and not self.plan.bwrap:
            # No pid namespace: a setsid() escapee left the group; find it by its marker.
            await asyncio.to_thread(sweep_marker, sweep)
        await proc.wait()

    def _make_workdir(self) -> str:
        workdir = tempfile.mkdtemp(prefix="nadg-task-")
        if self.plan.uid is not None:
            os.chown(workdir, self.plan.uid, self.plan.gid or self.plan.uid)
        return workdir


def _remove(workdir: str | None) -> None:
    if workdir:
        shutil.rmtree(workdir, ignore_errors=True)


async def exited(proc: asyncio.subprocess.Process) -> None:
    """Wait until the process itself exits.

    Not `proc.wait()`: that also waits for its pipes to close, which an escaped grandchild
    holding stdout can delay until the timeout. A pidfd becomes readable at exit.
    """
    try:
        pidfd = os.pidfd_open(proc.pid)
    except OSError:  # already reaped, or a kernel without pidfd
        await proc.wait()
        return
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.add_reader(pidfd, _resolve, done)
    try:
        if proc.returncode is None:
            await done
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _finish(tasks: list[asyncio.Task[None]]) -> None:
    """Let the readers reach EOF; cancel them if a pipe stays open past the grace period."""
    _done, pending = await asyncio.wait(tasks, timeout=DRAIN_GRACE_S)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def sweep_marker(marker: str) -> int:
    """SIGKILL every process whose environment carries `marker`; how many were found."""
    needle = f"{MARKER_ENV}={marker}".encode()
    killed = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as handle:
                environ = handle.read()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
    if killed:
        logger.warning("killed %d process(es) a task left behind", killed)
    return killed


# --- detection, once at start ----------------------------------------------------------------


async def _run_plain(argv: list[str], timeout: float = 20.0) -> str:
    """Run a probe outside any sandbox and return its stdout ('' when it fails)."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=PIPE, stderr=asyncio.subprocess.DEVNULL, env={}
        )
    except OSError:  # no such program, or not executable: the caller says which one
        return ""
    try:
        async with asyncio.timeout(timeout):
            stdout, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return ""
    return stdout.decode(errors="replace") if proc.returncode == 0 else ""


async def interpreter_info(python: Path) -> dict[str, object]:
    """Version, prefixes and site-packages of the interpreter tasks run with."""
    text = await _run_plain([str(python), "-I", "-c", INFO_CODE])
    try:
        info = json.loads(text) if text else None
    except ValueError:
        info = None
    if not isinstance(info, dict) or "version" not in info:
        raise SandboxError(f"the interpreter {python} does not run (NADG_PYTHON_EXECUTABLE)")
    return info


def candidate_plans(base: Plan, settings: Settings, root: bool) -> list[Plan]:
    """Plans to probe, strongest first."""
    bwrap = shutil.which("bwrap") if settings.sandbox_use_bwrap else None
    setpriv = shutil.which("setpriv") if root else None
    dropped = replace(base, setpriv=setpriv, uid=settings.sandbox_uid, gid=settings.sandbox_gid)
    plans: list[Plan] = []
    if bwrap and root and setpriv:
        plans.append(replace(dropped, bwrap=bwrap, as_root=True))
    if bwrap and not root:
        plans.append(replace(base, bwrap=bwrap))
    if setpriv:
        plans.append(dropped)
    plans.append(base)
    return [replace(plan, layers=layers_for(plan)) for plan in plans]


async def probe(sandbox: Sandbox, version: str) -> str | None:
    """None if the plan works (the right interpreter, the right uid), else why not."""
    try:
        outcome = await sandbox.run(PROBE_CODE, {}, timeout=20.0)
    except SandboxError as exc:
        return exc.message
    lines = outcome.stdout.splitlines()
    if outcome.return_code != 0 or len(lines) < 2:
        return f"exit {outcome.return_code}: {outcome.stderr.strip()[-300:]}"
    if lines[0] != version.splitlines()[0]:
        # e.g. the uid cannot read the interpreter's libpython and the loader found another.
        return f"ran a different interpreter ({lines[0].split()[0]})"
    uid = sandbox.plan.uid
    if uid is not None and lines[1] != str(uid):
        return f"ran as uid {lines[1]}, not {uid}"
    return None


async def detect_sandbox(settings: Settings) -> Sandbox:
    """The strongest sandbox that works on this host; one warning when it is not bwrap."""
    python = absolute(settings.python_executable)
    info = await interpreter_info(python)
    base = base_plan(python, info, settings.allow_network)
    limits = Limits(
        memory_bytes=settings.sandbox_memory_bytes,
        max_processes=settings.sandbox_max_processes,
        max_file_bytes=settings.sandbox_max_file_bytes,
        max_open_files=settings.sandbox_max_open_files,
        tmp_bytes=settings.sandbox_tmp_bytes,
    )
    reasons: list[str] = []
    for plan in candidate_plans(base, settings, os.geteuid() == 0):
        sandbox = Sandbox(plan, limits, settings.sandbox_output_bytes)
        why = await probe(sandbox, str(info["version"]))
        if why is None:
            _report(sandbox, reasons)
            return sandbox
        reasons.append(f"{plan.name}: {why}")
    raise SandboxError("no sandbox works on this host: " + "; ".join(reasons))


def absolute(path: Path) -> Path:
    """The path made absolute, symlinks kept (a venv's python finds its packages by its path)."""
    return Path(os.path.abspath(path))


def base_plan(python: Path, info: dict[str, object], allow_network: bool) -> Plan:
    """The plan without any layer: which interpreter, what it must see."""
    dirs = {Path(str(info["base_prefix"])), Path(str(info["prefix"]))}
    dirs |= {python.parent, python.resolve().parent}  # the real binary, past symlinks
    return Plan(
        python=python,
        python_dirs=tuple(sorted(dirs)),
        allow_network=allow_network,
        site_paths=_site_paths(info),
    )


def _site_paths(info: dict[str, object]) -> tuple[str, ...]:
    site = info.get("site")
    return tuple(str(path) for path in site) if isinstance(site, list) else ()


def _report(sandbox: Sandbox, reasons: list[str]) -> None:
    if sandbox.plan.bwrap and not reasons:
        logger.info("sandbox isolation: %s", sandbox.isolation)
        return
    why = "; ".join(reasons) or "bubblewrap is not installed or disabled"
    logger.warning(
        "weaker sandbox isolation in force: %s (stronger plans failed: %s)", sandbox.isolation, why
    )


async def detect_gpu() -> bool:
    """An NVIDIA GPU is visible: /dev/nvidia0 exists or `nvidia-smi -L` lists one."""
    if _has_nvidia_device():
        return True
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    return "GPU" in await _run_plain([smi, "-L"], timeout=5.0)


def _has_nvidia_device() -> bool:
    return os.path.exists("/dev/nvidia0")
