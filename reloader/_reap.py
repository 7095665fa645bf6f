"""Free a batch's leftover code off the caller's thread, a slice at a time.

A reload compiles the whole module again, yet only the definitions that
changed take their new code; the rest of the new code tree is garbage when
the batch returns. For a module of 2,000 definitions, freeing it in one go
takes 0.55-0.8 times as long as running the module's code (bench/RESULTS.md),
on the thread that reloaded. Here the caller frees what fits in ``INLINE``
(all of a small module's tree) and a short-lived thread frees the rest, a
slice at a time (``_core.reap``), letting the GIL go between slices: a busy
caller's thread waits for one slice at a time.

Nothing a program can reach waits here: the code objects that went into
live functions are held by those functions and are not freed. A batch that
comes while the previous batch's trees are not all freed finishes them
first, on its own thread, so at most one batch's trees wait. The thread
ends when it has freed everything: a program that forks later does not
fork a reloader thread.
"""

import _thread
import atexit
import os
import sys
import threading
import time
from typing import Any, Callable, List, Optional

# Budgets in objects touched (_core.reap): about 30-60 ns each from cold memory.
INLINE = 1024  # what the caller frees: less than starting a thread costs
PER_CODE = 8  # a code object's own cost, on average (1 + constants + names)
SLICE = 4096  # per GIL hold of the thread
PAUSE = 0.0005  # seconds between slices, so that a waiting thread gets the GIL


class Reaper:
    def __init__(self, reap: Callable[..., int],
                 start: Callable[..., Any] = _thread.start_new_thread) -> None:
        self._reap = reap
        self._start = start
        self._stack: List[Any] = []
        # reentrant: freeing code can run a weakref callback that reloads
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._running = False
        self._stopped = False
        self.busy_s = 0.0  # the thread's CPU time, for the benchmarks

    def retire(self, trees: List[Any], codes: Optional[int] = None) -> None:
        """Take the items of trees (code objects) and empty it. The caller
        holds no other reference to them, or they cannot be split. codes:
        how many code objects the trees hold, if known: a tree that cannot
        be freed here whole goes to the thread whole (freeing its first
        INLINE here as well would only add to the caller's wait)."""
        with self._lock:
            self._reap(self._stack, sys.maxsize)  # the last batch's backlog
            self._stack.extend(trees)
            del trees[:]
            if codes is None or codes * PER_CODE <= INLINE:
                self._reap(self._stack, INLINE, True)
            if not self._stack:
                self._idle.notify_all()
                return
            if self._running:
                return
            if not self._stopped:
                try:
                    self._start(self._run, ())
                    self._running = True
                    return
                except RuntimeError:  # no thread now (interpreter shutdown)
                    pass
            self._reap(self._stack, sys.maxsize)
            self._idle.notify_all()

    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        """Wait until everything retired is freed; False on timeout."""
        with self._lock:
            return self._idle.wait_for(lambda: not self._stack, timeout)

    def stop(self) -> None:
        """Free what waits, here, and end the thread (at exit)."""
        with self._lock:
            self._stopped = True
            self._reap(self._stack, sys.maxsize)
            self._idle.notify_all()

    def after_fork_in_child(self) -> None:
        # The thread did not come along, and the lock may have been held.
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._running = False

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    if self._stopped or not self._stack:
                        return
                    t0 = time.thread_time()
                    self._reap(self._stack, SLICE)
                    self.busy_s += time.thread_time() - t0
                time.sleep(PAUSE)
        finally:
            with self._lock:
                self._running = False
                self._idle.notify_all()


def install(reap: Callable[..., int]) -> Reaper:
    """The process's reaper: freed at exit, reset in a forked child."""
    reaper = Reaper(reap)
    atexit.register(reaper.stop)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=reaper.after_fork_in_child)
    return reaper
