"""Source stamps: which source each module is running, by content.

A stamp is the path and the digest (SHA-1) of the source bytes a module
was last executed from. It is taken

- at import, for modules imported after reloader: a finder at the front of
  ``sys.meta_path`` hashes the file that the import is about to execute;
- at reload, by ``_api`` (``record``), from the very bytes it compiled;
- when reloader is imported, for modules imported before it
  (``stamp_loaded``): from the file as it is then, so an edit made between
  their import and reloader's is not seen.

``changed()`` compares the digest of each file on disk with its stamp: a file
that was only touched is not listed, a same-size edit within the same second
is.
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from hashlib import sha1
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from . import _config


class Stamp(NamedTuple):
    path: str
    digest: bytes
    # The module object the stamp describes, bound when first seen loaded:
    # a module imported again behind our finder's back gets a fresh stamp.
    module: Optional["weakref.ReferenceType[ModuleType]"]


# module name -> Stamp. The import-time finder writes without the lock (it
# must stay cheap, and the import system serialises imports of one module);
# the lock keeps the watcher's thread from overwriting a stamp that a reload
# on another thread has just recorded.
_stamps: Dict[str, Stamp] = {}
_lock = threading.Lock()

_CHUNK = 1 << 16  # below malloc's mmap threshold


def digest(data: bytes) -> bytes:
    """The content digest used for stamps and for ``_api.precompiled``.
    SHA-1 is the fastest hashlib digest here (OpenSSL, about twice blake2b);
    it detects edits, it does not defend against anyone."""
    return sha1(data, usedforsecurity=False).digest()


def read_source(path: str) -> Optional[bytes]:
    """The bytes of ``path``, or None when it cannot be read (gone, a directory...)."""
    # os.open/os.read, one read for a small file: this runs at every import,
    # where open() and a read to EOF cost half as much again.
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    try:
        data = os.read(fd, _CHUNK)
        if len(data) < _CHUNK:  # a regular file reads short only at its end
            return data
        chunks = [data]
        while data:
            data = os.read(fd, _CHUNK)
            chunks.append(data)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def file_digest(path: str) -> Optional[bytes]:
    data = read_source(path)
    return None if data is None else digest(data)


def record(name: str, path: str, dig: bytes) -> None:
    """Note that ``name`` now runs the source whose digest is ``dig``."""
    module = sys.modules.get(name)
    ref = weakref.ref(module) if isinstance(module, ModuleType) else None
    with _lock:
        _stamps[name] = Stamp(path, dig, ref)


def stamp_of(name: str) -> Optional[Stamp]:
    return _stamps.get(name)


def current(name: str, module: object) -> Optional[Stamp]:
    """The stamp of the loaded ``module``, taken now if it has none that fits."""
    path = _config.source_path(module)  # type: ignore[arg-type]
    if path is None:
        return None
    st = _stamps.get(name)
    if st is not None and st.path == path and st.module is not None and \
            st.module() is module:
        return st
    if st is not None and st.path == path and st.module is None:
        # stamped at its import, seen loaded for the first time
        fresh = st._replace(module=weakref.ref(module))  # type: ignore[arg-type]
    else:
        # Never seen, or loaded again behind our finder's back
        # (spec_from_file_location, a finder ahead of ours): the file as it
        # is now is the best account of what runs.
        dig = file_digest(path)
        if dig is None:
            return None
        fresh = Stamp(path, dig, weakref.ref(module))  # type: ignore[arg-type]
    with _lock:
        if _stamps.get(name) is st:  # unless a reload recorded one meanwhile
            _stamps[name] = fresh
        return _stamps[name]


def own_name(name: str, module: object) -> str:
    """The name a module is reloaded under. A module that sys.modules also
    holds under another key (``sys.modules["compat"] = m``, an old import
    path kept working) is one module: it runs once per batch, under the
    name it was loaded as, so that its definitions are paired once."""
    spec = getattr(module, "__spec__", None)
    for own in (getattr(spec, "name", None), getattr(module, "__name__", None)):
        if isinstance(own, str) and own != name and sys.modules.get(own) is module:
            return own
    return name


def reloadable(name: str, module: object) -> bool:
    """What _config.why_not allows, under the module's own name only (see
    own_name), and not the main script under another name: ``import
    multiprocessing`` (which watchfiles does) aliases it as ``__mp_main__``,
    and reloading that would run the whole script again."""
    if name == "__mp_main__" or module is sys.modules.get("__main__"):
        return False
    return _config.why_not(name, module) is None and own_name(name, module) == name


def _reloadable() -> List[Tuple[str, object]]:
    return [(name, module) for name, module in list(sys.modules.items())
            if reloadable(name, module)]


def stamp_loaded() -> None:
    """Stamp every loaded, reloadable module that has no stamp yet."""
    for name, module in _reloadable():
        current(name, module)


def changed() -> List[str]:
    """Names of loaded, reloadable modules whose source file differs, by
    content, from the code that is running. A module whose file is gone is
    not listed."""
    out = []
    for name, module in _reloadable():
        st = current(name, module)
        if st is None:
            continue
        dig = file_digest(st.path)
        if dig is not None and dig != st.digest:
            out.append(name)
    return out


# import-time stamping ****************************************************


class _ImportStamper:
    """A ``sys.meta_path`` finder that finds nothing itself: it asks the
    finders behind it, and when one returns the spec of a ``.py`` file outside
    the standard library and site-packages, hashes that file before the import
    executes it. It returns the spec unchanged, so the module's loader, and
    everything that looks at it, is the one it would have been."""

    def __init__(self) -> None:
        # directory -> whether modules in it are stamped; directories are few,
        # so the realpath() that classifying one takes is paid once each
        self._dirs: Dict[str, bool] = {}

    def find_spec(self, name: str, path: Optional[Sequence[str]] = None,
                  target: Optional[ModuleType] = None) -> Optional[ModuleSpec]:
        finders = sys.meta_path
        try:
            start = finders.index(self) + 1
        except ValueError:
            return None
        for finder in finders[start:]:
            find_spec = getattr(finder, "find_spec", None)
            if find_spec is None:
                # A legacy finder (find_module only): the import system must
                # consult it in its turn, so we step aside.
                return None
            spec = find_spec(name, path, target)
            if spec is not None:
                self._stamp(name, spec, target)
                return spec
        return None

    def _stamp(self, name: str, spec: ModuleSpec, target: Optional[ModuleType]) -> None:
        origin = spec.origin
        if not (spec.has_location and isinstance(origin, str) and origin.endswith(".py")):
            return
        if target is None and name in sys.modules:
            # A probe (importlib.util.find_spec and friends) of a loaded
            # module, not an import: its stamp must describe what runs.
            # importlib.reload() passes the module as target and is stamped.
            return
        folder = os.path.dirname(origin)
        wanted = self._dirs.get(folder)
        if wanted is None:
            wanted = self._dirs[folder] = _stamped_folder(folder)
        if wanted:
            data = read_source(origin)
            if data is not None:
                _stamps[name] = Stamp(origin, digest(data), None)

    def invalidate_caches(self) -> None:
        # importlib.invalidate_caches(): files or links may have moved
        self._dirs.clear()
        _config.forget_real_paths()


def _stamped_folder(folder: str) -> bool:
    """Whether modules imported from ``folder`` are stamped at import: not
    reloader's own, and not in the standard library or site-packages, where
    configure() refuses by default (a module that configure(include=...) lets
    in later is stamped the first time changed() sees it)."""
    real = os.path.join(os.path.realpath(folder), "")
    if real == _OWN_FOLDER:
        return False
    return not any(real.startswith(root) for root in _config._SYSTEM_ROOTS)


_OWN_FOLDER = os.path.join(os.path.realpath(os.path.dirname(__file__)), "")


def _install() -> None:
    for finder in sys.meta_path:
        if type(finder).__name__ == _ImportStamper.__name__ and \
                type(finder).__module__ == __name__:
            return  # this module was executed again (importlib.reload)
    sys.meta_path.insert(0, _ImportStamper())


# Installed when reloader is imported, so that every module imported from now
# on is stamped at its import and an edit made before the first changed()
# call is still seen.
_install()
