"""Adapters: each one applies an edit that is already on disk.

All adapters of a scenario live in one process; each owns its own copy of
the benchmark modules (its own module names and files), so no adapter sees
another's objects. A *target* is ``(module_name, path)``.

``run(targets)`` is the timed call. It returns the namespaces to check: the
live module dicts for reloaders, fresh dicts for the floors. Anything that
must not be timed (pre-compiling for the "code compiled" columns) happens in
``prepare(targets)``.
"""

from __future__ import annotations

import builtins
import importlib
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

Target = Tuple[str, str]


class Unavailable(Exception):
    """The implementation behind an adapter cannot run here."""


class Adapter:
    name = "?"
    kind = "peer"           # "reloader", "peer" or "floor"
    imports = True          # its targets are imported as modules

    def check(self) -> None:
        """Raise Unavailable when the implementation cannot be used."""

    def setup(self, root: str, targets: Sequence[Target]) -> None:
        """After the first version is written, before the targets are imported."""

    def imported(self, targets: Sequence[Target]) -> None:
        """After the targets are imported."""

    def prepare(self, targets: Sequence[Target]) -> None:
        """After each write, outside the timing."""

    def run(self, targets: Sequence[Target]) -> List[dict]:
        raise NotImplementedError

    def note(self) -> str:
        """Anything worth showing beside the numbers (fallbacks, ...)."""
        return ""


def _module_dicts(targets):
    return [sys.modules[name].__dict__ for name, _ in targets]


# -- reloader ---------------------------------------------------------------

class Reloader(Adapter):
    name = "reloader"
    kind = "reloader"

    def __init__(self) -> None:
        self.reaped: List[int] = []  # reaper CPU ns after each run
        self._mark: Optional[int] = None

    def prepare(self, targets):
        # the last run's leftovers, freed by the reaper thread after it
        # returned: waited for here, outside any timing, and counted
        from reloader import _api
        if self._mark is not None:
            _api._reaper.wait_idle(60)
            self.reaped.append(int(_api._reaper.busy_s * 1e9) - self._mark)
            self._mark = None

    def check(self):
        try:
            import reloader  # noqa: F401
            from reloader import _core  # noqa: F401
        except Exception as exc:  # not built yet
            raise Unavailable("reloader: %s: %s" % (type(exc).__name__, exc))

    def run(self, targets):
        from reloader import _api
        self._mark = int(_api._reaper.busy_s * 1e9)
        self.last = sys.modules["reloader"].reload([name for name, _ in targets])
        return _module_dicts(targets)

    def note(self):
        if not any(self.reaped):
            return ""
        ms = sorted(self.reaped)[len(self.reaped) // 2] / 1e6
        return "then %.2f ms CPU (median) on its reaper thread, freeing unused new code" % ms


class ReloaderCompiled(Reloader):
    """reloader with the new code offered through precompiled() outside the
    timing, with the source bytes it was compiled from, as the watcher
    offers it: the timed call still reads the file and compares its bytes."""
    name = "reloader (code compiled)"

    def prepare(self, targets):
        super().prepare(targets)
        from reloader import _api, _stamps
        for name, _ in targets:
            path = sys.modules[name].__spec__.origin
            with open(path, "rb") as fh:
                data = fh.read()
            code = compile(data, path, "exec", dont_inherit=True)
            _api.precompiled(path, _stamps.digest(data), code, data)


# -- peers ------------------------------------------------------------------

class Importlib(Adapter):
    name = "importlib.reload"

    def run(self, targets):
        for name, _ in targets:
            importlib.reload(sys.modules[name])
        return _module_dicts(targets)


class SuperReload(Adapter):
    name = "IPython superreload"

    def check(self):
        try:
            from IPython.extensions.autoreload import superreload  # noqa: F401
        except Exception as exc:
            raise Unavailable("IPython: %s" % exc)

    def setup(self, root, targets):
        from IPython.extensions.autoreload import superreload
        self.superreload = superreload
        self.old_objects: Dict = {}

    def run(self, targets):
        for name, _ in targets:
            self.superreload(sys.modules[name], old_objects=self.old_objects)
        return _module_dicts(targets)


class DeduperReload(Adapter):
    """IPython's newer deduperreload, as %autoreload uses it: patch in place
    when the AST diff allows, else fall back to superreload."""
    name = "IPython deduperreload"

    def check(self):
        try:
            from IPython.extensions.deduperreload.deduperreload import DeduperReloader  # noqa
        except Exception as exc:
            raise Unavailable("IPython deduperreload: %s" % exc)

    def setup(self, root, targets):
        from IPython.extensions.autoreload import superreload
        from IPython.extensions.deduperreload.deduperreload import DeduperReloader
        self.superreload = superreload
        self.deduper = DeduperReloader()
        self.old_objects: Dict = {}
        self.fallbacks = 0
        self.calls = 0

    def imported(self, targets):
        # what autoreload does after each cell: remember the sources
        for name, path in targets:
            with open(path, encoding="utf-8") as fh:
                self.deduper.source_by_modname[name] = fh.read()

    def run(self, targets):
        for name, _ in targets:
            m = sys.modules[name]
            self.calls += 1
            if not self.deduper.maybe_reload_module(m):
                self.fallbacks += 1
                self.superreload(m, old_objects=self.old_objects)
        return _module_dicts(targets)

    def note(self):
        if self.fallbacks:
            return "fell back to superreload %d/%d" % (self.fallbacks, self.calls)
        return ""


class Jurigged(Adapter):
    name = "jurigged"

    def check(self):
        try:
            import jurigged  # noqa: F401
        except Exception as exc:
            raise Unavailable("jurigged: %s" % exc)

    def setup(self, root, targets):
        from jurigged import registry
        paths = {os.path.realpath(p) for _, p in targets}
        self.registry = registry
        self.sniffer = registry.auto_register(
            filter=lambda fn: os.path.realpath(fn) in paths)

    def imported(self, targets):
        # Its import sniffer would tax every later import of the process
        # (other adapters' importlib.reload included): stop it.
        self.sniffer.uninstall()
        for name, path in targets:
            if self.registry.get(path) is None:
                raise Unavailable("jurigged does not track %s" % name)

    def run(self, targets):
        for _name, path in targets:
            self.registry.get(path).refresh()
        return _module_dicts(targets)


class PydevdXreload(Adapter):
    name = "pydevd xreload"

    def check(self):
        try:
            from _pydevd_bundle.pydevd_reload import xreload  # noqa: F401
        except Exception as exc:
            raise Unavailable("pydevd: %s" % exc)

    def setup(self, root, targets):
        from _pydevd_bundle.pydevd_reload import xreload
        self.xreload = xreload

    def run(self, targets):
        for name, _ in targets:
            self.xreload(sys.modules[name])
        return _module_dicts(targets)


# -- floors -----------------------------------------------------------------

def _fresh(name, path):
    return {"__name__": name, "__file__": path, "__builtins__": builtins}


class FloorCompile(Adapter):
    """Read the file, compile it, exec it into a fresh dict."""
    name = "floor: read+compile+exec"
    kind = "floor"
    imports = False

    def prepare(self, targets):
        self.ns = None  # drop last round's namespaces outside the timing

    def run(self, targets):
        out = []
        for name, path in targets:
            with open(path, "rb") as fh:
                data = fh.read()
            ns = _fresh(name, path)
            exec(compile(data, path, "exec", dont_inherit=True), ns)
            out.append(ns)
        self.ns = out
        return out


class FloorExec(Adapter):
    """exec of code compiled outside the timing into a fresh dict."""
    name = "floor: exec"
    kind = "floor"
    imports = False

    def prepare(self, targets):
        self.ns = None
        self.codes = []
        for name, path in targets:
            with open(path, "rb") as fh:
                self.codes.append(compile(fh.read(), path, "exec", dont_inherit=True))

    def run(self, targets):
        out = []
        for (name, path), code in zip(targets, self.codes):
            ns = _fresh(name, path)
            exec(code, ns)
            out.append(ns)
        self.ns = out
        return out


ALL = [Reloader, ReloaderCompiled, Importlib, SuperReload, DeduperReload,
       Jurigged, PydevdXreload, FloorCompile, FloorExec]
BY_NAME = {cls.name: cls for cls in ALL}
SLUG = {
    "reloader": "rl",
    "reloader (code compiled)": "rlc",
    "importlib.reload": "imp",
    "IPython superreload": "ipy",
    "IPython deduperreload": "ded",
    "jurigged": "jur",
    "pydevd xreload": "pyd",
    "floor: read+compile+exec": "fc",
    "floor: exec": "fe",
}


def available(classes) -> Tuple[List[Adapter], Dict[str, str]]:
    """Instances of the adapters that can run, and why the others cannot."""
    ok, missing = [], {}
    for cls in classes:
        a = cls()
        try:
            a.check()
        except Unavailable as exc:
            missing[a.name] = str(exc)
            continue
        ok.append(a)
    return ok, missing
