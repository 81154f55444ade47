"""Forked workers: the same results in the same order as one process, and never a hang."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpudoctor.fleet import workers
from tests.conftest import DATA

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="workers are forked on Linux only"
)
PARENT = os.getpid()
H200 = DATA / "reports" / "linux-x86_64__nvidia-h200__590.48.01__load.json"


def wait_alone(timeout_s: float = 15.0) -> None:
    """Until this is the process's only thread: ordered_map forks only then.

    An earlier test's threads end soon but not at once: a ProcessPoolExecutor's manager
    (shutdown(wait=False) here), a probe's abandoned worker (test_site's hung statvfs). Run
    after one of them, test_results_come_in_the_order_of_the_items saw no worker at all.
    """
    deadline = time.monotonic() + timeout_s
    while threading.active_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    others = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    assert not others, f"threads still running after {timeout_s:.0f} s: {others}"


@pytest.fixture(autouse=True)
def _alone() -> Iterator[None]:
    """Each test starts as the only thread and leaves none of its own behind for the next."""
    wait_alone()
    yield
    wait_alone()


def square(n: int) -> tuple[int, int]:
    return n, n * n


def dies_on_7(n: int) -> tuple[int, int]:
    if n == 7 and os.getpid() != PARENT:  # only in a worker: here it is worked through
        os._exit(9)
    return square(n)


def square_where(n: int) -> tuple[int, int, int]:
    return n, n * n, os.getpid()


def slow_square_where(n: int) -> tuple[int, int, int]:
    time.sleep(0.002)  # long enough that the second worker is up before the first is done
    return square_where(n)


def test_results_come_in_the_order_of_the_items():
    items = list(range(100))
    got = list(workers.ordered_map(slow_square_where, items, 2))
    assert [(n, sq) for n, sq, _ in got] == [square(n) for n in items]
    assert len({pid for _, _, pid in got} - {PARENT}) == 2  # both workers had a share


def test_with_another_thread_running_nothing_is_forked():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        got = list(workers.ordered_map(square_where, list(range(50)), 2))
    finally:
        stop.set()
        other.join()
    assert {pid for _, _, pid in got} == {PARENT}


def test_no_workers_works_here():
    assert list(workers.ordered_map(square, [3, 1], 0)) == [(3, 9), (1, 1)]


def test_a_worker_that_dies_leaves_the_rest_to_this_process():
    items = list(range(60))
    start = time.monotonic()
    assert list(workers.ordered_map(dies_on_7, items, 2)) == [square(n) for n in items]
    assert time.monotonic() - start < 30


def test_an_error_in_a_worker_is_raised_here():
    with pytest.raises(ZeroDivisionError):
        list(workers.ordered_map(lambda n: 1 // (n - 5), list(range(10)), 2))


def test_few_items_or_one_cpu_get_no_workers(monkeypatch):
    monkeypatch.setattr(workers, "cpus", lambda: 64)
    assert workers.workers_for(workers.MIN_ITEMS - 1) == 0
    assert workers.workers_for(10_000) == workers.MAX_WORKERS
    monkeypatch.setattr(workers, "cpus", lambda: 1)
    assert workers.workers_for(10_000) == 0


def test_workers_leave_when_their_parent_is_killed(tmp_path):
    """A parent killed outright cannot stop its pool: the workers notice and leave."""
    pids = tmp_path / "pids"
    script = textwrap.dedent(
        f"""
        import os, sys, time
        from gpudoctor.fleet import workers

        def slow(n):
            with open({str(pids)!r}, "a") as fh:
                fh.write(f"{{os.getpid()}}\\n")
            time.sleep(60)

        for _ in workers.ordered_map(slow, list(range(40)), 2):
            pass
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], env=dict(os.environ, PYTHONPATH=os.getcwd())
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(_lines(pids)) < 2:
            time.sleep(0.05)
        forked = {int(p) for p in _lines(pids)}
        assert len(forked) == 2
    finally:
        parent.kill()
        parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in forked):
        time.sleep(0.05)
    assert not any(_alive(p) for p in forked)


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status  # a zombie has left; its reaper may be slow


def test_fleet_report_with_workers_is_the_same_as_without(cli, tmp_path, monkeypatch):
    """Everything that depends on the order of the files (a second report for a node, a
    manifest's partitions, unreadable lines) comes out as when they are read one by one."""
    folder = tmp_path / "fleet"
    folder.mkdir()
    reports = sorted((DATA / "reports").glob("*.json"))
    for i, src in enumerate(reports * 3):
        shutil.copy(src, folder / f"n{i:03d}.json")
    (folder / "n001.verify.json").write_text('{"runs": "x", "verdict": "pass"}')
    shutil.copy(DATA / "fleet" / "h200-verify-fp32.json", folder / "n002.verify.json")
    (folder / "garbage.json").write_text("{not json")
    (folder / "other.json").write_text('{"tool": "something else"}')
    (folder / "bad[1].json").write_text("{}")
    (folder / "check").mkdir()
    shutil.copy(reports[0], folder / "check" / "n005.json")  # a second report for n005
    args = ("fleet", "report", str(folder), "--format", "json")

    monkeypatch.setattr(workers, "workers_for", lambda n: 0)
    alone = json.loads(cli(*args).stdout)
    monkeypatch.setattr(workers, "workers_for", lambda n: 2)
    forked = json.loads(cli(*args).stdout)
    for doc in (alone, forked):
        doc.pop("created_at")
    assert len(alone["nodes"]) == len(reports) * 3
    assert any("second report" in u["error"] for u in alone["unreadable"])
    assert forked == alone


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_fleet_report_and_its_workers(tmp_path, signum):
    """Ctrl-C reaches the whole process group (SIGTERM only the parent): one line, 128+N, no
    traceback from a worker, and no worker left behind."""
    folder = tmp_path / "fleet"
    folder.mkdir()
    for i in range(2 * workers.MIN_ITEMS):
        shutil.copy(H200, folder / f"n{i:04d}.json")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gpudoctor", "fleet", "report", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=dict(os.environ, PYTHONPATH=os.getcwd()),
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(_children(proc.pid)) < 2:
            time.sleep(0.02)
        assert len(_children(proc.pid)) == 2, "no workers started"
        if signum == signal.SIGINT:
            os.killpg(proc.pid, signum)
        else:
            os.kill(proc.pid, signum)
        _, stderr = proc.communicate(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _group_alive(proc.pid):
        time.sleep(0.05)
    assert not _group_alive(proc.pid)


def _children(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


def _group_alive(pgid: int) -> bool:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def test_what_existed_before_is_set_aside_from_the_collector_for_the_batch():
    import gc

    before = gc.get_freeze_count()
    seen = [gc.get_freeze_count() for _ in workers.ordered_map(square, [1, 2], 0)]
    assert all(n > 0 for n in seen)
    assert gc.get_freeze_count() == before == 0
