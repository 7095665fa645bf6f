"""SPEC §2.6 and §2.8: all or nothing, and atomic for other threads."""

import importlib
import sys
import threading
import time

import pytest

import reloader

# Two shapes of one module, alternated; ``n`` is the version number, strictly
# increasing from one reload to the next, and GEN (opted in) carries it too.
# Both shapes define the same names, so an old frame never meets a missing one.
SHAPE_A = """
import time as _time

__reload_data__ = {"GEN"}
GEN = %(n)d

def _make(v):
    def g():
        return v
    return g

def f():
    return %(n)d

_time.sleep(0)  # let the other threads run while the new module code executes

def g():
    return %(n)d

class K:
    @property
    def _b(self):
        return %(n)d

    def a(self):
        return %(n)d

    def b(self):
        return %(n)d
"""

SHAPE_B = """
import time as _time

__reload_data__ = {"GEN"}
GEN = %(n)d

def _make(v):
    def g():
        return v
    return g

def f(_v=%(n)d):
    return _v

_time.sleep(0)

g = _make(%(n)d)

class K:
    @property
    def _b(self):
        return %(n)d

    def a(self):
        return [%(n)d][0]

    def b(self):
        return self._b
"""

RELOADS = 500
THREADS = 4
DEADLINE = 120.0


@pytest.fixture
def fast_switching():
    old = sys.getswitchinterval()
    sys.setswitchinterval(0.0002)
    yield
    sys.setswitchinterval(old)


def test_threads_never_see_a_mix_of_versions(mods, fast_switching):
    m = mods.module("m", SHAPE_A % {"n": 0})
    inst = m.K()
    stop = threading.Event()
    mixed, errors, clean = [], [], [0] * THREADS

    def worker(idx):
        try:
            while not stop.is_set():
                g0 = m.GEN
                seen = (m.f(), m.g(), inst.a(), inst.b())
                g1 = m.GEN
                if g0 == g1:
                    # no commit in between: everything from one version
                    if seen != (g0,) * 4:
                        mixed.append((g0, seen))
                    clean[idx] += 1
                else:
                    # commits in between: versions only move forward
                    chain = (g0,) + seen + (g1,)
                    if list(chain) != sorted(chain):
                        mixed.append((g0, seen, g1))
                if len(mixed) > 20:
                    return
        except BaseException as exc:  # noqa: B902 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(i,), daemon=True)
               for i in range(THREADS)]
    for t in threads:
        t.start()
    started = time.monotonic()
    done = 0
    try:
        for n in range(1, RELOADS + 1):
            shape = SHAPE_B if n % 2 else SHAPE_A
            mods.write({"m.py": shape % {"n": n}})
            mods.reload("m")
            done = n
            if time.monotonic() - started > DEADLINE or mixed or errors:
                break
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert mixed == [], mixed[:5]
    assert done == RELOADS, "only %d reloads in %.0f s" % (done, DEADLINE)
    assert m.GEN == RELOADS and m.f() == RELOADS and inst.b() == RELOADS
    assert all(c > 0 for c in clean), clean


@pytest.fixture
def gate(mods):
    """A module the reloaded code synchronises on: EXECUTING is set by the new
    module code, which then waits for OBSERVED."""
    g = mods.module("gate", "EXECUTING = None\nOBSERVED = None\n")
    g.EXECUTING, g.OBSERVED = threading.Event(), threading.Event()
    return g


@pytest.mark.parametrize("outcome", ["commits", "fails"])
def test_other_threads_run_old_code_while_new_module_code_executes(mods, gate, outcome):
    m = mods.module("m", """
        __reload_data__ = {"LIMIT"}
        LIMIT = 1

        def f():
            return 1

        class K:
            def a(self):
                return 1
    """)
    inst = m.K()
    seen = []
    mods.write({"m.py": """
        import $gate
        __reload_data__ = {"LIMIT"}
        LIMIT = 2

        def f():
            return 2

        class K:
            def a(self):
                return 2

            def added(self):
                return 2

        NEW = 2
        $gate.EXECUTING.set()
        $gate.OBSERVED.wait(10)
        %s
    """ % ("raise RuntimeError('late failure')" if outcome == "fails" else "")})

    def observer():
        gate.EXECUTING.wait(10)
        seen.append((m.f(), inst.a(), m.LIMIT, hasattr(m, "NEW"),
                     hasattr(inst, "added"), reloader.reloading()))
        gate.OBSERVED.set()

    t = threading.Thread(target=observer)
    t.start()
    if outcome == "fails":
        mods.fail("m")
    else:
        mods.reload("m")
    t.join(10)
    assert seen == [(1, 1, 1, False, False, False)]
    if outcome == "fails":
        assert (m.f(), inst.a(), m.LIMIT) == (1, 1, 1)
    else:
        assert (m.f(), inst.a(), m.LIMIT, m.NEW, inst.added()) == (2, 2, 2, 2, 2)


def test_two_concurrent_reloads_both_succeed_one_after_the_other(mods):
    log = mods.module("log", "EVENTS = []\n")
    src = """
        import time, $log
        $log.EVENTS.append(("enter", __name__))
        time.sleep(0.05)
        $log.EVENTS.append(("exit", __name__))

        def f():
            return %r
    """
    mods.write({"a.py": src % "a1", "b.py": src % "b1"})
    a, b = mods.imp("a"), mods.imp("b")
    mods.write({"a.py": src % "a2", "b.py": src % "b2"})
    log.EVENTS.clear()
    barrier = threading.Barrier(2)
    reports, errors = {}, []

    def run(name):
        try:
            barrier.wait(10)
            reports[name] = mods.reload(name)
        except BaseException as exc:  # noqa: B902
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(x,)) for x in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert reports["a"].modules == (mods.n("a"),)
    assert reports["b"].modules == (mods.n("b"),)
    assert a.f() == "a2" and b.f() == "b2"
    ev = log.EVENTS
    assert len(ev) == 4
    first, second = ev[0][1], ev[2][1]
    assert ev == [("enter", first), ("exit", first), ("enter", second), ("exit", second)]
    assert {first, second} == set(mods.ns("a", "b"))


def test_same_module_reloaded_from_two_threads(mods):
    m = mods.module("m", "import time\ntime.sleep(0.02)\n\ndef f():\n    return 1\n")
    f = m.f
    mods.write({"m.py": "import time\ntime.sleep(0.02)\n\ndef f():\n    return 2\n"})
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait(10)
            results.append(mods.reload("m"))
        except BaseException as exc:  # noqa: B902
            errors.append(repr(exc))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and len(results) == 2
    assert m.f is f and f() == 2


def test_imports_wait_for_a_running_reload(mods, gate):
    log = mods.module("log", "EVENTS = []\n")
    mods.module("m", "X = 1\n")
    mods.write({
        "m.py": """
            import time, $gate, $log
            $log.EVENTS.append("reload-start")
            $gate.EXECUTING.set()
            time.sleep(0.2)
            $log.EVENTS.append("reload-end")
        """,
        "fresh.py": """
            import $log
            $log.EVENTS.append("import")
        """,
    })
    errors = []

    def importer():
        try:
            gate.EXECUTING.wait(10)
            __import__(mods.n("fresh"))
        except BaseException as exc:  # noqa: B902
            errors.append(repr(exc))

    t = threading.Thread(target=importer)
    t.start()
    mods.reload("m")
    t.join(30)
    assert errors == []
    assert log.EVENTS == ["reload-start", "reload-end", "import"]


@pytest.mark.parametrize("how", ["import_module", "import statement"])
def test_importing_a_batch_module_waits_and_gets_the_live_module(mods, gate, how):
    """The import system hands out a loaded module without any lock; while a
    batch runs, the module that sys.modules holds is its half-run shadow."""
    m = mods.module("m", "def f():\n    return 1\n")
    name = mods.n("m")
    mods.write({"m.py": """
        import $gate
        $gate.EXECUTING.set()
        $gate.OBSERVED.wait(10)

        def f():
            return 2
    """})
    got, errors = [], []

    def importer():
        try:
            gate.EXECUTING.wait(10)
            threading.Timer(0.2, gate.OBSERVED.set).start()
            if how == "import_module":
                mod = importlib.import_module(name)
            else:
                exec("import %s as mod" % name, ns := {})
                mod = ns["mod"]
            got.append((mod is m, gate.OBSERVED.is_set(), mod.f()))
        except BaseException as exc:  # noqa: B902
            errors.append(repr(exc))

    t = threading.Thread(target=importer)
    t.start()
    mods.reload("m")
    t.join(30)
    assert errors == []
    # it waited for the new code to finish, and got the one live module
    assert got and got[0][:2] == (True, True), got
    assert got[0][2] in (1, 2) and m.f() == 2
    assert getattr(m.__spec__, "_initializing", False) is False


@pytest.mark.parametrize("outcome", ["commits", "fails"])
def test_import_is_itself_again_after_a_batch(mods, outcome):
    import builtins
    orig = builtins.__import__
    m = mods.module("m", "def x():\n    return 1\n")
    seen = []
    mods.write({"m.py": """
        import builtins, $log
        $log.SEEN.append(builtins.__import__)

        def x():
            return 2
        %s
    """ % ("raise KeyError('late')" if outcome == "fails" else "")})
    mods.module("log", "SEEN = []\n").SEEN = seen
    if outcome == "fails":
        mods.fail("m")
    else:
        mods.reload("m")
    assert builtins.__import__ is orig
    assert seen and seen[0] is not orig  # the batch's wrapper while it ran
    assert m.x() == (2 if outcome == "commits" else 1)
    assert getattr(m.__spec__, "_initializing", False) is False


# fault injection: a batch of five modules fails at every point in turn ------------------

N = 5


def _src(i, version, fault=None):
    """Module i imports module i-1, so the batch runs m0, m1, ..., m4."""
    lines = []
    if i:
        lines.append("import $m%d" % (i - 1))
    lines.append("import $probe")
    if fault == "syntax":
        lines.append("def broken(:\n    pass")
    lines += [
        "__reload_data__ = {'OPT'}",
        "OPT = ['opt', %d]" % version,
        "DATA = {'v': %d}" % version,
        "def f():\n    return %d" % version,
        "class K:\n    def meth(self):\n        return %d" % version,
    ]
    if version > 1:
        lines.append("def added():\n    return %d" % version)
        hook = "def __reload__(old):\n    $probe.CALLS.append(__name__)"
        if fault == "hook":
            hook += "\n    raise LookupError('hook of m%d')" % i
        lines.append(hook)
    if fault == "runtime":
        lines.append("raise ArithmeticError('top level of m%d')" % i)
    return "\n\n".join(lines) + "\n"


CASES = [(kind, i) for kind in ("syntax", "runtime", "hook") for i in range(N)]


@pytest.mark.parametrize("kind,at", CASES, ids=["%s-m%d" % c for c in CASES])
def test_fault_injection(mods, snapshot, world, kind, at):
    probe = mods.module("probe", "CALLS = []\n")
    mods.write({"m%d.py" % i: _src(i, 1) for i in range(N)})
    ms = [mods.imp("m%d" % i) for i in range(N)]
    insts = [m.K() for m in ms]
    for m in ms:
        m.DATA["runtime"] = True
    states = [snapshot(m) for m in ms]
    w = world()
    mods.write({"m%d.py" % i: _src(i, 2, kind if i == at else None) for i in range(N)})
    err = mods.fail(["m%d" % i for i in range(N)])
    w.assert_same()
    assert err.module == mods.n("m%d" % at)
    if kind == "hook":
        # hooks run after the commit in batch order, up to the one that raised
        assert probe.CALLS == [mods.n("m%d" % i) for i in range(at + 1)]
        assert isinstance(err.__cause__, LookupError)
    elif kind == "runtime":
        assert isinstance(err.__cause__, ArithmeticError)
    else:
        assert isinstance(err.__cause__, SyntaxError)
    for m, inst, state in zip(ms, insts, states):
        state.assert_same()
        assert m.f() == 1 and inst.meth() == 1 and m.K().meth() == 1
        assert m.OPT == ["opt", 1] and m.DATA == {"v": 1, "runtime": True}
        assert not hasattr(m, "added") and not hasattr(m, "__reload__")
    # the same batch without the fault then applies everything
    probe.CALLS.clear()
    mods.write({"m%d.py" % i: _src(i, 2) for i in range(N)})
    r = mods.reload(["m%d" % i for i in range(N)])
    assert r.modules == tuple(mods.n("m%d" % i) for i in range(N))
    assert probe.CALLS == list(r.modules)
    for m, inst in zip(ms, insts):
        assert m.f() == 2 and inst.meth() == 2 and m.added() == 2
        assert m.OPT == ["opt", 2] and m.DATA == {"v": 1, "runtime": True}
