"""After a batch, the part of the new code tree that no live function took
is freed off the caller's thread (reloader/_reap.py): a small tree at once,
a large one by a short-lived thread, a slice at a time. What the program
holds never waits there, and everything retired is freed in the end."""

import _thread
import gc
import os
import subprocess
import sys
import threading
import time
import types
import weakref

import pytest

from reloader import _api, _core, _reap, _stamps


def big_source(n: int, v: int) -> str:
    return "".join("def f%d(a):\n    return a + %d\n\n" % (i, v if i == 0 else i)
                   for i in range(n))


def code_refs(code):
    out = [weakref.ref(code)]
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            out += code_refs(c)
    return out


def big_tree(n=800):  # its module code alone costs more than INLINE
    return compile(big_source(n, 0), "/reap/big.py", "exec", dont_inherit=True)


class Starts:
    """A start function that runs nothing until told to."""

    def __init__(self):
        self.calls = []

    def __call__(self, fn, args):
        self.calls.append(fn)

    def run(self):
        self.calls.pop(0)()


def retire_big(start):
    """A reaper with this start function, given one large tree: (reaper,
    the list it was given, weak references to the tree's code)."""
    r = _reap.Reaper(_core.reap, start)
    trees = [big_tree()]
    refs = code_refs(trees[0])
    r.retire(trees)
    return r, trees, refs


def test_a_large_tree_goes_to_a_thread_and_is_freed_there():
    starts = Starts()
    r, trees, refs = retire_big(starts)
    assert trees == []  # taken over
    assert len(starts.calls) == 1 and r._stack and refs[0]() is not None
    starts.run()  # the thread's whole life
    gc.collect()
    assert r._stack == [] and all(ref() is None for ref in refs)
    assert r.wait_idle(0) and not r._running


def test_a_small_tree_is_freed_by_the_caller_without_a_thread():
    starts = Starts()
    r = _reap.Reaper(_core.reap, starts)
    trees = [compile(big_source(20, 0), "/reap/small.py", "exec")]
    refs = code_refs(trees[0])
    r.retire(trees)
    gc.collect()
    assert starts.calls == [] and r._stack == []
    assert all(ref() is None for ref in refs)


def fresh_tree(n):
    """A reaper that starts no thread until told to, and a tree of n
    functions: (starts, reaper, [tree], weak references to its code)."""
    starts = Starts()
    trees = [compile(big_source(n, 0), "/reap/t%d.py" % n, "exec")]
    return starts, _reap.Reaper(_core.reap, starts), trees, code_refs(trees[0])


def test_a_tree_known_to_be_large_goes_to_the_thread_whole():
    # 300 functions: the module code alone fits INLINE, so without the count
    # the caller would free a part of the tree before starting the thread
    starts, r, trees, refs = fresh_tree(300)
    r.retire(trees, len(refs))
    gc.collect()
    assert len(starts.calls) == 1 and all(ref() is not None for ref in refs)
    starts.run()
    gc.collect()
    assert all(ref() is None for ref in refs)


def test_without_the_count_the_caller_frees_what_fits():
    starts, r, trees, refs = fresh_tree(300)
    r.retire(trees)
    gc.collect()
    assert len(starts.calls) == 1 and refs[0]() is None  # split here
    assert any(ref() is not None for ref in refs)


def test_a_tree_known_to_be_small_is_freed_by_the_caller():
    starts, r, trees, refs = fresh_tree(20)
    r.retire(trees, len(refs))
    gc.collect()
    assert starts.calls == [] and all(ref() is None for ref in refs)


def test_a_second_batch_frees_the_first_ones_backlog_itself():
    starts = Starts()
    r = _reap.Reaper(_core.reap, starts)
    first, second = [big_tree()], [big_tree()]
    refs1, refs2 = code_refs(first[0]), code_refs(second[0])
    r.retire(first)
    r.retire(second)  # the thread has not run yet
    gc.collect()
    assert all(ref() is None for ref in refs1)  # at most one batch waits
    assert refs2[0]() is not None and len(starts.calls) == 1  # one thread
    starts.run()
    gc.collect()
    assert all(ref() is None for ref in refs2)


def test_no_thread_frees_here_as_before():
    def refuse(fn, args):
        raise RuntimeError("can't create new thread at interpreter shutdown")
    r, _, refs = retire_big(refuse)
    gc.collect()
    assert r._stack == [] and not r._running and all(ref() is None for ref in refs)


def test_stop_frees_what_waits_and_later_batches_free_at_once():
    starts = Starts()
    r, _, refs = retire_big(starts)
    r.stop()
    gc.collect()
    assert r._stack == [] and all(ref() is None for ref in refs)
    starts.run()  # a thread that starts after stop() does nothing
    trees = [big_tree()]
    refs = code_refs(trees[0])
    r.retire(trees)
    gc.collect()
    assert starts.calls == [] and all(ref() is None for ref in refs)


def test_a_forked_child_starts_its_own_thread():
    starts = Starts()
    r, _, _ = retire_big(starts)
    assert r._running
    r.after_fork_in_child()  # the thread did not come along
    assert not r._running
    r.retire([big_tree()])
    assert len(starts.calls) == 2


def wait_threads(count, timeout=5.0):
    deadline = time.monotonic() + timeout
    while _thread._count() > count and time.monotonic() < deadline:
        time.sleep(0.001)
    return _thread._count()


def test_reload_frees_the_unused_new_code_and_the_thread_ends(mods):
    m = mods.module("big", big_source(400, 0))
    f0, f1 = m.f0, m.f1
    threads = _thread._count()
    # offer the new code as the watcher does, keeping only weak references
    data = mods.sub(big_source(400, 1)).encode()
    with open(mods.file_of("big"), "wb") as fh:
        fh.write(data)
    code = compile(data, mods.file_of("big"), "exec", dont_inherit=True)
    refs = {ref().co_name: ref for ref in code_refs(code)}
    _api.precompiled(mods.file_of("big"), _stamps.digest(data), code, data)
    del code
    report = mods.reload("big")
    assert list(report.updated) == [mods.n("big.f0")]
    assert m.f0 is f0 and f0(1) == 2 and f1(1) == 2
    assert _api._reaper.wait_idle(10)
    assert wait_threads(threads) == threads
    gc.collect()
    # the changed function's new code lives on in f0; the rest is gone
    assert refs["f0"]() is f0.__code__
    assert all(ref() is None for name, ref in refs.items() if name != "f0")


def test_a_small_module_reloads_without_a_thread(mods, monkeypatch):
    calls = []
    monkeypatch.setattr(_api._reaper, "_start",
                        lambda fn, args: calls.append(fn))
    m = mods.module("small", "def f():\n    return 1\n")
    f = m.f
    mods.update("small", "def f():\n    return 2\n")
    assert m.f is f and f() == 2 and calls == []


def test_code_the_program_holds_is_never_freed(mods):
    n = 400
    m = mods.module("held", big_source(n, 0))
    kept = [getattr(m, "f%d" % i) for i in range(n)]
    codes = [f.__code__ for f in kept]
    mods.update("held", big_source(n, 1))
    assert _api._reaper.wait_idle(10)
    gc.collect()
    # every function runs (under the sanitizers, freed code would show);
    # the unchanged ones kept their code, only f0 took new code
    assert [f(0) for f in kept] == [1] + list(range(1, n))
    assert [f.__code__ is c for f, c in zip(kept, codes)] == [False] + [True] * (n - 1)


def test_freeing_code_may_retire_more_code():
    # a weakref callback runs while a code object is freed; one that ends in
    # another batch retires code from inside the reaper's own slice
    starts = Starts()
    r = _reap.Reaper(_core.reap, starts)
    trees = [big_tree()]
    nested = [c for c in trees[0].co_consts if isinstance(c, types.CodeType)]
    inner_refs = []

    def callback(_ref):
        more = [big_tree()]
        inner_refs.extend(code_refs(more[0]))
        r.retire(more)

    watch = weakref.ref(nested[-1], callback)
    del nested
    r.retire(trees)
    worker = threading.Thread(target=starts.run, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "the reaper deadlocked on its own lock"
    gc.collect()
    assert watch() is None and inner_refs
    assert r._stack == [] and all(ref() is None for ref in inner_refs)


# A process that reloads a large module and then forks, or exits, while the
# reaper thread still has work: run in its own interpreter.
LIFECYCLE = r"""
import os, sys, tempfile, importlib
sys.path.insert(0, sys.argv[1])
sys.dont_write_bytecode = True
import reloader
from reloader import _api
root = tempfile.mkdtemp()
sys.path.insert(0, root)
def source(v):
    return "".join("def f%d(a):\n    return a + %d\n\n" % (i, v) for i in range(3000))
path = os.path.join(root, "rl_life.py")
open(path, "w").write(source(0))
import rl_life
f = rl_life.f5
open(path, "w").write(source(1))
reloader.reload("rl_life")
assert f(1) == 2
if sys.argv[2] == "fork":
    pid = os.fork()
    if pid == 0:
        # the thread did not come along: the child reloads on its own
        open(path, "w").write(source(2))
        reloader.reload("rl_life")
        ok = f(1) == 3 and _api._reaper.wait_idle(10)
        os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, status
    assert _api._reaper.wait_idle(10)
print("done", flush=True)
"""


def run_lifecycle(what):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return subprocess.run([sys.executable, "-X", "faulthandler", "-W", "ignore::DeprecationWarning",
                           "-c", LIFECYCLE, root, what],
                          capture_output=True, text=True, timeout=120)


def test_exit_while_the_reaper_has_work_is_clean():
    proc = run_lifecycle("exit")
    assert proc.returncode == 0 and proc.stdout.strip() == "done", proc.stderr[-3000:]
    assert proc.stderr == ""


# gcc 12's ASan allocator takes no lock around fork(): a child forked while
# another thread is inside malloc (a thread starting or ending) waits for
# that lock forever. glibc's malloc does not have this problem.
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
@pytest.mark.skipif(UNDER_ASAN, reason="the ASan runtime's allocator is not fork-safe")
def test_a_child_forked_while_the_reaper_works_reloads_on_its_own():
    proc = run_lifecycle("fork")
    assert proc.returncode == 0 and proc.stdout.strip() == "done", proc.stderr[-3000:]
