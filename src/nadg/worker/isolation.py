"""How a task's process is isolated: the layers, and the argv that applies them (pure).

`sandbox.py` detects which plan this host supports (by running probes) and starts processes;
everything here is plain data and functions, so it is unit-tested without starting anything.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# Directories every sandbox sees read-only (when they exist on the host).
SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/bin", "/etc/ssl")
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
SANDBOX_ENV = {"PATH": SANDBOX_PATH, "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8"}
MARKER_ENV = "NADG_SANDBOX_MARKER"  # set in fallback mode only, to sweep what a task left

# Run first inside the sandbox with `python -I -S -c`: read the marshalled payload from stdin,
# apply the limits, then run the task's code as __main__ with `context` as a global.
BOOTSTRAP = """\
import os, sys, marshal, resource, builtins
code, context, paths, limits = marshal.loads(sys.stdin.buffer.read())
os.dup2(os.open("/dev/null", os.O_RDONLY), 0)  # fd 0 itself, not just sys.stdin: drop the pipe
sys.stdin = open(0, closefd=False)
for name, soft, hard in limits:
    resource.setrlimit(getattr(resource, name), (soft, hard))
sys.path.extend(paths)
builtins.exit = builtins.quit = sys.exit
del os, marshal, resource, limits, paths
try:
    exec(compile(code, "<task>", "exec"),
         {"__name__": "__main__", "__builtins__": builtins, "context": context})
except SystemExit:
    raise
except BaseException as exc:
    import linecache, traceback
    linecache.cache["<task>"] = (len(code), None, code.splitlines(True), "<task>")
    traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
    sys.exit(1)
"""


@dataclass(frozen=True)
class Limits:
    """Resource limits applied to every task (all from Settings)."""

    memory_bytes: int
    max_processes: int
    max_file_bytes: int
    max_open_files: int
    tmp_bytes: int

    def rlimits(self, timeout: float) -> list[tuple[str, int, int]]:
        """(name, soft, hard) for `resource.setrlimit`; CPU seconds follow the task's timeout."""
        cpu = math.ceil(timeout) + 1
        return [
            ("RLIMIT_CPU", cpu, cpu + 1),
            ("RLIMIT_AS", self.memory_bytes, self.memory_bytes),
            ("RLIMIT_NPROC", self.max_processes, self.max_processes),
            ("RLIMIT_FSIZE", self.max_file_bytes, self.max_file_bytes),
            ("RLIMIT_NOFILE", self.max_open_files, self.max_open_files),
            ("RLIMIT_CORE", 0, 0),
        ]


@dataclass(frozen=True)
class Plan:
    """One way of isolating tasks; `layers` names what is actually in force."""

    python: Path  # the interpreter, by absolute path (not resolved: a venv keeps its packages)
    python_dirs: tuple[Path, ...] = ()  # directories the interpreter needs, bound read-only
    bwrap: str | None = None
    setpriv: str | None = None
    uid: int | None = None  # drop to this uid/gid (the worker runs as root)
    gid: int | None = None
    as_root: bool = False  # bwrap without a user namespace (root), else --unshare-all
    allow_network: bool = False
    site_paths: tuple[str, ...] = ()
    layers: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        return "+".join(self.layers) if self.layers else "none"


def layers_for(plan: Plan) -> tuple[str, ...]:
    """The isolation layers a plan provides, strongest first, for /status."""
    layers: list[str] = []
    if plan.bwrap:
        layers.append("bwrap")
        if not plan.allow_network:
            layers.append("network")
    if plan.uid is not None:
        layers.append("uid")
    layers += ["rlimits", "timeout", "output-cap"]
    if not plan.bwrap:
        layers.append("setsid-sweep")
    return tuple(layers)


def ancestors(path: Path) -> list[Path]:
    """Parents of `path`, outermost first, without `/`: ('/a', '/a/b') for '/a/b/c'."""
    return list(reversed(path.parents))[1:]


def outermost(dirs: Iterable[Path]) -> list[Path]:
    """The directories not inside another one of them, sorted."""
    unique = sorted(set(dirs))
    return [d for d in unique if not any(o != d and o in d.parents for o in unique)]


def system_binds(names: Iterable[str]) -> list[str]:
    """Read-only binds of the system directories that exist on this host."""
    args: list[str] = []
    for name in names:
        if os.path.exists(name):
            args += ["--ro-bind", name, name]
    return args


def bind_args(dirs: Iterable[Path], mounted: Iterable[str]) -> list[str]:
    """Read-only binds; parents bwrap creates are made 0755 so an unprivileged uid can pass.

    bwrap creates missing parents of a bind point with mode 0700: the sandbox uid could not
    reach an interpreter under /root, and the loader would silently pick another libpython.
    Parents already `mounted` in the sandbox are left as they are.
    """
    args: list[str] = []
    made = {Path(name) for name in mounted}
    for directory in outermost(dirs):
        for parent in ancestors(directory):
            if parent not in made:
                made.add(parent)
                args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--ro-bind", str(directory), str(directory)]
    return args


def bwrap_args(plan: Plan, limits: Limits) -> list[str]:
    """The bwrap part of the exec chain (everything before the inner command)."""
    assert plan.bwrap is not None
    if plan.as_root:
        # No user namespace: root in the sandbox, then setpriv drops to the sandbox uid.
        ns = ["--unshare-ipc", "--unshare-pid", "--unshare-uts"]
        if not plan.allow_network:
            ns.append("--unshare-net")
    else:
        ns = ["--unshare-all"] + (["--share-net"] if plan.allow_network else [])
    env: list[str] = []
    for key, value in SANDBOX_ENV.items():
        env += ["--setenv", key, value]
    return [
        plan.bwrap,
        *ns,
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        *env,
        *system_binds(SYSTEM_DIRS),
        "--proc", "/proc",
        "--dev", "/dev",
        "--perms", "1777",
        "--size", str(limits.tmp_bytes),
        "--tmpfs", "/tmp",
        # After the tmpfs: an interpreter or venv that lives under /tmp (a CI checkout, say)
        # is bound on top of it instead of being hidden by it.
        *bind_args(plan.python_dirs, (*SYSTEM_DIRS, "/tmp")),
        "--chdir", "/tmp",
        "--",
    ]  # fmt: skip


def setpriv_args(plan: Plan) -> list[str]:
    """Drop to the sandbox uid with no capabilities and no way to regain privileges."""
    if plan.setpriv is None or plan.uid is None:
        return []
    gid = plan.gid if plan.gid is not None else plan.uid
    return [
        plan.setpriv,
        f"--reuid={plan.uid}",
        f"--regid={gid}",
        "--clear-groups",
        "--bounding-set=-all",
        "--inh-caps=-all",
        "--no-new-privs",
        "--",
    ]


def command(plan: Plan, limits: Limits) -> list[str]:
    """The full exec chain: [bwrap ... --] [setpriv ... --] python -I -S -c BOOTSTRAP."""
    outer = bwrap_args(plan, limits) if plan.bwrap else []
    return [*outer, *setpriv_args(plan), str(plan.python), "-I", "-S", "-c", BOOTSTRAP]


def fallback_env(marker: str, workdir: str) -> dict[str, str]:
    """The environment of a task without bwrap: nothing of the worker's, plus the marker."""
    return {**SANDBOX_ENV, "HOME": workdir, "TMPDIR": workdir, MARKER_ENV: marker}
