"""How a reload compares code objects (_core.compare_code): bytecode that
ran, and was specialised in place, against a fresh compile of the same
source. Oracle: CPython's own comparison form, ``co_code``."""

import sys
import textwrap

import pytest

from reloader import _core

SOURCE = textwrap.dedent('''
    import math

    class Point:
        def __init__(self, x, y):
            self.x = x
            self.y = y

        def norm(self):
            return math.sqrt(self.x * self.x + self.y * self.y)

    LIMIT = 10

    def arith(a, b):
        t = 0
        for i in range(40):
            t += a * i - b // 3 + (i << 1)
        return t

    def compare(a, b):
        n = 0
        for i in range(40):
            if i < a:
                n += 1
            elif i > b:
                n -= 1
        return n

    def attrs(p):
        s = 0.0
        for _ in range(40):
            s += p.x + p.y + p.norm()
        return s

    def globals_and_calls(n):
        out = []
        for i in range(n):
            out.append(len(str(i)) + LIMIT + abs(-i))
        return sum(out)

    def containers(n):
        d = {}
        for i in range(n):
            d[i] = [i, (i, i), {i}]
            d[i][0] += 1
        return len(d), d[0][0]

    def strings(n):
        s = ""
        for i in range(n):
            s += f"{i}:{i!r}"
        return s.upper()

    def exceptions(n):
        c = 0
        for i in range(n):
            try:
                if i % 3 == 0:
                    raise ValueError(i)
                c += 1
            except ValueError:
                c -= 1
            finally:
                c += 2
        return c

    def comprehension(n):
        return sum([x * x for x in range(n) if x % 2]) + len({x for x in range(n)})

    def closure(n):
        k = 3
        def inner(v):
            return v * k
        return sum(inner(i) for i in range(n))

    def unpack(n):
        total = 0
        for a, (b, c) in [(i, (i, i)) for i in range(n)]:
            total += a + b + c
        return total
''')

NAMES = ["arith", "compare", "attrs", "globals_and_calls", "containers", "strings",
         "exceptions", "comprehension", "closure", "unpack"]


def fresh(source=SOURCE, filename="<cmp>"):
    ns = {"__name__": "cmp"}
    exec(compile(source, filename, "exec"), ns)
    return ns


def run_all(ns, rounds=60):
    p = ns["Point"](3, 4)
    for _ in range(rounds):
        ns["arith"](5, 7)
        ns["compare"](10, 30)
        ns["attrs"](p)
        ns["globals_and_calls"](20)
        ns["containers"](10)
        ns["strings"](5)
        ns["exceptions"](9)
        ns["comprehension"](20)
        ns["closure"](10)
        ns["unpack"](10)


def adaptive(code):
    return getattr(code, "_co_code_adaptive", code.co_code)


@pytest.fixture(scope="module")
def ran():
    ns = fresh()
    run_all(ns)
    return ns


def test_quickened_code_equals_a_fresh_compile(ran):
    new = fresh()
    specialised = 0
    for name in NAMES + ["Point"]:
        if name == "Point":
            pairs = [(ran["Point"].norm.__code__, new["Point"].norm.__code__)]
        else:
            pairs = [(ran[name].__code__, new[name].__code__)]
        for a, b in pairs:
            assert a.co_code == b.co_code  # the oracle agrees
            assert _core.compare_code(a, b) == (False, False), name
            assert _core.compare_code(b, a) == (False, False), name
            specialised += adaptive(a) != adaptive(b)
    if sys.version_info >= (3, 11):
        # the case under test: raw bytes differ, behaviour does not
        assert specialised >= 5


@pytest.mark.parametrize("old,new", [
    ("t += a * i - b // 3", "t += a * i + b // 3"),        # BINARY_OP oparg
    ("if i < a:", "if i <= a:"),                          # COMPARE_OP oparg
    ("s += p.x + p.y + p.norm()", "s += p.y + p.x + p.norm()"),  # attribute names
    ("out.append(len(str(i)) + LIMIT", "out.append(len(repr(i)) + LIMIT"),  # globals
    ("d[i][0] += 1", "d[i][0] += 2"),                     # a constant
    ("total += a + b + c", "total += a + c + b"),         # LOAD_FAST oparg
    ("raise ValueError(i)", "raise TypeError(i)"),
    ("except ValueError:", "except (ValueError, KeyError):"),
    ("return v * k", "return v * k * k"),                 # nested code
])
def test_an_edit_differs_from_quickened_code(ran, old, new):
    assert old in SOURCE
    edited = fresh(SOURCE.replace(old, new))
    same = fresh()
    for name in NAMES:
        a, b, c = ran[name].__code__, edited[name].__code__, same[name].__code__
        expect = a.co_code != b.co_code or a.co_consts != b.co_consts or \
            a.co_names != b.co_names or a.co_varnames != b.co_varnames or \
            a.co_exceptiontable != b.co_exceptiontable if sys.version_info >= (3, 11) \
            else a.co_code != b.co_code or a.co_consts != b.co_consts or \
            a.co_names != b.co_names
        differs, _moved = _core.compare_code(a, b)
        assert differs == expect, name
        assert _core.compare_code(a, c) == (False, False), name


def test_positions_only(ran):
    moved = fresh("\n\n" + SOURCE)
    for name in NAMES:
        assert _core.compare_code(ran[name].__code__, moved[name].__code__) == (False, True)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is 3.12+")
def test_instrumented_code_takes_cpythons_path():
    mon = sys.monitoring
    tool = next(t for t in range(6) if mon.get_tool(t) is None)
    ns = fresh()
    code = ns["arith"].__code__
    mon.use_tool_id(tool, "reloader-test")
    try:
        mon.register_callback(tool, mon.events.LINE, lambda *a: None)
        mon.set_local_events(tool, code, mon.events.LINE)
        ns["arith"](1, 2)
        assert adaptive(code) != adaptive(fresh()["arith"].__code__)
        assert _core.compare_code(code, fresh()["arith"].__code__) == (False, False)
        edited = fresh(SOURCE.replace("t += a * i - b", "t += a * i * b"))
        assert _core.compare_code(code, edited["arith"].__code__)[0] is True
    finally:
        mon.set_local_events(tool, code, 0)
        mon.register_callback(tool, mon.events.LINE, None)
        mon.free_tool_id(tool)


def test_bad_arguments():
    with pytest.raises(TypeError):
        _core.compare_code(1, fresh()["arith"].__code__)
    with pytest.raises(TypeError):
        _core.compare_code(fresh()["arith"].__code__)


def test_reload_of_code_that_ran(mods):
    """The whole path: functions that ran (specialised) and did not change
    are not reported; the edited one is, and runs."""
    body = SOURCE + "\n\ndef tag():\n    return 1\n"
    m = mods.module("m", body)
    run_all(vars(m))
    held = m.arith
    report = mods.update("m", body.replace("return 1", "return 2"))
    assert report.updated == (mods.n("m.tag"),)
    assert m.tag() == 2 and m.arith is held
    assert m.arith(5, 7) == fresh()["arith"](5, 7)
    report = mods.update("m", body.replace("t += a * i - b", "t += a * i + b").replace(
        "return 1", "return 2"))
    assert report.updated == (mods.n("m.arith"),)
    assert m.arith is held and m.arith(5, 7) == fresh(SOURCE.replace(
        "t += a * i - b", "t += a * i + b"))["arith"](5, 7)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="3.10 does not specialise")
def test_code_that_ran_is_compared_without_copies(ran):
    """The specialised bytes are read in place: no de-specialised copy of
    either side (CPython's path allocates one per code object)."""
    import tracemalloc
    pairs = [(ran[name].__code__, fresh()[name].__code__) for name in NAMES]
    assert any(adaptive(a) != adaptive(b) for a, b in pairs)
    _core.compare_code(*pairs[0])  # the tables are built once, before
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for a, b in pairs:
            assert _core.compare_code(a, b) == (False, False)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 200  # the result tuples come and go
