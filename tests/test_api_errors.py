"""SPEC §1 argument handling and §2.10: what is not reloadable."""

import importlib
import os
import sys
import sysconfig
import types

import pytest

import reloader


# not reloadable -------------------------------------------------------------------


def test_not_loaded_name_is_refused_and_not_imported(mods, refused):
    mods.write({"ghost.py": "X = 1\n"})
    name = mods.n("ghost")
    refused(name, module=name)
    assert name not in sys.modules
    assert reloader.is_reloadable(name) is False


def test_never_existing_name_is_refused(refused):
    err = refused("rl_no_such_module_xyz", module="rl_no_such_module_xyz")
    assert "rl_no_such_module_xyz" not in sys.modules
    # SPEC §1: ".report is the report of the attempt"
    assert isinstance(err.report, reloader.Report), err.report


@pytest.mark.parametrize("name", ["sys", "builtins", "math", "_frozen_importlib", "_json"])
def test_module_without_python_source_is_refused(name, refused):
    __import__(name)
    mod = sys.modules[name]
    d = dict(vars(mod))
    refused(name, module=name)
    refused(mod, module=mod.__name__)
    assert reloader.is_reloadable(name) is False
    assert reloader.is_reloadable(mod) is False
    assert all(vars(mod).get(k) is v for k, v in d.items())


@pytest.mark.parametrize("name", ["colorsys", "json", "json.decoder", "textwrap"])
def test_stdlib_module_is_refused_and_untouched(name, refused):
    __import__(name)
    mod = sys.modules[name]
    d = dict(vars(mod))
    refused(name, module=name)
    refused(mod, module=name)
    assert sys.modules[name] is mod
    assert all(vars(mod).get(k) is v for k, v in d.items())
    assert reloader.is_reloadable(name) is False


def test_site_packages_module_is_refused(refused):
    import iniconfig  # installed with pytest, into site-packages

    purelib = os.path.realpath(sysconfig.get_paths()["purelib"])
    assert os.path.realpath(iniconfig.__file__).startswith(purelib)
    d = dict(vars(iniconfig))
    refused("iniconfig", module="iniconfig")
    assert reloader.is_reloadable(iniconfig) is False
    assert all(vars(iniconfig).get(k) is v for k, v in d.items())


def test_main_is_refused_even_when_it_has_reloadable_source(mods, monkeypatch, refused):
    m = mods.module("m", "def f():\n    return 1\n")
    f = m.f
    monkeypatch.setitem(sys.modules, "__main__", m)
    mods.write({"m.py": "def f():\n    return 2\n"})
    refused("__main__", module="__main__")
    assert reloader.is_reloadable("__main__") is False
    assert m.f is f and f() == 1


def test_real_main_is_refused(refused):
    refused("__main__", module="__main__")


@pytest.mark.parametrize("name", ["reloader", "reloader._api", "reloader._report",
                                  "reloader._core"])
def test_reloader_itself_is_refused(name, refused):
    mod = sys.modules[name]
    d = dict(vars(mod))
    refused(name, module=name)
    refused(mod, module=name)
    assert reloader.is_reloadable(name) is False
    assert all(vars(mod).get(k) is v for k, v in d.items())


def test_reloader_refused_even_when_configured_in(refused):
    root = os.path.dirname(reloader.__file__)
    reloader.configure(include=["reloader", root])
    refused("reloader", module="reloader")
    assert reloader.is_reloadable("reloader._api") is False


def test_outside_configured_roots(mods, tmp_path, refused):
    m = mods.module("m", "def f():\n    return 1\n")
    f = m.f
    mods.write({"m.py": "def f():\n    return 2\n"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    reloader.configure(include=[str(elsewhere)])
    refused(mods.n("m"), module=mods.n("m"))
    assert reloader.is_reloadable(m) is False
    assert f() == 1
    reloader.configure(include=[mods.root])
    assert reloader.is_reloadable(m) is True
    reloader.reload(mods.n("m"))
    assert m.f is f and f() == 2


def test_roots_follow_a_moved_link_after_invalidate_caches(mods, tmp_path, refused):
    """Roots compare real paths, remembered between reloads; a link moved
    under a running program is seen once importlib.invalidate_caches() (or
    configure()) says files moved."""
    inside, outside = tmp_path / "inside", tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    (inside / "impl.py").write_text("def f():\n    return 1\n")
    (outside / "impl.py").write_text("def f():\n    return 1\n")
    link = mods.path("m.py")
    os.symlink(str(inside / "impl.py"), link)
    importlib.invalidate_caches()
    m = mods.imp("m")
    f = m.f
    reloader.configure(include=[str(inside)])
    assert reloader.is_reloadable(m) is True
    (inside / "impl.py").write_text("def f():\n    return 2\n")
    reloader.reload(mods.n("m"))
    assert m.f is f and f() == 2

    os.unlink(link)
    os.symlink(str(outside / "impl.py"), link)
    importlib.invalidate_caches()
    refused(mods.n("m"), module=mods.n("m"))
    assert m.f is f and f() == 2
    reloader.configure(include=[str(outside)])
    (outside / "impl.py").write_text("def f():\n    return 3\n")
    reloader.reload(mods.n("m"))
    assert m.f is f and f() == 3


def test_configure_by_name_prefix_and_exclude(mods, refused):
    m = mods.module("m", "def f():\n    return 1\n")
    other = mods.module("other", "def g():\n    return 1\n")
    reloader.configure(include=[mods.n("m")])
    assert reloader.is_reloadable(m) is True
    assert reloader.is_reloadable(other) is False
    reloader.configure(exclude=[mods.n("m")])
    assert reloader.is_reloadable(m) is False
    assert reloader.is_reloadable(other) is True
    mods.write({"m.py": "def f():\n    return 2\n"})
    refused(mods.n("m"), module=mods.n("m"))
    assert m.f() == 1
    reloader.configure()
    assert reloader.is_reloadable(m) is True


def test_synthetic_module_is_refused():
    fake = types.ModuleType("rl_synthetic_fake")
    assert reloader.is_reloadable(fake) is False
    with pytest.raises(reloader.ReloadError):
        reloader.reload(fake)


def test_one_bad_name_refuses_the_whole_batch(mods, refused):
    m = mods.module("m", "def f():\n    return 1\n")
    mods.write({"m.py": "def f():\n    return 2\n"})
    err = refused([mods.n("m"), "json"], module="json")
    assert m.f() == 1
    err = refused([mods.n("m"), mods.n("not_loaded")], module=mods.n("not_loaded"))
    assert m.f() == 1
    assert err.module == mods.n("not_loaded")


# argument types ---------------------------------------------------------------------


@pytest.mark.parametrize("bad", [42, 3.5, object(), b"m", [42], [None], [b"m"],
                                 [["nested"]]])
def test_wrong_argument_type_is_type_error(mods, bad):
    m = mods.module("m", "def f():\n    return 1\n")
    mods.write({"m.py": "def f():\n    return 2\n"})
    with pytest.raises(TypeError):
        reloader.reload(bad)
    with pytest.raises(TypeError):
        reloader.reload([mods.n("m"), bad] if not isinstance(bad, list) else
                        [mods.n("m")] + bad)
    assert m.f() == 1  # nothing changed


def test_options_are_keyword_only(mods):
    mods.module("m", "X = 1\n")
    with pytest.raises(TypeError):
        reloader.reload(mods.n("m"), True)  # noqa


@pytest.mark.parametrize("bad", [42, object(), 3.5])
def test_is_reloadable_wrong_type(bad):
    with pytest.raises(TypeError):
        reloader.is_reloadable(bad)


@pytest.mark.parametrize("kwargs", [{"include": 42}, {"exclude": 42}, {"include": [42]},
                                    {"exclude": [None]}])
def test_configure_wrong_type(kwargs):
    with pytest.raises(TypeError):
        reloader.configure(**kwargs)


# empty, unchanged, by module, reload(None) ----------------------------------------------


@pytest.mark.parametrize("empty", [[], ()], ids=["list", "tuple"])
def test_empty_batch_reloads_nothing(mods, empty):
    m = mods.module("m", "def f():\n    return 1\n")
    mods.write({"m.py": "def f():\n    return 2\n"})
    r = reloader.reload(empty)
    assert isinstance(r, reloader.Report)
    for field in ("modules", "updated", "added", "removed", "data_replaced",
                  "restart_required", "errors"):
        assert getattr(r, field) == (), field
    assert m.f() == 1


def test_unchanged_source_lists_nothing(mods):
    m = mods.module("m", """
        X = [1]

        def f():
            return 1

        class K:
            def meth(self):
                return 1
    """)
    f, K, x = m.f, m.K, m.X
    r = mods.reload("m")
    assert r.modules == (mods.n("m"),)
    assert r.updated == () and r.added == () and r.removed == ()
    assert r.data_replaced == () and r.restart_required == () and r.errors == ()
    assert m.f is f and m.K is K and m.X is x


def test_reload_by_module_object_equals_by_name(mods):
    m = mods.module("m", "def f():\n    return 1\n")
    r = mods.update("m", "def f():\n    return 2\n")
    assert r.modules == (mods.n("m"),)
    mods.write({"m.py": "def f():\n    return 3\n"})
    r2 = reloader.reload(m)
    assert r2.modules == (mods.n("m"),) and r2.updated == (mods.n("m.f"),)
    assert m.f() == 3
    mods.write({"m.py": "def f():\n    return 4\n"})
    reloader.reload([m])
    assert m.f() == 4


def test_same_module_twice_in_a_batch_runs_once(mods):
    # a user expects a duplicate to be harmless
    probe = mods.module("probe", "RUNS = []\n")
    m = mods.module("m", "import $probe\n$probe.RUNS.append(1)\n")
    probe.RUNS.clear()
    r = reloader.reload([mods.n("m"), m])
    assert r.modules == (mods.n("m"),)
    assert probe.RUNS == [1]


def test_reload_none_reloads_what_changed(mods):
    a = mods.module("a", "def f():\n    return 1\n")
    b = mods.module("b", "def f():\n    return 1\n")
    mods.write({"a.py": "def f():\n    return 2\n"})
    assert mods.n("a") in reloader.changed()
    assert mods.n("b") not in reloader.changed()
    r = reloader.reload()
    assert mods.n("a") in r.modules and mods.n("b") not in r.modules
    assert a.f() == 2 and b.f() == 1
    mods.write({"b.py": "def f():\n    return 2\n"})
    r = reloader.reload(None)
    assert mods.n("b") in r.modules and mods.n("a") not in r.modules
    assert b.f() == 2
    assert mods.n("a") not in reloader.changed() and mods.n("b") not in reloader.changed()


def test_is_reloadable_for_a_plain_module(mods):
    m = mods.module("m", "X = 1\n")
    assert reloader.is_reloadable(m) is True
    assert reloader.is_reloadable(mods.n("m")) is True


def test_main_module_under_its_multiprocessing_alias_is_refused():
    # multiprocessing registers the running script again as __mp_main__
    import multiprocessing  # noqa: F401
    main = sys.modules["__main__"]
    saved = sys.modules.get("__mp_main__")
    sys.modules["__mp_main__"] = main
    try:
        with pytest.raises(reloader.ReloadError) as info:
            reloader.reload("__mp_main__")
        assert info.value.module == "__mp_main__"
        assert sys.modules["__mp_main__"] is main
        assert not reloader.is_reloadable("__mp_main__")
    finally:
        if saved is None:
            sys.modules.pop("__mp_main__", None)
        else:
            sys.modules["__mp_main__"] = saved


def test_a_frozen_module_is_not_reloadable_even_when_included(mods):
    # 3.11+ give frozen stdlib modules a __file__; they never ran from it
    import importlib.machinery
    spec = importlib.machinery.FrozenImporter.find_spec("__hello__")
    if spec is None:
        pytest.skip("no frozen __hello__ here")
    saved = sys.modules.pop("__hello__", None)
    reloader.configure(include=["__hello__"])
    try:
        import __hello__  # noqa: F401
        assert reloader.is_reloadable("__hello__") is False
        with pytest.raises(reloader.ReloadError) as info:
            reloader.reload("__hello__")
        assert "no Python source" in str(info.value)
    finally:
        sys.modules.pop("__hello__", None)
        if saved is not None:
            sys.modules["__hello__"] = saved


def test_a_module_imported_from_a_zip_archive_is_not_reloadable(tmp_path):
    import zipfile
    archive = str(tmp_path / "lib.zip")
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("rl_zipped.py", "def f():\n    return 1\n")
    sys.path.insert(0, archive)
    try:
        import rl_zipped
        assert reloader.is_reloadable(rl_zipped) is False
        with pytest.raises(reloader.ReloadError) as info:
            reloader.reload(rl_zipped)
        assert "no Python source" in str(info.value) and rl_zipped.f() == 1
    finally:
        sys.path.remove(archive)
        sys.modules.pop("rl_zipped", None)
