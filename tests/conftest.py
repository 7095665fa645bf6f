"""Fixtures for the behaviour tests (SPEC §1 and §2).

``mods`` gives each test a fresh directory, first on ``sys.path``, and a
module-name prefix of its own (``rl7_``), so no two tests ever share a module.
In file names the prefix is added to the first path component
(``"pkg/sub.py"`` is the module ``rl7_pkg.sub``); in sources ``$name`` stands
for the prefixed name (``from $m import f`` is ``from rl7_m import f``).
Report entries are compared through ``mods.n("m.f")`` (``"rl7_m.f"``).
"""

from __future__ import annotations

import functools
import gc
import importlib
import itertools
import os
import re
import shutil
import sys
import textwrap
import types

import pytest

import reloader

_ids = itertools.count()
_TOKEN = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


class Mods:
    """Write, import, rewrite and reload modules of one test."""

    def __init__(self, root: str, prefix: str) -> None:
        self.root = root
        self.prefix = prefix
        # mtimes only ever move forward, a few seconds per write, so no
        # timestamp-based cache can serve an older version
        self._clock = int(os.stat(root).st_mtime) + 10

    # names ------------------------------------------------------------

    def n(self, short: str) -> str:
        """ "m.K.f" -> "rl7_m.K.f" """
        return self.prefix + short

    def ns(self, *shorts: str) -> tuple:
        return tuple(self.n(s) for s in shorts)

    def sub(self, text: str) -> str:
        return _TOKEN.sub(lambda mo: self.prefix + mo.group(1), text)

    def path(self, rel: str) -> str:
        first, _, rest = rel.partition("/")
        return os.path.join(self.root, self.prefix + first, *rest.split("/")) \
            if rest else os.path.join(self.root, self.prefix + first)

    def file_of(self, name: str) -> str:
        """The source file of module ``name`` (short name)."""
        parts = name.split(".")
        pkg = self.path("/".join(parts) + "/__init__.py")
        if os.path.exists(pkg):
            return pkg
        return self.path("/".join(parts) + ".py")

    # files ------------------------------------------------------------

    def write(self, files: dict, delete: tuple = ()) -> None:
        """Create or rewrite files {relpath: source}; sources are dedented
        and ``$name`` is substituted; bytes are written as they are."""
        self._clock += 3
        for rel, src in files.items():
            path = self.path(rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if isinstance(src, str):
                data = self.sub(textwrap.dedent(src).lstrip("\n")).encode("utf-8")
            else:
                data = bytes(src)
            with open(path, "wb") as fh:
                fh.write(data)
            os.utime(path, (self._clock, self._clock))
        for rel in delete:
            os.remove(self.path(rel))
        for dirpath, dirnames, _files in os.walk(self.root):
            if "__pycache__" in dirnames:
                shutil.rmtree(os.path.join(dirpath, "__pycache__"))
                dirnames.remove("__pycache__")
        importlib.invalidate_caches()

    def delete(self, *rels: str) -> None:
        self.write({}, delete=rels)

    def touch(self, rel: str) -> None:
        """Move a file's mtime forward without changing its content."""
        self._clock += 3
        os.utime(self.path(rel), (self._clock, self._clock))

    # modules ----------------------------------------------------------

    def imp(self, name: str) -> types.ModuleType:
        return importlib.import_module(self.n(name))

    def module(self, name: str, source: str) -> types.ModuleType:
        """Write module ``name`` (a top-level ``.py`` file) and import it."""
        self.write({name.replace(".", "/") + ".py": source})
        return self.imp(name)

    def reload(self, names, **kwargs) -> reloader.Report:
        """reloader.reload() on prefixed names: a str stays a str, a list a list."""
        if isinstance(names, str):
            return reloader.reload(self.n(names), **kwargs)
        return reloader.reload([self.n(x) for x in names], **kwargs)

    def update(self, name: str, source, **kwargs) -> reloader.Report:
        """Rewrite module ``name``'s file and reload it."""
        rel = os.path.relpath(self.file_of(name), self.root).replace(os.sep, "/")
        rel = rel[len(self.prefix):]
        self.write({rel: source})
        return self.reload(name, **kwargs)

    def fail(self, names, **kwargs) -> reloader.ReloadError:
        """Reload and expect ReloadError; return it."""
        with pytest.raises(reloader.ReloadError) as info:
            self.reload(names, **kwargs)
        check_error(info.value)
        return info.value

    # teardown ---------------------------------------------------------

    def cleanup(self) -> None:
        root = os.path.realpath(self.root)
        for name, mod in list(sys.modules.items()):
            file = getattr(mod, "__file__", None)
            inside = isinstance(file, str) and \
                os.path.realpath(file).startswith(root + os.sep)
            if name.startswith(self.prefix) or inside:
                del sys.modules[name]
        while self.root in sys.path:
            sys.path.remove(self.root)
        sys.path_importer_cache.pop(self.root, None)
        importlib.invalidate_caches()


@pytest.fixture
def mods(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    root = str(tmp_path / "src")
    os.mkdir(root)
    sys.path.insert(0, root)
    importlib.invalidate_caches()
    m = Mods(root, "rl%d_" % next(_ids))
    try:
        yield m
    finally:
        m.cleanup()


@pytest.fixture(autouse=True)
def _default_config():
    """Every test starts and ends with the default configure() rules."""
    reloader.configure()
    yield
    reloader.configure()


def check_error(exc: reloader.ReloadError) -> None:
    """What every ReloadError carries (SPEC §1)."""
    assert isinstance(exc, reloader.ReloadError)
    assert isinstance(exc.module, str) and exc.module, exc.module
    assert not reloader.reloading()
    # (``.report`` is checked by test_rollback / test_api_errors on its own)


# deep identity snapshots ----------------------------------------------


def _walk(obj, path, out, seen, modname):
    out[path] = obj
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, types.FunctionType):
        if obj.__module__ != modname:
            return
        for attr in ("__code__", "__defaults__", "__kwdefaults__", "__doc__",
                     "__name__", "__qualname__", "__annotations__", "__dict__"):
            out["%s.%s" % (path, attr)] = getattr(obj, attr)
        for k, v in list(obj.__dict__.items()):
            _walk(v, "%s.__dict__[%r]" % (path, k), out, seen, modname)
        for i, cell in enumerate(obj.__closure__ or ()):
            cpath = "%s.__closure__[%d:%s]" % (path, i, obj.__code__.co_freevars[i])
            out[cpath] = cell
            try:
                contents = cell.cell_contents
            except ValueError:
                continue
            _walk(contents, cpath + ".cell_contents", out, seen, modname)
    elif isinstance(obj, type):
        if obj.__module__ != modname:
            return
        out[path + ".__bases__"] = obj.__bases__
        out[path + ".__mro__"] = obj.__mro__
        out[path + ".<type>"] = type(obj)
        for k, v in list(obj.__dict__.items()):
            _walk(v, "%s.%s" % (path, k), out, seen, modname)
    elif isinstance(obj, (classmethod, staticmethod)):
        _walk(obj.__func__, path + ".__func__", out, seen, modname)
    elif isinstance(obj, property):
        for attr in ("fget", "fset", "fdel"):
            _walk(getattr(obj, attr), "%s.%s" % (path, attr), out, seen, modname)
    elif isinstance(obj, functools.cached_property):
        _walk(obj.func, path + ".func", out, seen, modname)
    elif type(obj) in (list, tuple):
        out[path + ".<items>"] = tuple(obj)
        for i, v in enumerate(obj):
            _walk(v, "%s[%d]" % (path, i), out, seen, modname)
    elif type(obj) is dict:
        out[path + ".<items>"] = tuple(obj.items())
        for k, v in list(obj.items()):
            _walk(v, "%s[%r]" % (path, k), out, seen, modname)
    elif type(obj) in (set, frozenset):
        out[path + ".<items>"] = frozenset(id(x) for x in obj)
    elif hasattr(obj, "__wrapped__") and not isinstance(obj, types.ModuleType):
        # lru_cache and other C wrappers
        _walk(obj.__wrapped__, path + ".__wrapped__", out, seen, modname)


class State:
    """Every object reachable from a module's globals that the module
    defines, recorded by identity: globals, function internals (code,
    defaults, closure cells and their contents, __dict__), class dicts,
    bases, MROs and metaclasses, container items."""

    def __init__(self, module: types.ModuleType) -> None:
        self.module = module
        self.dict = vars(module)
        self.keys = list(self.dict)
        self.items: dict = {}
        seen: set = set()
        for k, v in list(self.dict.items()):
            if k == "__builtins__":
                self.items[k] = v
                continue
            _walk(v, k, self.items, seen, module.__name__)

    def assert_same(self, module: types.ModuleType = None) -> None:
        module = self.module if module is None else module
        now = State(module)
        assert now.dict is self.dict, "module dict replaced"
        assert now.keys == self.keys, "global names changed: +%s -%s" % (
            sorted(set(now.keys) - set(self.keys)), sorted(set(self.keys) - set(now.keys)))
        diff = [p for p in set(self.items) | set(now.items)
                if p not in now.items or p not in self.items
                or not _same(now.items[p], self.items[p])]
        assert not diff, "changed: %s" % sorted(diff)[:20]


def _same(a, b) -> bool:
    if a is b:
        return True
    # a tuple/frozenset built by the snapshot itself: compare its items by identity
    if type(a) is tuple and type(b) is tuple and len(a) == len(b):
        return all(_same(x, y) for x, y in zip(a, b))
    if type(a) is frozenset and type(b) is frozenset:
        return a == b  # ids
    return False


@pytest.fixture
def snapshot():
    """snapshot(module) -> State; state.assert_same() after a failed batch."""
    return State


class World:
    """What a failed batch must leave as it was beside the modules."""

    def __init__(self) -> None:
        self.modules = dict(sys.modules)
        self.meta_path = list(sys.meta_path)
        self.gc_enabled = gc.isenabled()

    def assert_same(self) -> None:
        now = sys.modules
        for name, mod in self.modules.items():
            assert now.get(name) is mod, "sys.modules[%r] changed" % name
        assert len(sys.meta_path) == len(self.meta_path) and all(
            a is b for a, b in zip(sys.meta_path, self.meta_path)), sys.meta_path
        assert gc.isenabled() == self.gc_enabled
        assert not reloader.reloading()


@pytest.fixture
def world():
    """world() -> World; .assert_same() checks sys.modules, sys.meta_path, gc."""
    return World


HOSTILE_SOURCE = '''
CALLS = []


class Hostile:
    """An array- or proxy-like value: it refuses ==, !=, bool(), len() and
    hash(), and records every attempt (in case the caller swallows the error)."""

    def __init__(self, tag=""):
        self.tag = tag

    def _refuse(self, what):
        CALLS.append(what)
        raise AssertionError("reload used %s on a user value" % what)

    def __eq__(self, other):
        self._refuse("==")

    def __ne__(self, other):
        self._refuse("!=")

    def __bool__(self):
        self._refuse("bool")

    def __len__(self):
        self._refuse("len")

    def __hash__(self):
        self._refuse("hash")
'''


@pytest.fixture
def hostile(mods):
    """The module ``$hostile`` with class Hostile; check ``hostile.CALLS == []``."""
    mods.write({"hostile.py": HOSTILE_SOURCE})
    return mods.imp("hostile")


@pytest.fixture
def refused():
    """refused(target, module=None, **kwargs): reloader.reload(target) must
    raise ReloadError (naming ``module`` when given); returns the error."""

    def refused(target, module=None, **kwargs):
        with pytest.raises(reloader.ReloadError) as info:
            reloader.reload(target, **kwargs)
        check_error(info.value)
        if module is not None:
            assert info.value.module == module, info.value.module
        return info.value

    return refused
