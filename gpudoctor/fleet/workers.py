"""Working through many files in forked worker processes: results in order, never a hang.

``fleet report`` over thousands of node reports spends its time in pure Python (parsing each
report, today's rules), one core's worth; the workers give it the others. They are forks of
this process running gpudoctor's own functions (no program is started, so nothing here goes
through probe/runcmd.py): a function reaches them by inheritance, never pickled, and each
item's result comes back pickled, small (a node's facts), in the order of the items.

Nothing may hang: a worker that dies (the kernel's OOM killer, a signal) breaks the pool, and
the items not yet answered are worked through here instead; a worker whose parent is gone
(killed, or ended by a signal before it could shut the pool) leaves within a quarter second;
Ctrl-C, SIGTERM and SIGHUP reach the parent, which stops the pool, and are ignored by the
workers, which would otherwise each print a traceback.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

MIN_ITEMS = 200
"""Fewer items than this are worked through in this process: starting workers costs more."""
MAX_WORKERS = 4
"""The most workers: each holds its own copy of what it changes, so memory grows with them."""
CHUNK = 16
"""Items handed to a worker at a time: fewer round trips, still an even share at the end."""

_STOP = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
"""The signals that stop gpudoctor (cli/__init__.py handles them as one)."""

_WORK: list[Callable[[Any], Any]] = []
"""The function the workers run, set in this process before they fork from it."""


def cpus() -> int:
    """The CPUs this process may run on (a SLURM job's or container's share, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def workers_for(items: int) -> int:
    """How many workers ``items`` items get: none (0) for few items, one CPU or no fork."""
    if items < MIN_ITEMS or not sys.platform.startswith("linux"):
        # Forking is safe on Linux; macOS's system libraries are not fork-safe, Windows has none.
        return 0
    n = min(cpus(), MAX_WORKERS)
    return n if n >= 2 else 0


FREEZE_EVERY = 256
"""Results after which what has piled up since is set aside from the garbage collector."""


def ordered_map(
    work: Callable[[Item], Result], items: Sequence[Item], workers: int
) -> Iterator[Result]:
    """``work(item)`` for each item, in order: by ``workers`` forked workers (0: here)."""
    # A fork copies only the thread that forks: one another thread holds a lock in (logging,
    # a stream) stays held in the child for ever. With other threads running, no workers.
    fork = workers >= 1 and threading.active_count() == 1
    # What exists before the batch (modules, the knowledge base: a few hundred thousand
    # objects) is no garbage: set aside, the collector's full passes, every few dozen files,
    # no longer walk it (a fifth of the time over 10,000 reports), nor does a fork copy every
    # page it is on by walking it.
    gc.freeze()
    try:
        results = _forked(work, items, workers) if fork else map(work, items)
        for i, result in enumerate(results, 1):
            yield result
            if i % FREEZE_EVERY == 0:
                # What the caller keeps of each result (a node's facts) piles up: set aside
                # too, or every full pass walks all of it again (a sixth of 10,000 reports).
                gc.freeze()
    finally:
        gc.unfreeze()


def _forked(
    work: Callable[[Item], Result], items: Sequence[Item], workers: int
) -> Iterator[Result]:
    import multiprocessing

    _WORK[:] = [work]  # the forks inherit it
    done = 0
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_start_worker,
        initargs=(os.getpid(),),
    )
    try:
        # A signal that lands while the workers fork would run its handler inside fork's own
        # hooks, where the exception it raises is printed and dropped: held until they are
        # started, it is acted on here. (map starts every worker, a fork each, at once.)
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP)
        try:
            results = pool.map(_call, items, chunksize=CHUNK)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        for result in results:
            yield result
            done += 1
    except BrokenProcessPool:
        # A worker died: what it had is lost, and what the others had is not to be trusted
        # to arrive. The items not yet answered are worked through here, in order, each
        # answered once.
        pool.shutdown(wait=False, cancel_futures=True)
        yield from map(work, items[done:])
    finally:
        # Also when the consumer stops early or a signal unwinds it: queued items are dropped,
        # and the workers leave once their current items are done.
        pool.shutdown(wait=False, cancel_futures=True)
        _WORK.clear()


def _call(item: Any) -> Any:
    return _WORK[0](item)


def _start_worker(parent: int) -> None:
    """In each worker: the signals are the parent's to act on, and it leaves with its parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The parent's handlers were inherited; a worker told to stop just stops.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP)  # held while it was forked
    threading.Thread(target=_leave_with, args=(parent,), daemon=True).start()


def _leave_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.25)
    os._exit(1)  # orphaned: nobody will read what this worker would write
