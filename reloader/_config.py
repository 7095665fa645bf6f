"""Which modules may be reloaded, and where their source lives."""

from __future__ import annotations

import os
import site
import sys
import sysconfig
import types
import zipimport
from typing import Dict, Iterable, List, Optional, Tuple, Union

_Spec = Union[None, str, "os.PathLike[str]", Iterable[Union[str, "os.PathLike[str]"]]]

# (module-name prefixes, filesystem roots); None means "not configured"
_include: Optional[Tuple[Tuple[str, ...], Tuple[str, ...]]] = None
_exclude: Tuple[Tuple[str, ...], Tuple[str, ...]] = ((), ())


def _system_roots() -> Tuple[str, ...]:
    roots = set()
    paths = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        if paths.get(key):
            roots.add(paths[key])
    for getter in (getattr(site, "getsitepackages", None),):
        if getter is not None:
            try:
                roots.update(getter())
            except Exception:  # virtualenv's old site.py lacks it
                pass
    user = getattr(site, "getusersitepackages", None)
    if user is not None:
        try:
            roots.add(user())
        except Exception:
            pass
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        roots.add(os.path.join(prefix, "lib", "python%d.%d" % sys.version_info[:2]))
    return tuple(sorted(_real_dir(r) for r in roots if r))


def _real_dir(path: str) -> str:
    return os.path.join(os.path.realpath(path), "")


_SYSTEM_ROOTS = _system_roots()


def _split(spec: _Spec, what: str) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    if spec is None:
        return ((), ())
    if isinstance(spec, (str, os.PathLike)):
        items: List[object] = [spec]
    else:
        try:
            items = list(spec)  # type: ignore[arg-type]
        except TypeError:
            raise TypeError("%s must be a string, a path or an iterable of them, not %s"
                            % (what, type(spec).__name__)) from None
    prefixes, roots = [], []
    for item in items:
        if isinstance(item, os.PathLike):
            item = os.fspath(item)
        if not isinstance(item, str) or not item:
            raise TypeError("%s entries must be non-empty strings or paths, not %r"
                            % (what, item))
        if os.sep in item or (os.altsep and os.altsep in item) or os.path.isdir(item):
            roots.append(_real_dir(item))
        else:
            prefixes.append(item)
    return tuple(prefixes), tuple(roots)


def configure(include: _Spec = None, exclude: _Spec = None) -> None:
    """Choose which modules may be reloaded.

    Entries are module-name prefixes (``"game"`` covers ``game`` and
    ``game.weapon``) or filesystem roots (anything with a path separator, or an
    existing directory). ``include`` replaces the default rule (every ``.py``
    module outside the standard library and site-packages); ``exclude`` always
    wins. ``configure()`` with no arguments restores the default.
    """
    global _include, _exclude
    inc = _split(include, "include")
    exc = _split(exclude, "exclude")
    _include = inc if include is not None else None
    _exclude = exc
    forget_real_paths()


def source_path(module: types.ModuleType) -> Optional[str]:
    """The ``.py`` file a module was loaded from, or None."""
    spec = getattr(module, "__spec__", None)
    origin = getattr(spec, "origin", None) if spec is not None else None
    if origin in ("frozen", "built-in") or \
            isinstance(getattr(spec, "loader", None), zipimport.zipimporter):
        # Frozen stdlib modules have a __file__ (3.11+), and a zipped
        # module's names a file inside the archive: neither ran from it.
        return None
    if not (isinstance(origin, str) and getattr(spec, "has_location", False)):
        origin = getattr(module, "__file__", None)
    if isinstance(origin, str) and origin.endswith(".py"):
        return origin
    return None


# source path -> its realpath(). Every reload classifies each module of its
# batch, and realpath() costs a system call per path component (B2: 14% of
# a 100-module batch). Symbolic links that change under a running program
# are seen after configure() or importlib.invalidate_caches().
_real_paths: Dict[str, str] = {}


def real_path(path: str) -> str:
    """``os.path.realpath(path)``, remembered."""
    real = _real_paths.get(path)
    if real is None:
        real = _real_paths[path] = os.path.realpath(path)
    return real


def forget_real_paths() -> None:
    _real_paths.clear()


def _matches(name: str, path: str, rules: Tuple[Tuple[str, ...], Tuple[str, ...]]) -> bool:
    prefixes, roots = rules
    for p in prefixes:
        if name == p or name.startswith(p + "."):
            return True
    if roots:
        real = real_path(path)
        for r in roots:
            if real.startswith(r):
                return True
    return False


def why_not(name: str, module: object) -> Optional[str]:
    """Why ``module`` (loaded as ``name``) may not be reloaded, or None."""
    if name in ("__main__", "__mp_main__") or module is sys.modules.get("__main__"):
        # multiprocessing aliases __main__ as __mp_main__: the same script
        return "__main__ cannot be reloaded"
    if name == "reloader" or name.startswith("reloader."):
        return "reloader does not reload itself"
    if not isinstance(module, types.ModuleType):
        return "sys.modules[%r] is not a module" % name
    path = source_path(module)
    if path is None:
        return "module %s has no Python source (builtin, extension or frozen)" % name
    if _matches(name, path, _exclude):
        return "module %s is excluded by reloader.configure()" % name
    if _include is not None:
        if not _matches(name, path, _include):
            return "module %s is outside the roots given to reloader.configure()" % name
        return None
    real = real_path(path)
    for root in _SYSTEM_ROOTS:
        if real.startswith(root):
            return "module %s belongs to the standard library or site-packages" % name
    return None
