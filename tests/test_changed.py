"""SPEC §1 changed() and reload() with no arguments: compared by content."""

import importlib
import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

import reloader
from reloader import _stamps

V1 = "def f():\n    return 1\n"
V2 = "def f():\n    return 2\n"


def test_edit_is_listed_and_reload_applies_it(hot_module):
    m = hot_module("chg_edit", V1)
    f = m.f
    assert "chg_edit" not in reloader.changed()
    hot_module.write("chg_edit", V2)
    assert "chg_edit" in reloader.changed()
    report = reloader.reload()
    assert "chg_edit" in report.modules
    assert "chg_edit.f" in report.updated
    assert m.f is f and f() == 2
    # the reload took a new stamp: nothing left to do
    assert "chg_edit" not in reloader.changed()
    assert "chg_edit" not in reloader.reload().modules


def test_touch_without_edit_is_not_listed(hot_module):
    hot_module("chg_touch", V1)
    path = hot_module.path("chg_touch")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert "chg_touch" not in reloader.changed()


def test_rewrite_with_same_content_is_not_listed(hot_module):
    hot_module("chg_same", V1)
    hot_module.write("chg_same", V1)
    assert "chg_same" not in reloader.changed()


def test_edit_back_to_running_source_is_not_listed(hot_module):
    hot_module("chg_back", V1)
    hot_module.write("chg_back", V2)
    assert "chg_back" in reloader.changed()
    hot_module.write("chg_back", V1)
    assert "chg_back" not in reloader.changed()


def test_same_size_edit_with_the_same_mtime_is_listed(hot_module):
    hot_module("chg_mtime", V1)
    path = hot_module.path("chg_mtime")
    st = path.stat()
    path.write_bytes(V2.encode())
    assert len(V1) == len(V2)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime alone sees nothing
    assert "chg_mtime" in reloader.changed()


def test_deleted_source_is_not_listed(hot_module):
    m = hot_module("chg_gone", V1)
    hot_module.write("chg_gone", V2)
    assert "chg_gone" in reloader.changed()
    hot_module.path("chg_gone").unlink()
    assert "chg_gone" not in reloader.changed()
    assert "chg_gone" not in reloader.reload().modules
    assert m.f() == 1


def test_edit_between_import_and_first_changed_call_is_seen(hot_module):
    # Imported after reloader: stamped by the import itself, not lazily by
    # the first changed() call (which would take the edited file as the truth).
    hot_module("chg_early", V1)
    hot_module.write("chg_early", V2)
    assert "chg_early" in reloader.changed()


def test_package_and_submodule_are_tracked_separately(hot_module):
    hot_module("chg_pkg.sub", V1)
    hot_module.write("chg_pkg.sub", V2)
    listed = reloader.changed()
    assert "chg_pkg.sub" in listed and "chg_pkg" not in listed
    hot_module.write("chg_pkg", "X = 1\n")
    assert {"chg_pkg", "chg_pkg.sub"} <= set(reloader.changed())


def test_a_probe_does_not_restamp_a_loaded_module(hot_module):
    hot_module("chg_probe", V1)
    hot_module.write("chg_probe", V2)
    # find_spec() through sys.meta_path without importing: the stamp must
    # still describe the code that runs
    assert importlib.util.find_spec("chg_probe") is not None
    importlib.machinery.PathFinder.find_spec("chg_probe")
    for finder in sys.meta_path:
        if hasattr(finder, "find_spec"):
            finder.find_spec("chg_probe", None)
    assert "chg_probe" in reloader.changed()


def test_importlib_reload_takes_a_new_stamp(hot_module):
    m = hot_module("chg_imp", V1)
    hot_module.write("chg_imp", V2)
    importlib.reload(m)
    assert m.f() == 2
    assert "chg_imp" not in reloader.changed()


def test_module_imported_behind_the_finder_is_stamped_when_first_seen(hot_module, tmp_path):
    path = tmp_path / "chg_side.py"
    path.write_text(V1)
    spec = importlib.util.spec_from_file_location("chg_side", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["chg_side"] = module
    try:
        spec.loader.exec_module(module)
        assert "chg_side" not in reloader.changed()  # stamped now, from the file
        path.write_text(V2)
        assert "chg_side" in reloader.changed()
    finally:
        del sys.modules["chg_side"]


def test_not_reloadable_modules_are_never_listed(hot_module):
    hot_module("chg_excl", V1)
    hot_module.write("chg_excl", V2)
    reloader.configure(exclude=["chg_excl"])
    assert "chg_excl" not in reloader.changed()
    reloader.configure()
    assert "chg_excl" in reloader.changed()


def test_digest_is_sha1_of_the_bytes():
    import hashlib
    assert _stamps.digest(b"x = 1\n") == hashlib.sha1(b"x = 1\n").digest()
    assert _stamps.digest(b"x = 1\n") != _stamps.digest(b"x = 2\n")


def test_read_source_reads_large_files_whole(tmp_path):
    path = tmp_path / "big.py"
    data = b"# padding\n" * 30_000  # several reads
    path.write_bytes(data)
    assert _stamps.read_source(str(path)) == data
    assert _stamps.read_source(str(tmp_path / "missing.py")) is None
    assert _stamps.read_source(str(tmp_path)) is None


def _run(code, cwd):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=str(cwd),
                          capture_output=True, text=True, timeout=120)


def test_modules_imported_before_reloader_are_stamped_at_its_import(tmp_path):
    (tmp_path / "early.py").write_text(V1)
    out = _run("""
        import sys
        sys.path.insert(0, ".")
        import early
        open("early.py", "w").write("def f():\\n    return 2\\n")   # before reloader
        import reloader
        print(reloader.changed())                                     # []: stamped now
        open("early.py", "w").write("def f():\\n    return 3\\n")
        print(reloader.changed())
        reloader.reload()
        print(early.f())
    """, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:3] == ["[]", "['early']", "3"]


@pytest.mark.parametrize("bad", [b"\xff\xfe not utf-8", b"def f(:\n"])
def test_broken_edit_is_listed_and_reload_changes_nothing(hot_module, bad):
    m = hot_module("chg_bad", V1)
    f = m.f
    hot_module.path("chg_bad").write_bytes(bad)
    assert "chg_bad" in reloader.changed()
    with pytest.raises(reloader.ReloadError) as info:
        reloader.reload()
    assert info.value.module == "chg_bad"
    assert m.f is f and f() == 1
    assert "chg_bad" in reloader.changed()


def test_the_main_script_is_never_listed_even_under_its_multiprocessing_alias(tmp_path):
    script = tmp_path / "main_script.py"
    script.write_text(textwrap.dedent("""
        import multiprocessing, sys   # aliases __main__ as __mp_main__
        import reloader
        assert sys.modules["__mp_main__"] is sys.modules["__main__"]
        with open(__file__, "a") as fh:
            fh.write("# edited\\n")
        print(reloader.changed())
        print(reloader.reload().modules)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["[]", "()"]


def test_a_module_under_a_second_name_is_listed_and_reloaded_once(hot_module):
    # sys.modules["compat"] = m: an old import path kept working
    m = hot_module("chg_alias", V1 + "RUNS = []\nRUNS.append(1)\n")
    f, runs = m.f, m.RUNS
    sys.modules["chg_alias_compat"] = m
    try:
        hot_module.write("chg_alias", V2 + "RUNS = []\nRUNS.append(2)\n")
        assert "chg_alias" in reloader.changed()
        assert "chg_alias_compat" not in reloader.changed()
        report = reloader.reload()
        assert report.modules.count("chg_alias") == 1
        assert "chg_alias_compat" not in report.modules
        assert m.f is f and f() == 2
        assert m.RUNS is runs and runs == [1]  # data kept; module code ran once
        # named by its second name, it is reloaded under its own
        hot_module.write("chg_alias", V1 + "RUNS = []\n")
        report = reloader.reload(["chg_alias_compat", "chg_alias"])
        assert report.modules == ("chg_alias",) and m.f is f and f() == 1
        assert sys.modules["chg_alias_compat"] is m
    finally:
        del sys.modules["chg_alias_compat"]
