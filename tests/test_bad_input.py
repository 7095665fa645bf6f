"""Bad input catalogue (issue 6.5): each case gets a clear error
(``ReloadError`` naming the module, with the original exception as
``__cause__`` where there is one; ``TypeError`` for wrong argument types; an
empty Report for an empty batch) and changes nothing: the module's globals
are the same objects, and ``sys.modules``, ``sys.meta_path`` and
``gc.isenabled()`` are as they were (the ``snapshot``/``world`` fixtures of
conftest.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import socket
import sys
import types

import pytest

import reloader

SOURCE = """\
X = [1, 2]

def f():
    return ("A", X)

class K:
    def m(self):
        return "A"
"""
NEW_SOURCE = SOURCE.replace('"A"', '"B"')


@pytest.fixture
def loaded(mods, snapshot, world):
    """A loaded module ``$m`` with functions, a class and data; returns
    (module, check) where check() asserts that nothing changed."""
    mod = mods.module("m", SOURCE)
    state, w = snapshot(mod), world()
    f, k = mod.f, mod.K()

    def check():
        state.assert_same()
        w.assert_same()
        assert f() == ("A", [1, 2]) and k.m() == "A", "old code no longer runs"
        assert sys.modules.get(mods.n("m")) is mod
    return mod, check


def refuse(target, module, cause=None, **kwargs) -> reloader.ReloadError:
    """reloader.reload(target) must raise ReloadError naming ``module``, with a
    ``__cause__`` of type ``cause`` when given."""
    with pytest.raises(reloader.ReloadError) as info:
        reloader.reload(target, **kwargs)
    err = info.value
    assert err.module == module, (err.module, module)
    assert str(err), "empty message"
    assert not reloader.reloading()
    if cause is not None:
        assert isinstance(err.__cause__, cause), repr(err.__cause__)
    return err


# ---------------------------------------------------------------- names


def test_name_that_is_not_loaded(mods, world):
    mods.write({"ghost.py": SOURCE})
    w = world()
    refuse(mods.n("ghost"), mods.n("ghost"))
    w.assert_same()
    assert mods.n("ghost") not in sys.modules, "the failed reload imported it"


def test_dotted_name_whose_parent_is_not_loaded(mods, world):
    w = world()
    refuse(mods.n("nopkg.sub"), mods.n("nopkg.sub"))
    w.assert_same()


def test_module_object_removed_from_sys_modules(mods, loaded):
    mod, check = loaded
    name = mods.n("m")
    del sys.modules[name]
    mods.write({"m.py": NEW_SOURCE})
    try:
        refuse(mod, name)
        refuse(name, name)
        assert name not in sys.modules, "the failed reload put the module back"
    finally:
        sys.modules[name] = mod
    check()


def test_module_object_replaced_in_sys_modules(mods, loaded):
    """The object passed is not the module loaded under its name."""
    mod, check = loaded
    name = mods.n("m")
    other = types.ModuleType(name)
    sys.modules[name] = other
    mods.write({"m.py": NEW_SOURCE})
    try:
        refuse(mod, name)
        assert sys.modules[name] is other and vars(other).keys() == {
            "__name__", "__doc__", "__package__", "__loader__", "__spec__"}
    finally:
        sys.modules[name] = mod
    check()


# --------------------------------------------------------- no source


def test_builtin_module_without_source(world):
    w = world()
    refuse("sys", "sys")
    refuse(sys, "sys")
    w.assert_same()


def test_extension_module_without_source(world):
    import _socket  # noqa: F401  (a C extension: a shared library or built in)
    w = world()
    refuse("_socket", "_socket")
    w.assert_same()


def test_sourceless_pyc_module(mods, world):
    """A module imported from a .pyc with no .py beside it."""
    import importlib
    import py_compile
    src = mods.path("pyconly.py")
    with open(src, "w") as fh:
        fh.write(SOURCE)
    py_compile.compile(src, cfile=mods.path("pyconly.pyc"), doraise=True)
    os.remove(src)
    importlib.invalidate_caches()
    mod = mods.imp("pyconly")
    assert mod.__file__.endswith(".pyc")
    w = world()
    refuse(mods.n("pyconly"), mods.n("pyconly"))
    refuse(mod, mods.n("pyconly"))
    w.assert_same()


def test_namespace_package_without_source(mods, world):
    os.makedirs(mods.path("nspkg"))
    import importlib
    importlib.invalidate_caches()
    mod = mods.imp("nspkg")
    assert getattr(mod, "__file__", None) is None
    w = world()
    refuse(mods.n("nspkg"), mods.n("nspkg"))
    w.assert_same()


def test_synthetic_module_in_sys_modules(world):
    name = "rl_bad_synthetic"
    mod = types.ModuleType(name)
    mod.X = 1
    sys.modules[name] = mod
    try:
        w = world()
        refuse(name, name)
        refuse(mod, name)
        w.assert_same()
        assert vars(mod)["X"] == 1
    finally:
        del sys.modules[name]


# ------------------------------------------------------------ the file


def test_deleted_source_file(mods, loaded):
    mod, check = loaded
    mods.delete("m.py")
    refuse(mods.n("m"), mods.n("m"), cause=FileNotFoundError)
    check()


def test_directory_where_the_file_was(mods, loaded):
    mod, check = loaded
    mods.delete("m.py")
    os.mkdir(mods.path("m.py"))
    refuse(mods.n("m"), mods.n("m"), cause=IsADirectoryError)
    check()


def test_socket_where_the_file_was(mods, loaded):
    """A path that exists but cannot be opened for reading, even by root."""
    mod, check = loaded
    mods.delete("m.py")
    path = mods.path("m.py")
    if len(path.encode()) > 100:
        pytest.skip("path too long for an AF_UNIX socket: %s" % path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        err = refuse(mods.n("m"), mods.n("m"), cause=OSError)
        assert err.__cause__.errno in (errno.ENXIO, errno.EOPNOTSUPP, errno.EACCES), \
            err.__cause__
    finally:
        sock.close()
    check()


def test_symlink_loop_where_the_file_was(mods, loaded):
    mod, check = loaded
    mods.delete("m.py")
    path = mods.path("m.py")
    os.symlink(os.path.basename(path), path)  # a link to itself
    err = refuse(mods.n("m"), mods.n("m"), cause=OSError)
    assert err.__cause__.errno == errno.ELOOP, err.__cause__
    check()


class _Caps(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


@contextlib.contextmanager
def _without_dac_override():
    """As root, drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from this
    thread's effective set (they stay permitted and are raised again after),
    so that file modes apply to root too. Skips when that is not possible."""
    if os.geteuid() != 0:
        yield
        return
    if not sys.platform.startswith("linux"):
        pytest.skip("running as root: file modes do not apply to root here")
    libc = ctypes.CDLL(None, use_errno=True)
    version3 = 0x20080522
    caps = (_Caps * 2)()
    if libc.capget(ctypes.byref(_CapHeader(version3, 0)), caps) != 0:
        pytest.skip("running as root and capget() failed: cannot drop CAP_DAC_OVERRIDE")
    saved = caps[0].effective
    caps[0].effective &= ~((1 << 1) | (1 << 2))  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
    if libc.capset(ctypes.byref(_CapHeader(version3, 0)), caps) != 0:
        pytest.skip("running as root and capset() failed: cannot drop CAP_DAC_OVERRIDE")
    try:
        yield
    finally:
        caps[0].effective = saved
        assert libc.capset(ctypes.byref(_CapHeader(version3, 0)), caps) == 0


def test_unreadable_file(mods, loaded):
    """chmod 000; as root, with the capabilities that bypass file modes
    dropped for the duration of the reload."""
    mod, check = loaded
    mods.write({"m.py": NEW_SOURCE})
    path = mods.path("m.py")
    os.chmod(path, 0)
    try:
        with _without_dac_override():
            try:
                open(path, "rb").close()
            except PermissionError:
                pass
            else:
                pytest.skip("this process can read a mode-000 file")
            refuse(mods.n("m"), mods.n("m"), cause=PermissionError)
    finally:
        os.chmod(path, 0o644)
    check()


# ------------------------------------------------------------ contents


@pytest.mark.parametrize("data", [
    b"# -*- coding: no-such-codec -*-\nX = 2\n",
    b"# coding: utf-8\nX = '\xff\xfe'\n",
    b"# coding: ascii\nX = '\xc3\xa9'\n",
    b"\xef\xbb\xbf# coding: latin-1\nX = 2\n",
], ids=["unknown-codec", "bad-utf8", "non-ascii-under-ascii", "bom-vs-latin1"])
def test_wrong_encoding_declaration(mods, loaded, data):
    mod, check = loaded
    mods.write({"m.py": data})
    refuse(mods.n("m"), mods.n("m"), cause=(SyntaxError, UnicodeError))
    check()


def test_nul_byte(mods, loaded):
    mod, check = loaded
    mods.write({"m.py": NEW_SOURCE.encode() + b"Y = 1\x00\n"})
    # SyntaxError on 3.12+, ValueError on 3.10 and 3.11
    refuse(mods.n("m"), mods.n("m"), cause=(SyntaxError, ValueError))
    check()


def test_source_that_recurses_without_end(mods, loaded):
    mod, check = loaded
    mods.write({"m.py": NEW_SOURCE + "def down(n):\n    return down(n + 1)\ndown(0)\n"})
    refuse(mods.n("m"), mods.n("m"), cause=RecursionError)
    check()


def test_source_too_deep_to_compile(mods, loaded):
    mod, check = loaded
    mods.write({"m.py": NEW_SOURCE + "Y = " + "-" * 300000 + "1\n"})
    refuse(mods.n("m"), mods.n("m"), cause=(RecursionError, MemoryError, SyntaxError))
    check()


def test_source_that_reloads_itself_at_import(mods, loaded):
    mod, check = loaded
    mods.write({"m.py": NEW_SOURCE + "import reloader\nreloader.reload(__name__)\n"})
    refuse(mods.n("m"), mods.n("m"), cause=Exception)
    check()


def test_source_that_imports_itself_in_a_cycle(mods, loaded):
    """``m`` imports ``n`` which imports ``m``: fine at import; the reload
    of both must not recurse either (and applies, as the cycle is legal)."""
    mod, check = loaded
    mods.write({"n.py": "from $m import X\nimport $m\ndef g():\n    return $m.f()\n"})
    mods.write({"m.py": NEW_SOURCE + "import $n\n"})
    report = mods.reload(["m"])
    assert report.modules[0] == mods.n("m")
    assert mod.f() == ("B", [1, 2])


FIFTY_MB = 50 * 1024 * 1024


def _big(source: str, tail: str = "") -> bytes:
    pad = b"# " + b"x" * 1000 + b"\n"
    body = source.encode() + b"BIG = '" + b"y" * (FIFTY_MB // 2) + b"'\n"
    body += pad * ((FIFTY_MB - len(body)) // len(pad))
    return body + tail.encode()


def test_fifty_megabyte_source(mods, loaded):
    """A valid 50 MB source applies (or is refused cleanly); nothing crashes."""
    mod, _check = loaded
    data = _big(NEW_SOURCE)
    assert len(data) >= FIFTY_MB - 2000
    mods.write({"m.py": data})
    try:
        report = reloader.reload(mods.n("m"))
    except reloader.ReloadError as err:
        assert err.module == mods.n("m") and err.__cause__ is not None
        _check()
    else:
        assert mods.n("m.f") in report.updated
        assert mod.f() == ("B", [1, 2]) and len(mod.BIG) == FIFTY_MB // 2
        del mod.BIG


def test_fifty_megabyte_source_with_an_error_at_the_end(mods, loaded):
    mod, check = loaded
    data = _big(NEW_SOURCE, "def broken(:\n")
    mods.write({"m.py": data})
    err = refuse(mods.n("m"), mods.n("m"), cause=SyntaxError)
    assert err.__cause__.lineno == data.count(b"\n"), err.__cause__.lineno
    check()


# ------------------------------------------------------ odd module objects


def test_module_whose_dict_was_cleared(mods, world):
    mod = mods.module("m", SOURCE)
    vars(mod).clear()
    mods.write({"m.py": NEW_SOURCE})
    w = world()
    refuse(mods.n("m"), mods.n("m"))
    # by object: the module has no __name__ left to name it by
    with pytest.raises((reloader.ReloadError, TypeError)):
        reloader.reload(mod)
    w.assert_same()
    assert vars(mod) == {}


def test_module_replaced_by_a_copy_with_another_dict(mods, snapshot, world):
    """sys.modules[name] is a new module object whose dict is a copy: the
    functions' __globals__ are not the module's dict any more. Patching them
    would leave functions that cannot see the module's new globals; the
    reload must be refused."""
    mod = mods.module("m", SOURCE)
    name = mods.n("m")
    copy = types.ModuleType(name)
    vars(copy).update(vars(mod))
    sys.modules[name] = copy
    state, w = snapshot(copy), world()
    mods.write({"m.py": SOURCE.replace("return (\"A\", X)", "return (\"B\", Y)")
                + "Y = 'new'\n"})
    refuse(name, name)
    state.assert_same()
    w.assert_same()
    assert copy.f() == ("A", [1, 2])


_MD_DICT_OFFSET = object.__basicsize__  # PyModuleObject: PyObject_HEAD, md_dict


def test_module_whose_dict_object_was_swapped(mods, snapshot, world):
    """The module object stays, but its md_dict is another dict (what a C
    extension or ctypes can do): functions' __globals__ is the old dict."""
    mod = mods.module("m", SOURCE)
    old = vars(mod)
    new = dict(old)
    slot = ctypes.c_void_p.from_address(id(mod) + _MD_DICT_OFFSET)
    assert slot.value == id(old)
    # the module's reference to ``old`` is parked (not released) while it
    # points at ``new``, and becomes the module's again when it points back
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(new))
    slot.value = id(new)
    try:
        assert vars(mod) is new
        state, w = snapshot(mod), world()
        mods.write({"m.py": SOURCE.replace("return (\"A\", X)", "return (\"B\", Y)")
                    + "Y = 'new'\n"})
        refuse(mods.n("m"), mods.n("m"))
        state.assert_same()
        w.assert_same()
        assert mod.f() == ("A", [1, 2])
    finally:
        slot.value = id(old)
        ctypes.pythonapi.Py_DecRef(ctypes.py_object(new))


# ------------------------------------------------------ argument types


@pytest.mark.parametrize("bad", [
    42, 4.2, b"m", bytearray(b"m"), object(), {1: 2}, [None], [42],
    [b"m"], (3,), {4.5},
], ids=lambda v: type(v).__name__ + ("-" + type(next(iter(v))).__name__
                                      if isinstance(v, (list, tuple, set, dict)) else ""))
def test_non_string_names(loaded, bad):
    mod, check = loaded
    with pytest.raises(TypeError):
        reloader.reload(bad)
    assert not reloader.reloading()
    check()


def test_valid_name_beside_a_bad_one_is_not_reloaded(mods, loaded):
    mod, check = loaded
    mods.write({"m.py": NEW_SOURCE})
    for batch in ([mods.n("m"), 42], [mod, None], (mods.n("m"), b"x")):
        with pytest.raises(TypeError):
            reloader.reload(batch)
    check()


@pytest.mark.parametrize("make", [list, tuple, set, frozenset, lambda: iter(()),
                                  lambda: (x for x in ())],
                         ids=["list", "tuple", "set", "frozenset", "iterator", "generator"])
def test_empty_batch(mods, loaded, make):
    """An empty batch reloads nothing, even with changed sources around (it
    is not ``reload()``), and returns an empty Report."""
    mod, check = loaded
    mods.write({"m.py": NEW_SOURCE})
    report = reloader.reload(make())
    assert isinstance(report, reloader.Report)
    d = report.as_dict()
    assert all(d[k] == [] for k in d if k != "duration"), d
    assert report.duration >= 0
    check()
