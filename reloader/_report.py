"""Report: what one batch did."""

from __future__ import annotations

from typing import Any, Dict, Tuple

_FIELDS = ("modules", "updated", "added", "removed", "data_replaced",
           "restart_required", "errors")
_TAGS = (("[U]", "updated"), ("[A]", "added"), ("[D]", "removed"),
         ("[R]", "data_replaced"))


class Report:
    """The outcome of one batch. Every field is a tuple; names are
    ``module.qualname``."""

    __slots__ = _FIELDS + ("duration",)

    modules: Tuple[str, ...]
    updated: Tuple[str, ...]
    added: Tuple[str, ...]
    removed: Tuple[str, ...]
    data_replaced: Tuple[str, ...]
    restart_required: Tuple[Tuple[str, str], ...]
    errors: Tuple[str, ...]
    duration: float

    def __init__(self, modules=(), updated=(), added=(), removed=(),
                 data_replaced=(), restart_required=(), errors=(),
                 duration=0.0) -> None:
        self.modules = tuple(modules)
        self.updated = tuple(updated)
        self.added = tuple(added)
        self.removed = tuple(removed)
        self.data_replaced = tuple(data_replaced)
        self.restart_required = tuple((str(q), str(r)) for q, r in restart_required)
        self.errors = tuple(errors)
        self.duration = float(duration)

    def lines(self):
        """One line per change, tagged as in ``str(report)``."""
        for tag, field in _TAGS:
            for name in getattr(self, field):
                yield "%s %s" % (tag, name)
        for name, reason in self.restart_required:
            yield "[!] %s: restart required (%s)" % (name, reason)
        for err in self.errors:
            yield "[E] %s" % err

    def __str__(self) -> str:
        head = "reloaded %s in %.1f ms" % (
            ", ".join(self.modules) if self.modules else "nothing",
            self.duration * 1000.0)
        return "\n".join([head, *("  " + ln for ln in self.lines())])

    def __repr__(self) -> str:
        return "<Report modules=%r updated=%d added=%d removed=%d " \
               "data_replaced=%d restart_required=%d errors=%d>" % (
                   self.modules, len(self.updated), len(self.added),
                   len(self.removed), len(self.data_replaced),
                   len(self.restart_required), len(self.errors))

    def __bool__(self) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Report):
            return NotImplemented
        return self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]

    def as_dict(self) -> Dict[str, Any]:
        """A JSON-serialisable dict of every field."""
        out: Dict[str, Any] = {f: list(getattr(self, f)) for f in _FIELDS}
        out["restart_required"] = [list(p) for p in self.restart_required]
        out["duration"] = self.duration
        return out
