"""SPEC §2.6: a batch is applied completely or not at all."""

import gc
import os
import sys
import textwrap

import pytest

import reloader

V1 = """
    __reload_data__ = {"OPT"}
    STATE = "v1"
    VALUE = [1]
    OPT = {"v": 1}

    def f():
        return 1

    class K:
        SPEED = 1

        def meth(self):
            return "k1"

    def make():
        n = 0
        def tick():
            nonlocal n
            n += 1
            return n
        return tick

    tick = make()
"""

# a good edit of every kind of object, to which each case appends its failure
V2_GOOD = """
    import $helper

    __reload_data__ = {"OPT"}
    STATE = "v2"
    VALUE = [2]
    OPT = {"v": 2}
    NEWNAME = 1

    def f(x=0):
        return 2

    def added():
        return "added"

    class K:
        SPEED = 2

        def meth(self):
            return "k2"

        def more(self):
            return "more"

    def make():
        n = 0
        def tick():
            nonlocal n
            n += 100
            return n
        return tick

    tick = make()
"""

FAILURES = {
    "syntax": ("def broken(:\n    pass\n", SyntaxError),
    "runtime": ("raise RuntimeError('boom while importing')\n", RuntimeError),
    "import_missing_module": ("import rl_no_such_module_anywhere\n", ImportError),
    "import_missing_name": ("from $helper import no_such_name\n", ImportError),
    "class_body": ("class Bad:\n    raise ValueError('in class body')\n", ValueError),
    "decorator": ("def bad_deco(fn):\n    raise KeyError('deco')\n\n"
                  "@bad_deco\ndef g():\n    pass\n", KeyError),
    "name_error": ("undefined_name_here\n", NameError),
}


def _load(mods):
    mods.write({"helper.py": "def util():\n    return 'u'\n"})
    m = mods.module("m", V1)
    m.VALUE.append("runtime")
    m.STATE = "runtime"
    m.tick()
    return m


def _assert_old_behaviour(m, f, meth, tick_calls=1):
    assert m.f is f and f() == 1
    assert m.K().meth() == "k1" and m.K.meth is meth
    assert m.VALUE == [1, "runtime"] and m.STATE == "runtime" and m.OPT == {"v": 1}
    assert m.K.SPEED == 1
    assert not hasattr(m, "NEWNAME") and not hasattr(m, "added")
    assert not hasattr(m.K, "more")
    assert m.tick() == tick_calls + 1


@pytest.mark.parametrize("gc_enabled", [True, False], ids=["gc-on", "gc-off"])
@pytest.mark.parametrize("kind", sorted(FAILURES))
def test_failed_module_left_exactly_as_it_was(mods, snapshot, world, kind, gc_enabled):
    tail, cause_type = FAILURES[kind]
    m = _load(mods)
    f, meth = m.f, m.K.meth
    inst = m.K()
    before = snapshot(m)
    was = gc.isenabled()
    if not gc_enabled:
        gc.disable()
    try:
        w = world()
        mods.write({"m.py": textwrap.dedent(V2_GOOD) + "\n" + tail})
        err = mods.fail("m")
        w.assert_same()
    finally:
        if was:
            gc.enable()
    assert err.module == mods.n("m")
    assert isinstance(err.__cause__, cause_type), repr(err.__cause__)
    before.assert_same()
    _assert_old_behaviour(m, f, meth)
    assert inst.meth() == "k1"


def test_system_exit_in_module_code_rolls_back(mods, snapshot, world):
    m = _load(mods)
    f, meth = m.f, m.K.meth
    before = snapshot(m)
    w = world()
    mods.write({"m.py": textwrap.dedent(V2_GOOD) + "\nraise SystemExit(3)\n"})
    with pytest.raises(BaseException) as info:
        mods.reload("m")
    w.assert_same()
    before.assert_same()
    _assert_old_behaviour(m, f, meth)
    # "any exception raised by module-level code ... ReloadError is raised"
    assert isinstance(info.value, reloader.ReloadError), repr(info.value)
    assert isinstance(info.value.__cause__, SystemExit)


def test_syntax_error_cause_has_file_and_line(mods):
    m = mods.module("m", "def f():\n    return 1\n")
    mods.write({"m.py": "def f():\n    return 2\n\ndef broken(:\n    pass\n"})
    err = mods.fail("m")
    cause = err.__cause__
    assert isinstance(cause, SyntaxError)
    assert cause.filename and os.path.samefile(cause.filename, m.__file__)
    assert cause.lineno == 4
    assert m.f() == 1


def test_runtime_error_cause_is_the_original_exception(mods):
    mods.module("m", "X = 1\n")
    mods.write({"m.py": "class Boom(Exception):\n    pass\n\nraise Boom('original')\n"})
    err = mods.fail("m")
    assert type(err.__cause__).__name__ == "Boom"
    assert str(err.__cause__) == "original"


def test_vanished_source_file(mods, snapshot, world):
    m = _load(mods)
    f, meth = m.f, m.K.meth
    before = snapshot(m)
    w = world()
    mods.delete("m.py")
    err = mods.fail("m")
    w.assert_same()
    assert err.module == mods.n("m")
    assert isinstance(err.__cause__, OSError)
    before.assert_same()
    _assert_old_behaviour(m, f, meth)


@pytest.mark.parametrize("data", [
    b"def f():\n    return '\xff\xfe'\n",
    b"# -*- coding: ascii -*-\ndef f():\n    return '\xc3\xa9'\n",
    b"# -*- coding: no-such-codec -*-\ndef f():\n    return 2\n",
], ids=["bad-utf8", "bad-ascii", "unknown-codec"])
def test_undecodable_source(mods, snapshot, world, data):
    m = _load(mods)
    f, meth = m.f, m.K.meth
    before = snapshot(m)
    w = world()
    mods.write({"m.py": data})
    err = mods.fail("m")
    w.assert_same()
    assert err.module == mods.n("m")
    assert isinstance(err.__cause__, (SyntaxError, UnicodeError, LookupError))
    before.assert_same()
    _assert_old_behaviour(m, f, meth)


def test_batch_partial_failure_leaves_first_module_unchanged(mods, snapshot, world):
    mods.write({
        "a.py": "ITEMS = []\n\ndef f():\n    return 'a1'\n",
        "b.py": "def g():\n    return 'b1'\n",
    })
    a, b = mods.imp("a"), mods.imp("b")
    f, g = a.f, b.g
    sa, sb = snapshot(a), snapshot(b)
    w = world()
    mods.write({
        "a.py": "ITEMS = [1]\n\ndef f():\n    return 'a2'\n\ndef new():\n    pass\n",
        "b.py": "def g():\n    return 'b2'\n\nraise ValueError('b is broken')\n",
    })
    err = mods.fail(["a", "b"])
    w.assert_same()
    assert err.module == mods.n("b")
    assert isinstance(err.__cause__, ValueError)
    sa.assert_same()
    sb.assert_same()
    assert a.f is f and f() == "a1" and not hasattr(a, "new")
    assert b.g is g and g() == "b1"


def test_failing_module_imported_by_another_member_is_named(mods, snapshot):
    mods.write({
        "a.py": "import $b\n\ndef f():\n    return 'a1'\n",
        "b.py": "def g():\n    return 'b1'\n",
    })
    a, b = mods.imp("a"), mods.imp("b")
    sa, sb = snapshot(a), snapshot(b)
    mods.write({
        "a.py": "import $b\n\ndef f():\n    return 'a2'\n",
        "b.py": "def g():\n    return 'b2'\n\nraise ValueError('b is broken')\n",
    })
    err = mods.fail(["a", "b"])
    assert err.module == mods.n("b")
    sa.assert_same()
    sb.assert_same()
    assert a.f() == "a1" and b.g() == "b1"


def test_modules_first_imported_by_failed_code_stay_imported(mods):
    m = mods.module("m", "X = 1\n")
    mods.write({
        "fresh.py": "LOADED = True\n",
        "m.py": "import $fresh\nX = 2\nraise RuntimeError('after importing fresh')\n",
    })
    mods.fail("m")
    fresh = sys.modules.get(mods.n("fresh"))
    assert fresh is not None and fresh.LOADED is True
    assert m.X == 1 and not hasattr(m, mods.n("fresh"))


def test_failed_batch_does_not_rebind_from_import_copies(mods):
    mods.write({
        "m.py": "__reload_data__ = {'LIMITS'}\nLIMITS = [1]\n",
        "user.py": "from $m import LIMITS\n",
    })
    m, user = mods.imp("m"), mods.imp("user")
    limits = m.LIMITS
    mods.write({"m.py": "__reload_data__ = {'LIMITS'}\nLIMITS = [2]\nraise RuntimeError\n"})
    mods.fail("m")
    assert m.LIMITS is limits and user.LIMITS is limits


def test_failed_batch_leaves_classes_and_instances_alone(mods, snapshot):
    m = mods.module("m", """
        class Mixin:
            pass

        class K:
            __slots__ = ("a",)

        class E:
            def __init__(self):
                self.x = 1

            def __eq__(self, other):
                return "old-eq"
    """)
    e = m.E()
    before = snapshot(m)
    mods.write({"m.py": """
        class Mixin:
            def extra(self):
                pass

        class K(Mixin):
            __slots__ = ("a",)

        class E(Mixin):
            def __init__(self):
                self.x = 2

            def __eq__(self, other):
                return "new-eq"

            __hash__ = None

        raise RuntimeError("late")
    """})
    mods.fail("m")
    before.assert_same()
    assert (e == 1) == "old-eq"
    assert m.E.__bases__ == (object,)
    assert m.E.__hash__ is None  # as type() made it for V1 (__eq__ without __hash__)
    assert vars(e) == {"x": 1}


def test_recovery_after_failure(mods):
    m = mods.module("m", "def f():\n    return 1\n")
    f = m.f
    mods.write({"m.py": "def f(:\n"})
    mods.fail("m")
    assert mods.n("m") in reloader.changed()
    r = mods.update("m", "def f():\n    return 3\n")
    assert m.f is f and f() == 3
    assert r.updated == (mods.n("m.f"),)
    assert mods.n("m") not in reloader.changed()


@pytest.mark.parametrize("source", [
    "raise RuntimeError('x')\n",
    "def broken(:\n",
    "import rl_no_such_module_anywhere\n",
], ids=["runtime", "syntax", "import"])
def test_error_carries_the_report_of_the_attempt(mods, source):
    mods.module("m", "X = 1\n")
    mods.write({"m.py": source})
    err = mods.fail("m")
    # SPEC §1: ".report is the report of the attempt"
    assert isinstance(err.report, reloader.Report), err.report
    assert isinstance(err.report.duration, float)
    assert err.report.errors == ()


def test_vanished_file_error_carries_a_report(mods):
    mods.module("m", "X = 1\n")
    mods.delete("m.py")
    err = mods.fail("m")
    assert isinstance(err.report, reloader.Report), err.report


def test_failed_code_replacing_its_own_sys_modules_entry(mods):
    # "its sys.modules entry" is left as it was
    m = mods.module("m", "X = 1\n")
    mods.write({"m.py": """
        import sys, types
        sys.modules[__name__] = types.ModuleType(__name__)
        raise RuntimeError("after replacing the entry")
    """})
    mods.fail("m")
    assert sys.modules[mods.n("m")] is m and m.X == 1
