"""Watcher: notice edits in the background, apply them on the caller's thread.

Three parties, so that the thread that owns the program (a game's main loop)
pays only for executing and patching:

- a background thread waits for file events (watchfiles, or a stat() poll
  where it is missing), waits until a burst of saves has been quiet for
  ``interval``, reads the edited files, keeps those whose content differs
  from what runs, and marks them pending;
- a helper process compiles each pending source ahead of time (compile()
  holds the GIL, so a thread of ours would stall the caller just the same);
  the code comes back marshalled and is handed to ``_api.precompiled``;
- ``Watcher.poll()``, on the caller's thread at the moment it chooses, turns
  what is pending into one ``reload()`` batch.
"""

from __future__ import annotations

import logging
import marshal
import os
import struct
import subprocess
import sys
import threading
import time
import types
import weakref
from typing import (Callable, Dict, FrozenSet, Iterable, Iterator, List, Optional, Set, Tuple,
                    Union)

from . import _api, _config, _stamps
from ._errors import ReloadError
from ._report import Report

log = logging.getLogger("reloader")

PathArg = Union[str, "os.PathLike[str]"]

# RELOADER_POLLING=1 forces the stat() poll, e.g. where the file system does
# not deliver events (network drives, some container bind mounts).
_POLLING_ENV = "RELOADER_POLLING"
# Directories never worth walking when a directory is watched recursively.
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".venv", "venv",
                        ".tox", ".nox", ".mypy_cache", ".pytest_cache",
                        ".hypothesis", "node_modules", "build", "dist"})
# A file rewritten without pause (a generator writing a .py in a loop) is
# settled anyway after this many intervals.
_MAX_WAIT_INTERVALS = 10


def watch(paths: Union[None, PathArg, Iterable[PathArg]] = None, *,
          interval: float = 0.5) -> "Watcher":
    """Start a Watcher; see Watcher."""
    return Watcher(paths, interval=interval)


# which files belong to which modules ***************************************


class _ModuleIndex:
    """Source files of the loaded modules, kept up to date incrementally:
    only modules not seen before cost a realpath()."""

    def __init__(self) -> None:
        # name -> (weak reference to the module, real source path or None,
        # the source path as imported when it is another: a symbolic link)
        self._seen: Dict[str, Tuple[Callable[[], object], Optional[str],
                                    Optional[str]]] = {}

    def refresh(self) -> List[str]:
        """Take in modules imported (or imported again) since the last call;
        return the real source paths of those that are reloadable."""
        fresh = []
        modules = list(sys.modules.items())
        for name, module in modules:
            seen = self._seen.get(name)
            if seen is not None and seen[0]() is module:
                continue
            path = _config.source_path(module) if isinstance(module, types.ModuleType) else None
            real = os.path.realpath(path) if path is not None else None
            link = os.path.abspath(path) if path is not None else None
            self._seen[name] = (_ref(module), real, link if link != real else None)
            if real is not None and _stamps.reloadable(name, module):
                fresh.append(real)
        loaded = {name for name, _ in modules}
        for name in [n for n in self._seen if n not in loaded]:
            del self._seen[name]
        return fresh

    def names(self, path: str) -> List[str]:
        """The modules whose source is path, really or through a link."""
        return [name for name, (_, real, link) in list(self._seen.items())
                if path in (real, link)]

    def reloadable_paths(self) -> Set[str]:
        """Their real paths, and the links they were imported through: an
        editor that saves by renaming a new file over the link replaces the
        link, in the link's directory."""
        out = set()
        for name, (ref, real, link) in list(self._seen.items()):
            module = ref()
            if real is not None and module is not None and \
                    _stamps.reloadable(name, module):
                out.add(real)
                if link is not None:
                    out.add(link)
        return out


def _ref(obj: object) -> Callable[[], object]:
    try:
        return weakref.ref(obj)
    except TypeError:  # not every entry of sys.modules is a module
        return lambda: obj


# ahead-of-time compilation in a helper process *****************************

# The helper runs with -I -S: it needs nothing but the builtins, marshal and
# our own _core (loaded from its file, given as the argument), and must not
# import the program's code or site customisations. It fingerprints the code
# it compiles, so that the reload need not (_core.CodeFingerprints); without
# _core it still compiles, and precompiled() fingerprints.
_HELPER = r"""
import marshal, os, struct, sys
from importlib.util import MAGIC_NUMBER

def load_core(path):
    from importlib.machinery import ExtensionFileLoader
    from importlib.util import module_from_spec, spec_from_loader
    loader = ExtensionFileLoader("reloader._core", path)
    core = module_from_spec(spec_from_loader("reloader._core", loader))
    loader.exec_module(core)
    return core

try:
    core = load_core(sys.argv[1])
except Exception:
    core = None

def fingerprints(code):
    try:
        return core.CodeFingerprints(code).blob() if core is not None else None
    except Exception:  # not the source's fault: precompiled() tries again
        return None

def read_exact(n):
    buf = b""
    while len(buf) < n:
        chunk = os.read(0, n - len(buf))
        if not chunk:
            sys.exit(0)
        buf += chunk
    return buf

def send(payload):
    data = struct.pack("<I", len(payload)) + payload
    while data:
        data = data[os.write(1, data):]

send(MAGIC_NUMBER)
while True:
    path, source, optimize = marshal.loads(read_exact(struct.unpack("<I", read_exact(4))[0]))
    try:
        code = compile(source, path, "exec", dont_inherit=True, optimize=optimize)
        reply = (True, marshal.dumps(code), fingerprints(code))
    except BaseException as exc:
        reply = (False, "%s: %s" % (type(exc).__name__, exc), None)
    send(marshal.dumps(reply))
"""

# How long the helper may take to answer before it is given up on; a
# 2,000-function module compiles in well under a second.
_HELPER_TIMEOUT = 30.0


class _Compiler:
    """Compiles sources in a helper process started on first use. Where no
    helper can run (an embedded interpreter whose sys.executable is the game),
    compile() returns None and reload() compiles on the caller's thread."""

    def __init__(self) -> None:
        self._proc: Optional["subprocess.Popen[bytes]"] = None
        self._broken = False
        self._closing = False

    def compile(self, path: str, source: bytes
                ) -> Optional[Tuple[types.CodeType, Optional[bytes]]]:
        """(code, fingerprints blob or None), or None."""
        if self._broken:
            return None
        try:
            proc = self._proc or self._start()
            self._send(proc, marshal.dumps((path, source, sys.flags.optimize)))
            ok, payload, fps = marshal.loads(self._receive(proc))
            # not ok: the source is broken, and reload() will say so in full
            return (marshal.loads(payload), fps) if ok else None
        except (OSError, EOFError, ValueError, TypeError, struct.error) as exc:
            self._give_up("the compile helper failed: %s" % (exc,))
            return None

    def _start(self) -> "subprocess.Popen[bytes]":
        if not sys.executable:
            raise OSError("sys.executable is empty")
        proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _HELPER,
                                 _api.core_file()],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        self._proc = proc
        # Code is marshalled across: the helper must be this very Python.
        if self._receive(proc) != _magic():
            raise ValueError("%s is not this Python" % sys.executable)
        return proc

    def _send(self, proc: "subprocess.Popen[bytes]", payload: bytes) -> None:
        assert proc.stdin is not None
        proc.stdin.write(struct.pack("<I", len(payload)) + payload)
        proc.stdin.flush()

    def _receive(self, proc: "subprocess.Popen[bytes]") -> bytes:
        assert proc.stdout is not None
        # A helper that hangs (sys.executable is not a Python at all) is
        # killed, which ends the blocked read.
        timer = threading.Timer(_HELPER_TIMEOUT, proc.kill)
        timer.daemon = True
        timer.start()
        try:
            head = proc.stdout.read(4)
            if len(head) < 4:
                raise EOFError("the compile helper exited")
            size = struct.unpack("<I", head)[0]
            data = proc.stdout.read(size)
            if len(data) < size:
                raise EOFError("the compile helper exited")
            return data
        finally:
            timer.cancel()

    def _give_up(self, why: str) -> None:
        if not self._closing:  # a helper ended by close() is no news
            log.warning("reloader: %s; edits are compiled when they are applied", why)
        self._broken = True
        self.close()

    def close(self) -> None:
        self._closing = True
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()  # the helper exits at end of input
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _magic() -> bytes:
    from importlib.util import MAGIC_NUMBER
    return MAGIC_NUMBER


# noticing edits ************************************************************


class _Scope:
    """What a Watcher looks at: the given files and directories (recursively),
    or, with no paths, the source files of every reloadable module."""

    def __init__(self, paths: Union[None, PathArg, Iterable[PathArg]]) -> None:
        self.files: FrozenSet[str] = frozenset()
        self.dirs: FrozenSet[str] = frozenset()
        self.default = paths is None
        if paths is None:
            return
        if isinstance(paths, (str, os.PathLike)):
            items: List[object] = [paths]
        else:
            try:
                items = list(paths)
            except TypeError:
                raise TypeError("watch() paths must be a path or an iterable of paths, "
                                "not %s" % type(paths).__name__) from None
        files, dirs = set(), set()
        for item in items:
            if not isinstance(item, (str, os.PathLike)):
                raise TypeError("watch() paths must be str or os.PathLike, not %s"
                                % type(item).__name__)
            path = os.fspath(item)
            if not isinstance(path, str) or not path:
                raise TypeError("watch() paths must be non-empty text paths, not %r" % (item,))
            real = os.path.realpath(path)
            if os.path.isdir(real):
                dirs.add(real)
            elif os.path.isfile(real):
                files.add(real)
            else:
                raise FileNotFoundError("watch(): no such file or directory: %r" % path)
        self.files, self.dirs = frozenset(files), frozenset(dirs)

    def covers(self, real: str) -> bool:
        if self.default or real in self.files:
            return True
        return any(real.startswith(os.path.join(d, "")) for d in self.dirs)


def _py_only(_change: object, path: str) -> bool:
    return path.endswith(".py")


class _Events:
    """File events from watchfiles (inotify, FSEvents, ReadDirectoryChangesW):
    the wait happens in Rust without the GIL."""

    name = "watchfiles"

    def __init__(self, watchfiles: types.ModuleType) -> None:
        self._watchfiles = watchfiles

    def run(self, targets: Iterable[str], recursive: bool, interval: float,
            stop: threading.Event) -> Iterable[Set[str]]:
        """Yield the paths of each batch of events, and an empty set each time
        ``interval`` passes without one."""
        changes = self._watchfiles.watch(
            *sorted(targets), watch_filter=_py_only, step=50,
            rust_timeout=max(1, int(interval * 1000)), yield_on_timeout=True,
            stop_event=stop, recursive=recursive, raise_interrupt=False)
        for batch in changes:
            yield {path for _change, path in batch}


_FileState = Tuple[int, int, int, int]  # mtime_ns, ctime_ns, size, inode


class _Polling:
    """A stat() of every watched file each ``interval``: no dependency, and
    works where file events do not (network drives)."""

    name = "polling"

    def run(self, targets: Iterable[str], recursive: bool, interval: float,
            stop: threading.Event) -> Iterable[Set[str]]:
        targets = sorted(targets)
        before = self._snapshot(targets, recursive)
        while not stop.wait(interval):
            now = self._snapshot(targets, recursive)
            yield {p for p in before.keys() | now.keys() if before.get(p) != now.get(p)}
            before = now

    def _snapshot(self, targets: List[str], recursive: bool) -> Dict[str, _FileState]:
        out: Dict[str, _FileState] = {}
        for target in targets:
            if os.path.isdir(target):
                for path in self._walk(target, recursive):
                    self._stat(path, out)
            else:
                self._stat(target, out)
        return out

    def _walk(self, top: str, recursive: bool) -> Iterable[str]:
        try:
            entries = list(os.scandir(top))
        except OSError:
            return
        for entry in entries:
            if entry.name.endswith(".py"):
                yield entry.path
            elif recursive and entry.name not in _SKIP_DIRS and \
                    entry.is_dir(follow_symlinks=False):
                yield from self._walk(entry.path, recursive)

    def _stat(self, path: str, out: Dict[str, _FileState]) -> None:
        try:
            st = os.stat(path)
        except OSError:
            return
        out[path] = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


class _EventsFailed(Exception):
    """The file-event backend raised; its error is the __cause__."""


def _guarded(events: Iterable[Set[str]]) -> Iterator[Set[str]]:
    """``events``, with the backend's own errors told apart from ours."""
    iterator = iter(events)
    while True:
        try:
            paths = next(iterator)
        except StopIteration:
            return
        except Exception as exc:
            raise _EventsFailed() from exc
        yield paths


def _backend() -> Union[_Events, _Polling]:
    if os.environ.get(_POLLING_ENV, "") not in ("", "0"):
        return _Polling()
    try:
        import watchfiles
    except ImportError:
        return _Polling()
    return _Events(watchfiles)


# the watcher ***************************************************************


class Watcher:
    """Notices edits in the background; ``poll()`` applies them.

    ``paths`` are files or directories (directories are watched recursively);
    by default, the source files of every reloadable module, including those
    imported after the watcher started. A burst of saves becomes pending once
    the files have been quiet for ``interval`` seconds (the polling fallback
    also looks every ``interval``). Nothing is ever patched from the
    watcher's own thread.
    """

    last_error: Optional[ReloadError]

    def __init__(self, paths: Union[None, PathArg, Iterable[PathArg]] = None, *,
                 interval: float = 0.5) -> None:
        if isinstance(interval, bool) or not isinstance(interval, (int, float)):
            raise TypeError("interval must be a number of seconds, not %s"
                            % type(interval).__name__)
        if not 0 < interval < float("inf"):
            raise ValueError("interval must be a positive number of seconds, not %r"
                             % (interval,))
        self._interval = float(interval)
        self.last_error = None
        self._scope = _Scope(paths)
        self._index = _ModuleIndex()
        self._compiler = _Compiler()
        self._backend = _backend()
        self._lock = threading.Lock()  # guards _pending
        self._pending: Dict[str, bytes] = {}  # module name -> digest of its edited source
        self._poll_lock = threading.Lock()
        self._failed: Optional[FrozenSet[Tuple[str, bytes]]] = None
        # edits to files no loaded module runs, that may fix a failed batch
        self._other_edits = 0
        self._reported: Set[object] = set()  # broken contents already logged
        # Called from the watcher's thread whenever something becomes
        # pending: the command line uses it to schedule poll() on the main
        # thread instead of polling on a timer.
        self._on_pending: Optional[Callable[[], None]] = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reloader-watcher",
                                        daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        what = "reloadable modules" if self._scope.default else \
            ", ".join(sorted(self._scope.dirs | self._scope.files))
        state = "stopped" if self._stop.is_set() else "running"
        return "<Watcher %s (%s, %gs) %s>" % (what, self._backend.name,
                                              self._interval, state)

    def __enter__(self) -> "Watcher":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop watching and end the helper process. Edits already pending
        can still be applied with poll()."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self._compiler.close()

    # the caller's thread ***************************************************

    def poll(self) -> Optional[Report]:
        """Apply what is pending as one batch, now, on this thread.

        Returns the Report; None when nothing is pending, or when the batch
        failed: then the ReloadError is in ``last_error`` (and logged at ERROR
        once per broken content) until a later batch succeeds, and the batch is
        retried only once one of its files changes again, or once a watched
        ``.py`` file that no loaded module runs changes (a module its new code
        imports for the first time may hold the fault).
        """
        with self._poll_lock:
            with self._lock:
                pending = dict(self._pending)
            # Cheap when idle, and when a broken batch waits for the next
            # edit: a game calls this every frame.
            if not pending or frozenset(pending.items()) == self._failed:
                return None
            batch = self._still_needed(pending)
            key = frozenset(batch.items())
            if not batch or key == self._failed:
                return None
            edits = self._other_edits
            try:
                # only the content that became pending: a file that changed
                # since is being saved again, and waits for its quiet interval
                report = _api._reload(list(batch), False, False, batch)
            except _api._Stale:
                return None
            except ReloadError as exc:
                self._fail(key, batch, exc)
                if self._other_edits != edits:
                    self._failed = None  # a fix came in while it ran: retry
                return None
            self._failed = None
            self._reported.clear()
            self.last_error = None
            for name, dig in batch.items():
                self._forget(name, dig)
            return report

    def _still_needed(self, pending: Dict[str, bytes]) -> Dict[str, bytes]:
        batch = {}
        for name, dig in pending.items():
            stamp = _stamps.stamp_of(name)
            module = sys.modules.get(name)
            if (stamp is not None and stamp.digest == dig) or module is None or \
                    not _stamps.reloadable(name, module):
                self._forget(name, dig)  # applied meanwhile, unloaded or excluded
            else:
                batch[name] = dig
        return batch

    def _forget(self, name: str, dig: bytes) -> None:
        with self._lock:
            if self._pending.get(name) == dig:
                del self._pending[name]

    def _fail(self, key: FrozenSet[Tuple[str, bytes]], batch: Dict[str, bytes],
              exc: ReloadError) -> None:
        self._failed = key
        self.last_error = exc
        # "Once per broken content": the module at fault as it now reads, or
        # the whole batch when the fault lies outside it.
        culprit: object = (exc.module, batch[exc.module]) if exc.module in batch else key
        if culprit not in self._reported:
            self._reported.add(culprit)
            log.error("reloader: edits to %s not applied: %s", ", ".join(batch), exc)

    # the watcher's thread **************************************************

    def _run(self) -> None:
        try:
            self._watch()
        except Exception:  # a bug of ours must not pass unseen
            log.exception("reloader: the watcher stopped")

    def _watch(self) -> None:
        self._index.refresh()
        while not self._stop.is_set():
            targets, recursive = self._targets()
            try:
                self._follow(targets, recursive)
            except _EventsFailed as exc:
                if isinstance(self._backend, _Polling):
                    raise
                # inotify's watch limit, a watched directory that vanished, ...
                log.warning("reloader: file events failed (%s); polling instead",
                            exc.__cause__)
                self._backend = _Polling()

    def _targets(self) -> Tuple[Set[str], bool]:
        if not self._scope.default:
            if isinstance(self._backend, _Polling):
                return set(self._scope.dirs | self._scope.files), True
            # A file is watched through its directory: an editor that saves
            # by renaming a new file over it replaces the inode a watch on
            # the file itself would hold.
            parents = {os.path.dirname(f) for f in self._scope.files}
            return set(self._scope.dirs) | parents, bool(self._scope.dirs)
        paths = self._index.reloadable_paths()
        if isinstance(self._backend, _Polling):
            return paths, False
        return {os.path.dirname(p) for p in paths}, False

    def _follow(self, targets: Set[str], recursive: bool) -> None:
        """Feed events to _settle until stopped, or until the modules to
        watch are no longer those in ``targets``."""
        backend = self._backend if targets else _Polling()  # nothing to watch yet
        # Events flow once the backend yields. What was edited before (since
        # each module's stamp) is found by content.
        dirty: Set[str] = set(self._index.reloadable_paths())
        saving_since: Optional[float] = None
        imported = False  # modules imported since targets were computed
        for paths in _guarded(backend.run(targets, recursive, self._interval, self._stop)):
            if self._stop.is_set():
                return
            # Modules imported since: edited between their import and now?
            fresh = self._index.refresh()
            dirty.update(fresh)
            imported = imported or bool(fresh)
            if paths:
                dirty |= paths
                now = time.monotonic()
                if saving_since is None:
                    saving_since = now
                if now - saving_since < self._interval * _MAX_WAIT_INTERVALS:
                    continue  # still saving: wait for a quiet interval
            saving_since = None
            if dirty:
                self._settle(dirty)
                dirty = set()
            if imported and self._scope.default:
                imported = False
                if self._targets()[0] != targets:
                    return

    def _settle(self, paths: Iterable[str]) -> None:
        """Mark pending the modules whose files under ``paths`` now differ, by
        content, from what runs; compile them ahead of time. A burst's edits
        become pending together, so that one poll() applies them as one batch
        (a module and the new name it imports from another)."""
        found: Dict[str, bytes] = {}
        unloaded = False  # a .py file no loaded module runs
        # a file by its real path, and by the path it has (a symbolic link
        # that an editor replaced by the saved file)
        for real in {q for p in paths for q in (os.path.realpath(p), os.path.abspath(p))}:
            if not self._scope.covers(real):
                continue
            names = self._index.names(real)
            unloaded = unloaded or (not names and real.endswith(".py"))
            for name in names:
                dig = self._consider(name)
                if dig is not None:
                    found[name] = dig
        if not found:
            if unloaded and self._failed is not None:
                # The failed batch may have failed in a module its new code
                # imports for the first time (a broken helper.py): that
                # file changed, so the batch is worth one more try.
                self._other_edits += 1
                self._failed = None
                if self._on_pending is not None:
                    self._on_pending()
            return
        with self._lock:
            self._pending.update(found)
        if self._on_pending is not None:
            self._on_pending()

    def _consider(self, name: str) -> Optional[bytes]:
        """The digest of ``name``'s edited source, compiled and ready, or None
        when there is nothing (new) to apply."""
        module = sys.modules.get(name)
        if module is None or not _stamps.reloadable(name, module):
            return None
        path = _config.source_path(module)
        source = _stamps.read_source(path) if path is not None else None
        if path is None or source is None:
            self._drop(name)  # the file is gone: nothing to apply
            return None
        dig = _stamps.digest(source)
        # A module that was never stamped (imported behind our finder) is
        # stamped now, as changed() would: its running code is unknown.
        stamp = _stamps.current(name, module)
        if stamp is None or stamp.digest == dig:
            self._drop(name)  # touched, or edited back to what runs
            return None
        with self._lock:
            if self._pending.get(name) == dig:
                return None
        compiled = self._compiler.compile(path, source)
        if compiled is not None:
            code, fps = compiled
            try:
                _api.precompiled(path, dig, code, source, fps)
            except (TypeError, ValueError):  # not this code's: make them here
                _api.precompiled(path, dig, code, source)
        return dig

    def _drop(self, name: str) -> None:
        with self._lock:
            self._pending.pop(name, None)
