"""SPEC §3 pytest plugin: the hot_module fixture, exercised through pytester."""

import sys

import pytest

import reloader
import reloader.pytest_plugin


def run_inline(pytester, source, *args):
    pytester.makepyfile(test_it=source)
    # hypothesis's plugin would only slow each inner session down
    return pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest",
                              "-W", "error", *args)


def test_registered_through_the_pytest11_entry_point(pytester):
    config = pytester.parseconfigure()
    assert config.pluginmanager.get_plugin("reloader") is reloader.pytest_plugin


def test_create_import_update_keeps_identity(pytester):
    result = run_inline(pytester, """
        import sys
        import reloader

        def test_it(hot_module):
            mod = hot_module("hp_game.weapon", '''
                class Sword:
                    def damage(self):
                        return 10
            ''')
            assert sys.modules["hp_game.weapon"] is mod
            assert mod.__file__.endswith("hp_game/weapon.py")
            assert sys.modules["hp_game"].__file__.endswith("hp_game/__init__.py")
            sword = mod.Sword()
            Sword = mod.Sword
            report = hot_module.update("hp_game.weapon", '''
                class Sword:
                    def damage(self):
                        return 25
            ''')
            assert isinstance(report, reloader.Report)
            assert report.modules == ("hp_game.weapon",)
            assert "hp_game.weapon.Sword.damage" in report.updated
            assert mod.Sword is Sword and type(sword) is Sword
            assert sword.damage() == 25
    """)
    result.assert_outcomes(passed=1)


def test_teardown_unloads_modules_and_restores_sys_path(pytester):
    path_before = list(sys.path)
    result = run_inline(pytester, """
        import sys
        ROOTS = []

        def test_one(hot_module):
            hot_module("hp_td.a", "X = 1\\n")
            hot_module("hp_td_b", "import hp_td.a\\nY = 2\\n")
            ROOTS.append(str(hot_module.root))
            assert ROOTS[0] in sys.path

        def test_two():
            assert not [n for n in sys.modules if n.startswith("hp_td")]
            assert ROOTS[0] not in sys.path
    """)
    result.assert_outcomes(passed=2)
    assert not [n for n in sys.modules if n.startswith("hp_td")]
    assert sys.path == path_before


def test_same_size_rewrite_within_a_second_is_picked_up(pytester):
    # reloader.reload compiles from source; a fresh import must not be served
    # the stale pyc of the first version either.
    result = run_inline(pytester, """
        import importlib
        import sys

        def test_it(hot_module):
            mod = hot_module("hp_fast", "def f():\\n    return 1\\n")
            f = mod.f
            assert hot_module.update("hp_fast", "def f():\\n    return 2\\n").updated == ("hp_fast.f",)
            assert f() == 2
            hot_module.update("hp_fast", "def f():\\n    return 3\\n")
            assert f() == 3
            del sys.modules["hp_fast"]
            assert importlib.import_module("hp_fast").f() == 3
    """)
    result.assert_outcomes(passed=1)


def test_failed_update_changes_nothing_and_restores_the_file(pytester):
    result = run_inline(pytester, """
        import pytest
        import reloader

        def test_it(hot_module):
            mod = hot_module("hp_bad", "def f():\\n    return 1\\n")
            f = mod.f
            with pytest.raises(reloader.ReloadError) as info:
                hot_module.update("hp_bad", "def f(:\\n")
            assert isinstance(info.value.__cause__, SyntaxError)
            assert mod.f is f and f() == 1
            assert hot_module.path("hp_bad").read_text() == "def f():\\n    return 1\\n"
            assert "hp_bad" not in reloader.changed()
    """)
    result.assert_outcomes(passed=1)


def test_write_then_reload_a_batch(pytester):
    result = run_inline(pytester, """
        import reloader

        def test_it(hot_module):
            a = hot_module("hp_batch.a", "def f():\\n    return 1\\n")
            b = hot_module("hp_batch.b", "from hp_batch.a import f\\n")
            hot_module.write("hp_batch.a", "def f():\\n    return 2\\n")
            hot_module.write("hp_batch", "VERSION = 2\\n")
            assert {"hp_batch.a", "hp_batch"} <= set(reloader.changed())
            report = reloader.reload(["hp_batch", "hp_batch.a"])
            assert b.f() == 2 and b.f is a.f
            assert report.modules[0] == "hp_batch"
    """)
    result.assert_outcomes(passed=1)


def test_bad_input_is_refused_clearly(pytester):
    result = run_inline(pytester, """
        import sys
        import pytest

        def test_it(hot_module):
            with pytest.raises(TypeError, match="str"):
                hot_module(42, "X = 1\\n")
            with pytest.raises(TypeError, match="source"):
                hot_module("hp_x", b"X = 1\\n")
            for bad in ("", "1abc", "a..b", "a.class", "a-b"):
                with pytest.raises(ValueError, match="not a dotted module name"):
                    hot_module(bad, "X = 1\\n")
            with pytest.raises(ValueError, match="already imported"):
                hot_module("os", "X = 1\\n")
            with pytest.raises(ValueError, match="not created"):
                hot_module.update("hp_never", "X = 1\\n")
            hot_module("hp_plain", "X = 1\\n")
            with pytest.raises(ValueError, match="already exists"):
                hot_module("hp_plain", "X = 2\\n")
            with pytest.raises(ValueError, match="plain module"):
                hot_module("hp_plain.sub", "X = 1\\n")
            with pytest.raises(SyntaxError):
                hot_module("hp_broken", "def f(:\\n")
            assert "hp_broken" not in sys.modules
            assert hot_module("hp_broken", "X = 3\\n").X == 3  # the name is free again
            assert not (hot_module.root / "hp_x.py").exists()
            assert not list(hot_module.root.glob("1abc*"))
    """)
    result.assert_outcomes(passed=1)


def test_package_source_and_kwargs_reach_reload(pytester):
    result = run_inline(pytester, """
        import pytest
        import reloader

        def test_it(hot_module):
            hot_module("hp_kw.sub", "class K:\\n    __slots__ = ('a',)\\n")
            pkg = hot_module.update("hp_kw", "NAME = 'pkg'\\n")
            assert pkg.modules == ("hp_kw",)
            with pytest.raises(reloader.ReloadError):
                hot_module.update("hp_kw.sub", "class K:\\n    __slots__ = ('a', 'b')\\n",
                                  strict=True)
    """)
    result.assert_outcomes(passed=1)
