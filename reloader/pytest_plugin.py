"""pytest plugin (entry point ``pytest11``): the ``hot_module`` fixture.

::

    def test_sword(hot_module):
        weapon = hot_module("game.weapon", "def damage():\\n    return 1\\n")
        damage = weapon.damage
        report = hot_module.update("game.weapon", "def damage():\\n    return 2\\n")
        assert damage() == 2 and "game.weapon.damage" in report.updated
"""

from __future__ import annotations

import importlib
import importlib.util
import keyword
import linecache
import os
import sys
import textwrap
import types
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterator, List

import pytest

if TYPE_CHECKING:
    from reloader import Report

# reloader itself is imported by the fixture, not here: a session that never
# uses hot_module should not pay for stamping every import.


class HotModules:
    """Writes modules into a directory of its own, first on ``sys.path``.

    ``hot_module(name, source)`` writes the module (and ``__init__.py`` files
    for the packages above it) and imports it; ``hot_module.update(name,
    source)`` rewrites it and reloads it with ``reloader.reload``;
    ``hot_module.write(name, source)`` only rewrites it, for batches and
    watchers. Sources are dedented.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: Dict[str, Path] = {}  # module name -> its source file
        self._tops: List[str] = []  # top-level names this fixture owns
        sys.path.insert(0, str(root))
        importlib.invalidate_caches()

    def __call__(self, name: str, source: str) -> types.ModuleType:
        """Write module ``name`` and import it."""
        _check_name(name)
        if name in self._files:
            raise ValueError("hot_module: %s already exists in this test (as a module, "
                             "or as the package of one); change it with "
                             "hot_module.update()" % name)
        top = name.partition(".")[0]
        if top not in self._tops and top in sys.modules:
            raise ValueError("hot_module: %r is already imported from elsewhere (%s); "
                             "pick another name" % (top, getattr(sys.modules[top], "__file__", "?")))
        data = _text(source)
        path = self._write(name, data, new=True)
        if top not in self._tops:
            self._tops.append(top)
        try:
            return importlib.import_module(name)
        except BaseException:
            # a source that does not import leaves no module behind to update
            del self._files[name]
            path.unlink()
            raise

    def write(self, name: str, source: str) -> Path:
        """Rewrite the file of module ``name`` (created by this fixture)
        without reloading it; return its path."""
        self._known(name)
        return self._write(name, _text(source), new=False)

    def update(self, name: str, source: str, **kwargs: bool) -> "Report":
        """Rewrite module ``name`` and reload it (``kwargs`` go to
        ``reloader.reload``: ``strict``, ``recursive``). When the reload
        fails, the file is put back as it was and ReloadError propagates."""
        import reloader

        path = self._known(name)
        old = path.read_bytes()
        self._write(name, _text(source), new=False)
        try:
            return reloader.reload(name, **kwargs)
        except BaseException:
            self._put(path, old)
            raise

    def path(self, name: str) -> Path:
        """The source file of module ``name``."""
        return self._known(name)

    # files *****************************************************************

    def _known(self, name: str) -> Path:
        if not isinstance(name, str):
            raise TypeError("hot_module: module name must be a str, not %s"
                            % type(name).__name__)
        try:
            return self._files[name]
        except KeyError:
            raise ValueError("hot_module: %s was not created by hot_module() in "
                             "this test" % name) from None

    def _write(self, name: str, data: bytes, new: bool) -> Path:
        if new:
            path = self._place(name)
            self._files[name] = path
        else:
            path = self._files[name]
        self._put(path, data)
        return path

    def _place(self, name: str) -> Path:
        """Where module ``name`` goes; create the packages above it."""
        parts = name.split(".")
        folder = self.root
        for i, part in enumerate(parts[:-1]):
            folder = folder / part
            package = ".".join(parts[:i + 1])
            if (folder.parent / (part + ".py")).exists():
                raise ValueError("hot_module: %s is a plain module, it cannot hold %s"
                                 % (package, name))
            if not folder.is_dir():
                folder.mkdir()
                self._put(folder / "__init__.py", b"")
                self._files[package] = folder / "__init__.py"
        leaf = folder / parts[-1]
        # a name that is already a package (created for a submodule) gets
        # its __init__.py written
        return leaf / "__init__.py" if leaf.is_dir() else leaf.with_suffix(".py")

    def _put(self, path: Path, data: bytes) -> None:
        before = path.stat() if path.exists() else None
        path.write_bytes(data)
        if before is not None:
            # A timestamp pyc is valid while the source's mtime (in whole
            # seconds) and size match: a same-size rewrite within the same
            # second would import stale code. Drop the pyc and move the mtime
            # on, so neither the import system nor linecache trust old state.
            bump = max(before.st_mtime_ns, path.stat().st_mtime_ns) + 2_000_000_000
            os.utime(path, ns=(bump, bump))
            try:
                os.remove(importlib.util.cache_from_source(str(path)))
            except OSError:
                pass
        linecache.checkcache(str(path))
        importlib.invalidate_caches()

    # teardown **************************************************************

    def close(self) -> None:
        """Unload every module loaded from the directory, and take the
        directory off ``sys.path``."""
        root = os.path.join(os.path.realpath(self.root), "")
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            inside = isinstance(file, str) and os.path.realpath(file).startswith(root)
            if inside or name in self._files:
                del sys.modules[name]
        while str(self.root) in sys.path:
            sys.path.remove(str(self.root))
        sys.path_importer_cache.pop(str(self.root), None)
        for path in self._files.values():
            linecache.cache.pop(str(path), None)
        importlib.invalidate_caches()


def _check_name(name: object) -> None:
    if not isinstance(name, str):
        raise TypeError("hot_module: module name must be a str, not %s" % type(name).__name__)
    parts = name.split(".")
    if not all(p.isidentifier() and not keyword.iskeyword(p) for p in parts):
        raise ValueError("hot_module: %r is not a dotted module name" % (name,))


def _text(source: object) -> bytes:
    if not isinstance(source, str):
        raise TypeError("hot_module: source must be a str, not %s" % type(source).__name__)
    return textwrap.dedent(source).encode("utf-8")


@pytest.fixture
def hot_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HotModules]:
    """Write importable modules and reload them: see HotModules."""
    import reloader  # noqa: F401  (first, so the modules written are stamped at import)

    modules = HotModules(tmp_path_factory.mktemp("hot_module"))
    try:
        yield modules
    finally:
        modules.close()
