"""Pool workers that die with the sweep: a sweep killed with ``kill -9`` leaves nothing computing.

:func:`process_pool` is the local pool the command line uses; :func:`exit_with_parent` also runs
first in every task a pool worker takes (``run.py``'s ``_execute``), so a pool built by hand is
covered from its first task.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import threading
import time

from .._checks import check_int

PARENT_POLL_SECONDS = 0.5    # how often a pool worker checks that the sweep process that started it lives

_watching_parent = False    # set in a worker process once its exit_with_parent thread runs


def exit_with_parent(parent_pid: int) -> None:
    """In a child process of ``parent_pid``: exit as soon as that parent is gone (a daemon thread).

    A process-pool worker is not told when the sweep process is killed with SIGKILL: it finishes
    its task (minutes at 100 % CPU) and then waits for the next one forever. So a daemon thread
    polls ``os.getppid()`` every ``PARENT_POLL_SECONDS``; when the worker has been re-parented (its
    parent died) it ends the process with ``os._exit``: no result is lost that the parent could
    still have saved. Portable: a no-op in ``parent_pid`` itself (``executor=None``, threads), in a
    process that is not its child (a Dask worker), and where ``getppid`` keeps reporting a dead
    parent (Windows). Idempotent: one thread per process.
    """
    global _watching_parent
    if _watching_parent or os.getpid() == parent_pid or os.getppid() != parent_pid:
        return
    _watching_parent = True

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="nblib-exit-with-parent", daemon=True).start()


def process_pool(workers: int) -> cf.ProcessPoolExecutor:
    """A local pool of ``workers`` processes for :func:`run_grid` (``spawn``: safe with torch threads
    and CUDA), whose workers exit with the process that made the pool (:func:`exit_with_parent`)."""
    workers = check_int("workers", workers, 1)
    return cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                  initializer=exit_with_parent, initargs=(os.getpid(),))
