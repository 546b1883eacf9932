"""Pure parts of the sandbox and the worker: exec chains, limits, caps, caches, decisions."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from nadg.cli.worker import is_loopback, refusal
from nadg.config import Settings
from nadg.protocol import ResultStatus, TaskResult
from nadg.worker.app import capabilities, public_url
from nadg.worker.executors import explain, status_of
from nadg.worker.idempotency import IdempotencyCache
from nadg.worker.isolation import Limits, Plan, ancestors, bind_args, command, layers_for
from nadg.worker.sandbox import Outcome, candidate_plans
from nadg.worker.streams import Capture

LIMITS = Limits(2**30, 64, 2**26, 256, 2**26)
PY = Path("/opt/py/bin/python")


def plan(**fields: object) -> Plan:
    base = Plan(python=PY, python_dirs=(Path("/opt/py"), Path("/root/.pyenv/v/3.11")))
    return Plan(**{**base.__dict__, **fields})  # type: ignore[arg-type]


def test_root_chain_is_bwrap_without_userns_then_setpriv() -> None:
    argv = command(plan(bwrap="/usr/bin/bwrap", as_root=True, setpriv="/sp", uid=65534), LIMITS)
    assert argv[0] == "/usr/bin/bwrap" and "--unshare-all" not in argv
    assert {"--unshare-pid", "--unshare-net", "--die-with-parent", "--clearenv"} <= set(argv)
    sp = argv.index("/sp")
    assert argv[sp + 1 : sp + 3] == ["--reuid=65534", "--regid=65534"]
    assert argv[argv.index("--size") + 1] == str(2**26)
    assert argv[-5:-1] == [str(PY), "-I", "-S", "-c"]


def test_non_root_chain_uses_a_user_namespace() -> None:
    argv = command(plan(bwrap="/usr/bin/bwrap"), LIMITS)
    assert "--unshare-all" in argv and "--share-net" not in argv
    net = command(plan(bwrap="/usr/bin/bwrap", allow_network=True), LIMITS)
    assert "--share-net" in net


def test_allow_network_keeps_the_network_as_root() -> None:
    argv = command(plan(bwrap="/b", as_root=True, allow_network=True), LIMITS)
    assert "--unshare-net" not in argv
    assert "network" not in layers_for(plan(bwrap="/b", as_root=True, allow_network=True))


def test_parents_of_binds_are_made_traversable() -> None:
    args = bind_args([Path("/root/.pyenv/v/3.11"), Path("/root/.pyenv/v/3.11/bin")], ())
    assert args.count("--ro-bind") == 1  # the inner directory is already inside the outer one
    made = [args[i + 1] for i, a in enumerate(args) if a == "--dir"]
    assert made == ["/root", "/root/.pyenv", "/root/.pyenv/v"]
    assert all(args[args.index(d) - 2] == "0755" for d in made)
    assert ancestors(Path("/a/b/c")) == [Path("/a"), Path("/a/b")]


def test_an_interpreter_under_tmp_is_bound_over_the_tasks_tmpfs() -> None:
    venv = Path("/tmp/checkout/.venv")
    argv = command(plan(bwrap="/usr/bin/bwrap", as_root=True, python_dirs=(venv,)), LIMITS)
    tmpfs = argv.index("--tmpfs")
    bind = argv.index(str(venv))
    assert argv[bind - 1] == "--ro-bind" and bind > tmpfs  # on top of /tmp, not hidden by it
    made = [argv[i + 1] for i, a in enumerate(argv) if a == "--dir"]
    assert made == ["/tmp/checkout"]  # /tmp itself stays the 1777 tmpfs


def test_no_bwrap_no_setpriv_is_bare_python() -> None:
    assert command(plan(), LIMITS)[:2] == [str(PY), "-I"]
    assert layers_for(plan()) == ("rlimits", "timeout", "output-cap", "setsid-sweep")


def test_rlimits_follow_the_timeout() -> None:
    limits = dict((name, (soft, hard)) for name, soft, hard in LIMITS.rlimits(2.5))
    assert limits["RLIMIT_CPU"] == (4, 5)
    assert limits["RLIMIT_AS"] == (2**30, 2**30) and limits["RLIMIT_CORE"] == (0, 0)


def test_candidates_strongest_first(settings: Settings) -> None:
    names = [p.name for p in candidate_plans(plan(), settings, root=False)]
    assert names[-1] == "rlimits+timeout+output-cap+setsid-sweep"
    off = settings.model_copy(update={"sandbox_use_bwrap": False})
    assert all("bwrap" not in p.layers for p in candidate_plans(plan(), off, root=True))


def test_capture_keeps_the_head_and_counts_the_rest() -> None:
    capture = Capture(10)
    for chunk in (b"hello ", b"world and more"):
        capture.add(chunk)
    assert capture.kept == b"hello worl" and capture.dropped == 10 and capture.truncated
    assert capture.text().startswith("hello worl\n[nadg: output truncated, 10 more bytes")


def test_capture_decodes_invalid_utf8() -> None:
    capture = Capture(100)
    capture.add(b"ok \xff")
    assert capture.text() == "ok \ufffd"


def outcome(code: int | None, timed_out: bool = False, stderr: str = "") -> Outcome:
    return Outcome(code, "", stderr, timed_out, False, 1.0)


@pytest.mark.parametrize(
    ("result", "status", "note"),
    [
        (outcome(0), ResultStatus.COMPLETED, ""),
        (outcome(1, stderr="Traceback"), ResultStatus.FAILED, "Traceback"),
        (outcome(None, timed_out=True), ResultStatus.TIMEOUT, "timeout"),
        (outcome(-9), ResultStatus.FAILED, "SIGKILL"),
        (outcome(137), ResultStatus.FAILED, "SIGKILL"),
    ],
)
def test_status_and_explanation(result: Outcome, status: ResultStatus, note: str) -> None:
    assert status_of(result) == status
    assert note in explain(result, 2.0)


def done(task_id: str) -> TaskResult:
    return TaskResult(task_id=task_id, status=ResultStatus.COMPLETED)


def test_idempotency_lru_and_ttl() -> None:
    cache = IdempotencyCache(max_entries=2, ttl=10.0)
    for n, key in enumerate("abc"):
        cache.finish(key, done(key), now=float(n))
    assert cache.lookup("a", 3.0) is None  # evicted: only two kept
    assert isinstance(cache.lookup("b", 3.0), TaskResult)
    assert cache.lookup("b", 20.0) is None  # expired
    cache.finish("d", None, now=21.0)  # did not run: nothing remembered
    assert cache.lookup("d", 21.0) is None


async def test_idempotency_returns_the_running_task() -> None:
    cache = IdempotencyCache(max_entries=2, ttl=10.0)
    task = asyncio.create_task(asyncio.sleep(0, result=done("x")))
    cache.start("x", task)
    assert cache.lookup("x", 0.0) is task
    cache.finish("x", await task, now=1.0)
    assert cache.lookup("x", 2.0) == done("x") and not cache.running


@pytest.mark.parametrize(
    ("host", "loop"), [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False)]
)
def test_loopback(host: str, loop: bool) -> None:
    assert is_loopback(host) is loop


def test_refusal_without_token(settings: Settings) -> None:
    public = settings.model_copy(update={"host": "0.0.0.0"})
    assert refusal(public) and "--insecure" in str(refusal(public))
    assert refusal(public.model_copy(update={"insecure": True})) is None
    assert refusal(settings) is None


def test_public_url_order(settings: Settings) -> None:
    assert public_url(settings) == "http://127.0.0.1:7860"
    space = settings.model_copy(update={"space_host": "me-worker.hf.space"})
    assert public_url(space) == "https://me-worker.hf.space"
    given = space.model_copy(update={"public_url": "https://x.example/"})
    assert public_url(given) == "https://x.example"


def test_capabilities(settings: Settings) -> None:
    tagged = settings.model_copy(update={"tags": ["nlp", "python"]})
    assert capabilities(tagged, gpu=True, has_llm=True) == ["python", "gpu", "llm", "nlp"]
    assert capabilities(settings, gpu=False, has_llm=False) == ["python"]
