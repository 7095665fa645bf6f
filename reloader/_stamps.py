"""Source stamps: what code each module is running, by content.

A stamp is the digest of the source bytes a module was last executed from.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from typing import Dict, List, Optional, Tuple

from . import _config

_lock = threading.Lock()
_stamps: Dict[str, Tuple[str, bytes]] = {}  # module name -> (path, digest)


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def _file_digest(path: str) -> Optional[bytes]:
    try:
        with open(path, "rb") as fh:
            return digest(fh.read())
    except OSError:
        return None


def record(name: str, path: str, dig: bytes) -> None:
    """Note that ``name`` now runs the source whose digest is ``dig``."""
    with _lock:
        _stamps[name] = (path, dig)


def stamp_loaded() -> None:
    """Stamp every loaded, reloadable module that has no stamp yet."""
    for name, module in list(sys.modules.items()):
        if name in _stamps or _config.why_not(name, module) is not None:
            continue
        path = _config.source_path(module)
        dig = _file_digest(path) if path else None
        if dig is not None:
            with _lock:
                _stamps.setdefault(name, (path, dig))


def changed() -> List[str]:
    """Names of loaded, reloadable modules whose source differs from the
    code that is running."""
    stamp_loaded()
    out = []
    for name, module in list(sys.modules.items()):
        st = _stamps.get(name)
        if st is None or _config.why_not(name, module) is not None:
            continue
        path = _config.source_path(module)
        if path != st[0]:
            continue
        dig = _file_digest(path)
        if dig is not None and dig != st[1]:
            out.append(name)
    return out
