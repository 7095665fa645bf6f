"""SPEC §2.5: __reload__(old), __reload_instance__(self) and reloading()."""

import logging
import threading
from collections.abc import Mapping

import pytest

import reloader


@pytest.fixture
def probe(mods):
    """A module the test modules record into; it is never reloaded."""
    return mods.module("probe", "CALLS = []\n")


# __reload__ ---------------------------------------------------------------------------


def test_module_hook_migrates_state_with_read_only_old_globals(mods, probe):
    m = mods.module("roster", """
        __reload_data__ = {"LIMIT"}
        PLAYERS = ["ann", "bob"]
        LIMIT = 1

        def gone():
            pass

        def version():
            return 1
    """)
    m.PLAYERS.append("cid")
    m.LIMIT = 7
    players, version = m.PLAYERS, m.version
    mods.update("roster", """
        import $probe

        __reload_data__ = {"LIMIT"}
        PLAYERS = {}
        LIMIT = 20

        def version():
            return 2

        def __reload__(old):
            global PLAYERS
            $probe.CALLS.append(("hook", old))
            PLAYERS = {name: 0 for name in old["PLAYERS"]}
            $probe.CALLS.append(("seen", version(), LIMIT, old["LIMIT"]))
    """)
    assert m.PLAYERS == {"ann": 0, "bob": 0, "cid": 0}
    (tag, old), seen = probe.CALLS
    assert tag == "hook"
    assert isinstance(old, Mapping)
    assert old["PLAYERS"] is players
    assert old["LIMIT"] == 7  # the value at run time, before the new source replaced it
    assert old["version"] is version
    assert "gone" in old
    # the hook runs after the commit: it sees the new code and data
    assert seen == ("seen", 2, 20, 7)
    with pytest.raises(TypeError):
        old["PLAYERS"] = None
    with pytest.raises(TypeError):
        del old["PLAYERS"]
    assert old["PLAYERS"] is players


def test_module_hook_called_once_per_module_in_report_order(mods, probe):
    src = """
        import $probe
        %s
        def __reload__(old):
            $probe.CALLS.append(__name__)
    """
    mods.write({"a.py": src % "import $b", "b.py": src % "import $c", "c.py": src % ""})
    mods.imp("a")
    assert probe.CALLS == []  # a first import is not a reload
    r = mods.reload(["a", "c", "b"])
    assert r.modules == mods.ns("c", "b", "a")
    assert probe.CALLS == list(r.modules)


def test_module_hook_only_from_the_new_source(mods, probe):
    m = mods.module("m", """
        import $probe

        def __reload__(old):
            $probe.CALLS.append("old hook")
    """)
    mods.update("m", "import $probe\n")
    assert probe.CALLS == []
    assert not hasattr(m, "__reload__")


def test_module_hook_raising_undoes_the_whole_batch(mods, probe, snapshot):
    mods.write({
        "a.py": "STATE = 'a1'\n\ndef f():\n    return 'a1'\n",
        "b.py": "import $a\nSTATE = 'b1'\n\ndef g():\n    return 'b1'\n",
    })
    a, b = mods.imp("a"), mods.imp("b")
    f, g = a.f, b.g
    sa, sb = snapshot(a), snapshot(b)
    mods.write({
        "a.py": """
            import $probe
            STATE = 'a2'

            def f():
                return 'a2'

            def __reload__(old):
                global MIGRATED
                MIGRATED = True
                $probe.CALLS.append(("a", f()))
        """,
        "b.py": """
            import $a, $probe
            STATE = 'b2'

            def g():
                return 'b2'

            class HookFailed(Exception):
                pass

            def __reload__(old):
                $probe.CALLS.append(("b", g()))
                raise HookFailed("migration failed")
        """,
    })
    err = mods.fail(["a", "b"])
    assert probe.CALLS == [("a", "a2"), ("b", "b2")]  # a's hook ran, then b's raised
    assert err.module == mods.n("b")
    assert type(err.__cause__).__name__ == "HookFailed"
    sa.assert_same()
    sb.assert_same()
    assert a.f is f and f() == "a1" and g() == "b1"
    assert not hasattr(a, "MIGRATED") and not hasattr(a, "__reload__")


def test_module_hook_raising_undoes_what_hooks_did_to_classes_and_functions(mods, snapshot):
    # hooks that ran before the failing one changed kept classes and
    # functions in place, where no swap of the batch looks
    mods.write({
        "a.py": "class P:\n    level = 1\n\n    def hit(self):\n        return 1\n\n"
                "def f():\n    return 1\n",
        "b.py": "def g():\n    return 1\n",
    })
    a, b = mods.imp("a"), mods.imp("b")
    P, hit, f, g = a.P, a.P.hit, a.f, b.g
    sa, sb = snapshot(a), snapshot(b)
    mods.write({
        "a.py": """
            class P:
                level = 1

                def hit(self):
                    return 2

            def f():
                return 2

            def __reload__(old):
                P.level = 50
                P.added_by_hook = True
                P.hit.tag = "hook"
                f.hooked = True
        """,
        "b.py": """
            import $a

            def g():
                return 2

            def __reload__(old):
                g.hooked = True
                $a.P.also = 1
                raise RuntimeError("migration failed")
        """,
    })
    mods.fail(["a", "b"])
    sa.assert_same()
    sb.assert_same()
    assert a.P is P and P.level == 1 and not hasattr(P, "added_by_hook")
    assert not hasattr(P, "also") and not hasattr(hit, "tag")
    assert not hasattr(f, "hooked") and not hasattr(g, "hooked")
    assert P().hit() == 1 and f() == 1 and g() == 1
    mods.write({"b.py": "import $a\n\ndef g():\n    return 3\n"})
    mods.reload(["a", "b"])  # the fixed batch applies, a's hook included
    assert P.level == 50 and P.added_by_hook and P().hit() == 2 and g() == 3
    assert a.P is P and b.g is g and hit.tag == "hook"


# __reload_instance__ --------------------------------------------------------------------


def test_instance_hook_runs_on_instances_of_class_and_subclasses(mods):
    mods.write({
        "mobs.py": """
            class Mob:
                def __init__(self, hp):
                    self.hp = hp

            class Boss(Mob):
                pass

            class Other:
                pass
        """,
        "elite.py": """
            from $mobs import Mob

            class Elite(Mob):
                pass
        """,
    })
    mobs, elite = mods.imp("mobs"), mods.imp("elite")
    keep = [mobs.Mob(50), mobs.Boss(200), elite.Elite(70), mobs.Other()]
    r = mods.update("mobs", """
        CALLS = []

        class Mob:
            def __init__(self, hp):
                self.hp = hp
                self.armor = hp // 10

            def __reload_instance__(self):
                CALLS.append((type(self).__name__, self.hp))
                self.armor = self.hp // 10

        class Boss(Mob):
            pass

        class Other:
            pass
    """)
    mob, boss, el, other = keep
    assert (mob.armor, boss.armor, el.armor) == (5, 20, 7)
    assert not hasattr(other, "armor")
    assert sorted(mobs.CALLS) == [("Boss", 200), ("Elite", 70), ("Mob", 50)]
    assert r.errors == ()


def test_instance_hook_only_where_the_class_has_it(mods):
    m = mods.module("m", "class Base:\n    pass\n\nclass Sub(Base):\n    pass\n")
    base, sub = m.Base(), m.Sub()
    mods.update("m", """
        CALLS = []

        class Base:
            pass

        class Sub(Base):
            def __reload_instance__(self):
                CALLS.append(type(self).__name__)
    """)
    assert m.CALLS == ["Sub"]
    del base, sub


LAZY = """
class Lazy(type):
    def __getattr__(cls, name):
        return True

class Cfg(metaclass=Lazy):
    pass
"""


def test_instance_hook_is_what_the_class_defines_or_inherits(mods):
    # a metaclass __getattr__ that answers every name (a lazy config) gives
    # the class no hook; a staticmethod hook is called as getattr gives it
    m = mods.module("m", LAZY + "\nclass Static:\n    pass\n")
    cfg, st = m.Cfg(), m.Static()
    mods.update("m", LAZY + """
SEEN = []

class Static:
    @staticmethod
    def __reload_instance__(obj):
        SEEN.append(obj)
""")
    assert m.SEEN == [st]
    r = reloader.reload([m])  # the same source: the hooks run again
    assert r.errors == ()
    assert len(m.SEEN) == 2 and m.SEEN[1] is st
    del cfg


LOUD = """
class Loud(type):
    def __getattribute__(cls, name):
        if name in ("__dict__", "__mro__", "__reload_instance__"):
            raise RuntimeError("no attribute reads here")
        return super().__getattribute__(name)
"""


def test_instance_hook_found_past_a_metaclass_that_refuses_reads(mods):
    m = mods.module("m", LOUD + "\nclass K(metaclass=Loud):\n    pass\n")
    k = m.K()
    mods.update("m", LOUD + """
SEEN = []

class K(metaclass=Loud):
    def __reload_instance__(self):
        SEEN.append(self)
""")
    assert m.SEEN == [k]


def test_instance_hook_of_a_subclass_in_another_module(mods):
    mods.write({
        "base.py": "class Unit:\n    def speed(self):\n        return 1\n",
        "ext.py": """
            from $base import Unit

            class Scout(Unit):
                hooked = 0

                def __reload_instance__(self):
                    self.hooked += 1
        """,
    })
    base, ext = mods.imp("base"), mods.imp("ext")
    scout, unit = ext.Scout(), base.Unit()
    mods.update("base", "class Unit:\n    def speed(self):\n        return 2\n")
    assert scout.speed() == 2 and scout.hooked == 1
    assert not hasattr(unit, "hooked") or unit.hooked == 0


def test_instance_hook_system_exit_is_listed_like_any_error(mods):
    m = mods.module("m", "class K:\n    pass\n")
    k = m.K()
    r = mods.update("m", """
        import sys

        class K:
            def __reload_instance__(self):
                sys.exit(3)

            def v(self):
                return 2
    """)
    assert k.v() == 2
    assert len(r.errors) == 1 and "SystemExit: 3" in r.errors[0]


def test_instance_hook_errors_take_one_line_each(mods):
    # report.errors is one line per exception, whatever its message holds
    m = mods.module("m", "class K:\n    pass\n\nclass J:\n    pass\n")
    k, j = m.K(), m.J()
    r = mods.update("m", """
        class Unprintable(Exception):
            def __str__(self):
                raise RuntimeError("no")

        class K:
            def __reload_instance__(self):
                raise ValueError("first line\\nsecond line")

        class J:
            def __reload_instance__(self):
                raise Unprintable()
    """)
    assert len(r.errors) == 2 and all("\n" not in e for e in r.errors)
    assert any("ValueError: first line\\nsecond line" in e for e in r.errors)
    assert any("Unprintable: <unprintable Unprintable>" in e for e in r.errors)
    assert len(str(r).splitlines()) == 1 + len(r.updated) + len(r.added) + len(r.errors)
    del k, j


def test_instance_hook_sees_the_new_methods(mods):
    m = mods.module("m", "class K:\n    def v(self):\n        return 1\n")
    k = m.K()
    mods.update("m", """
        SEEN = []

        class K:
            def v(self):
                return 2

            def __reload_instance__(self):
                SEEN.append(self.v())
    """)
    assert m.SEEN == [2]
    del k


def test_instance_hook_errors_are_reported_and_logged_batch_stands(mods, caplog):
    m = mods.module("m", "class K:\n    def __init__(self, n):\n        self.n = n\n")
    keep = [m.K(1), m.K(2), m.K(3)]
    caplog.set_level(logging.WARNING, logger="reloader")
    r = mods.update("m", """
        class K:
            def __init__(self, n):
                self.n = n

            def v(self):
                return "new"

            def __reload_instance__(self):
                self.touched = True
                if self.n == 2:
                    raise ValueError("cannot migrate %d" % self.n)
    """)
    assert len(r.errors) == 1
    assert "cannot migrate 2" in r.errors[0]
    assert [k.v() for k in keep] == ["new"] * 3
    assert all(k.touched for k in keep)
    warnings = [rec for rec in caplog.records
                if rec.name == "reloader" and rec.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "cannot migrate 2" in warnings[0].getMessage()


def test_no_instance_hook_call_on_first_import(mods):
    m = mods.module("m", """
        CALLS = []

        class K:
            def __reload_instance__(self):
                CALLS.append(self)

        K()
    """)
    assert m.CALLS == []


# reloading() ----------------------------------------------------------------------------


def test_reloading_true_only_in_module_code_and_hooks_of_a_batch(mods, probe):
    src = """
        import threading
        import reloader
        import $probe

        $probe.CALLS.append(("module", reloader.reloading()))

        def _other_thread():
            $probe.CALLS.append(("thread", reloader.reloading()))

        _t = threading.Thread(target=_other_thread)
        _t.start()
        _t.join()

        def __reload__(old):
            $probe.CALLS.append(("hook", reloader.reloading()))

        class K:
            def __reload_instance__(self):
                $probe.CALLS.append(("instance", reloader.reloading()))

        def check():
            return reloader.reloading()
    """
    m = mods.module("m", src)
    keep = m.K()
    assert probe.CALLS == [("module", False), ("thread", False)]
    assert reloader.reloading() is False
    del probe.CALLS[:]
    mods.reload("m")  # unchanged source: the module code and hooks run all the same
    assert probe.CALLS[:2] == [("module", True), ("thread", False)]
    assert sorted(probe.CALLS[2:]) == [("hook", True), ("instance", True)]
    assert reloader.reloading() is False
    assert m.check() is False
    del keep


def test_reloading_false_after_a_failed_batch(mods):
    mods.module("m", "X = 1\n")
    mods.write({"m.py": "raise RuntimeError\n"})
    mods.fail("m")
    assert reloader.reloading() is False


def test_reloading_is_per_thread(mods):
    results = []
    started, release = threading.Event(), threading.Event()
    mods.module("probe2", "import threading\nSTARTED = None\nRELEASE = None\n")
    probe2 = mods.imp("probe2")
    probe2.STARTED, probe2.RELEASE = started, release
    mods.module("m", "X = 1\n")
    mods.write({"m.py": """
        import $probe2
        $probe2.STARTED.set()
        $probe2.RELEASE.wait(10)
        X = 2
    """})

    def watcher():
        started.wait(10)
        results.append(reloader.reloading())
        release.set()

    t = threading.Thread(target=watcher)
    t.start()
    mods.reload("m")
    t.join(10)
    assert results == [False]
