"""_core.reap: free a code tree a slice at a time. Code that only the stack
holds is split (its nested code goes onto the stack first, so dropping it
frees one code object); code held elsewhere is dropped whole; the budget
counts the objects a free touches, and strict never passes it. It cannot
fail: a failed allocation only frees a tree in one piece."""

import gc
import os
import subprocess
import sys
import textwrap
import types
import weakref

import pytest

from reloader import _core

SOURCE = textwrap.dedent("""
    def f(a):
        return lambda: a
    class K:
        def m(self):
            return 1
        def n(self):
            return 2
""")


def tree():
    return compile(SOURCE, "/reap/mod.py", "exec", dont_inherit=True)


def nested(code):
    return [c for c in code.co_consts if isinstance(c, types.CodeType)]


def all_refs(code):
    out = [weakref.ref(code)]
    for c in nested(code):
        out += all_refs(c)
    return out


def cost(code):
    return 1 + len(code.co_consts) + len(code.co_names)


def test_a_tree_only_the_stack_holds_goes_one_code_object_at_a_time():
    stack = [tree()]
    refs = all_refs(stack[0])
    assert len(refs) == 6  # module, f, its lambda, K's body, m, n
    root = refs[0]
    inner = [r() for r in refs[1:3]]  # f and the lambda, held for now
    budget = cost(stack[0])  # (outside the assert, which keeps its values)
    assert _core.reap(stack, budget, True) == 1
    # the module's code is gone; f and K's body wait on the stack
    assert root() is None and len(stack) == 2
    assert {c.co_name for c in stack} == {"f", "K"}
    del inner
    taken = 1
    while stack:
        taken += _core.reap(stack, 1)  # at least one each time
    gc.collect()
    assert taken == 6 and all(r() is None for r in refs)


def test_code_held_elsewhere_is_dropped_whole():
    code = tree()
    stack = [code]
    assert _core.reap(stack, 1000) == 1
    assert stack == [] and nested(code)  # nothing of it was taken apart
    refs = all_refs(code)
    del code
    gc.collect()
    assert all(r() is None for r in refs)


def test_strict_stops_before_what_would_pass_the_budget():
    stack = [tree()]
    root = weakref.ref(stack[0])
    budget = cost(stack[0]) - 1
    assert _core.reap(stack, budget, True) == 0
    assert len(stack) == 1 and root() is not None
    assert _core.reap(stack, 0) == 1  # not strict: one goes whatever it costs
    assert root() is None and len(stack) == 2


def test_other_objects_are_dropped_at_cost_one():
    class Held:
        pass
    items = [Held() for _ in range(5)]
    refs = [weakref.ref(i) for i in items]
    stack = list(items)
    del items
    assert _core.reap(stack, 3, True) == 3
    assert len(stack) == 2 and [r() is None for r in refs] == [False] * 2 + [True] * 3
    assert _core.reap(stack, 0, True) == 0 and len(stack) == 2


@pytest.mark.parametrize("args, exc", [
    (((), 10), TypeError),
    (([], "10"), TypeError),
    (([], -1), ValueError),
])
def test_bad_input_is_refused(args, exc):
    with pytest.raises(exc):
        _core.reap(*args)


def test_a_refused_call_leaves_the_stack_as_it_was():
    stack = [tree()]
    root = stack[0]
    with pytest.raises(ValueError):
        _core.reap(stack, -5)
    assert stack == [root]


SWEEP = r"""
import gc, sys, types, weakref, _testcapi
sys.path[:0] = [sys.argv[1]]
from reloader import _core
src = "".join("def f%d(a):\n    return lambda: a\n" % i for i in range(40))
def refs(code, out):
    out.append(weakref.ref(code))
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            refs(c, out)
    return out
outcomes = set()
for k in range(1, 120):
    stack = [compile(src, "m.py", "exec")]
    rs = refs(stack[0], [])
    _testcapi.set_nomemory(k, 0)
    try:
        taken = _core.reap(stack, 50)  # the module's code, then it stops
    finally:
        _testcapi.remove_mem_hooks()
    # all 40 functions on the stack, or fewer: the rest went with the module
    assert taken == 1, (k, taken)
    outcomes.add("split" if len(stack) == 40 else "partly split")
    while stack:
        _core.reap(stack, 1 << 30)
    gc.collect()
    assert all(r() is None for r in rs), k
print(sorted(outcomes))
"""


def test_failed_allocations_free_everything_and_crash_nothing():
    testcapi = pytest.importorskip("_testcapi")
    if not hasattr(testcapi, "set_nomemory"):
        pytest.skip("this CPython has no allocation-failure hook")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run([sys.executable, "-X", "faulthandler", "-c", SWEEP, root],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    # the sweep reaches the failure path and gets past it
    assert "'partly split'" in proc.stdout and "'split'" in proc.stdout, proc.stdout
