"""Render one version of a Model as module source."""

from __future__ import annotations

from typing import List, Optional

from .model import Data, Func, Inst, Klass, OptIn, Sig, Version, VINDEX

PRELUDE = '''\
import dataclasses
import enum
import functools


def deco_plain(fn):
    def wrapper(*a, **k):
        return ({tag!r}, "deco_plain", fn(*a, **k))
    return wrapper


def deco_wraps(fn):
    @functools.wraps(fn)
    def wrapper(*a, **k):
        return ({tag!r}, "deco_wraps", fn(*a, **k))
    return wrapper


def deco_args(arg):
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            return ({tag!r}, "deco_args", arg, fn(*a, **k))
        return wrapper
    return deco
'''


def lit(value: object) -> str:
    if isinstance(value, Inst):
        return "%s()" % value.cls
    if isinstance(value, list):
        return "[%s]" % ", ".join(lit(v) for v in value)
    if isinstance(value, tuple):
        return "(%s)" % "".join(lit(v) + ", " for v in value)
    if isinstance(value, dict):
        return "{%s}" % ", ".join("%s: %s" % (lit(k), lit(v)) for k, v in value.items())
    if isinstance(value, float):
        return "float(%r)" % repr(value)  # exact round trip, no -0.0 trouble
    return repr(value)


def params(sig: Sig, first: Optional[str] = None, annotate: bool = True) -> str:
    parts: List[str] = [first] if first else []
    names = sig.positional_names()
    ndef = len(sig.defaults)
    for i, n in enumerate(names):
        ann = sig.annotations.get(n) if annotate else None
        s = n + (": " + ann if ann else "")
        j = i - (len(names) - ndef)
        if j >= 0:
            s += (" = " if ann else "=") + lit(sig.defaults[j])
        parts.append(s)
        if sig.posonly and i == sig.posonly - 1:
            parts.append("/")
    if sig.varargs:
        parts.append("*args")
    elif sig.kwonly:
        parts.append("*")
    for i, n in enumerate(sig.kwonly_names()):
        ann = sig.annotations.get(n) if annotate else None
        s = n + (": " + ann if ann else "")
        if i in sig.kwdefaults:
            s += (" = " if ann else "=") + lit(sig.kwdefaults[i])
        parts.append(s)
    if sig.varkw:
        parts.append("**kw")
    return ", ".join(parts)


def ret_ann(sig: Sig) -> str:
    ann = sig.annotations.get("return")
    return " -> " + ann if ann else ""


def result_expr(tag: str, qual: str, f: Func, extra: str = "") -> str:
    sig = f.sig
    names = sig.positional_names() + sig.kwonly_names()
    vals = "(" + "".join(n + ", " for n in names) + ")"
    args = "args" if sig.varargs else "()"
    kws = "tuple(sorted(kw.items()))" if sig.varkw else "()"
    return "(%r, %r, %d, %s, %s, %s%s)" % (tag, qual, f.salt, vals, args, kws, extra)


def flavour_lines(flavour: str, ind: str) -> List[str]:
    """Statements that extend the local ``r`` (a tuple) deterministically and
    give the code object a different shape (nested code, exception table,
    more locals)."""
    if flavour == "listcomp":
        return [ind + "r = r + (tuple([i * 2 for i in range(3)]),)"]
    if flavour == "try":
        return [ind + "try:", ind + "    r = r + (1 // len(r),)",
                ind + "except ZeroDivisionError:", ind + "    r = None"]
    if flavour == "inner":
        return [ind + "def _inner(z):", ind + "    return z + 1",
                ind + "r = r + (_inner(41),)"]
    if flavour == "lambda":
        return [ind + "h = lambda z: z * 3", ind + "r = r + (h(5),)"]
    if flavour == "loop":
        return [ind + "for i in range(2):", ind + "    r = r + (i,)"]
    if flavour == "with_locals":
        return [ind + "a1, a2, a3 = 1, 'x', (2,)", ind + "r = r + (a1, a2, a3)"]
    return []


def docline(tag: str, qual: str, f: Func, ind: str) -> List[str]:
    return [ind + '"""%s %s %d"""' % (qual, tag, f.salt)] if f.doc else []


def body(tag: str, qual: str, f: Func, ind: str, extra: str = "") -> List[str]:
    out = docline(tag, qual, f, ind)
    out.append(ind + "r = " + result_expr(tag, qual, f, extra))
    out += flavour_lines(f.flavour, ind)
    out.append(ind + "return r")
    return out


def render_func(tag: str, name: str, f: Func, ind: str = "", qprefix: str = "",
                first: Optional[str] = None) -> List[str]:
    """A def (or assignment) binding ``name`` in the current scope."""
    qual = qprefix + name
    sig = f.sig
    k = f.kind
    if k in ("lam",):
        return [ind + "%s = lambda %s: %s" % (name, params(sig, first, annotate=False),
                                              result_expr(tag, qual, f))]
    head = ind + "def %s(%s)%s:" % (name, params(sig, first), ret_ann(sig))
    inner = ind + "    "
    if k in ("f", "method", "cm", "sm", "fa"):
        out = []
        if k == "cm":
            out.append(ind + "@classmethod")
        elif k == "sm":
            out.append(ind + "@staticmethod")
        out += [head] + body(tag, qual, f, inner)
        for attr, value in f.attrs:
            out.append(ind + "%s.%s = %s" % (name, attr, lit(value)))
        return out
    if k in ("dec", "deco"):
        deco = {"plain": "@deco_plain", "wraps": "@deco_wraps",
                "args": "@deco_args(%d)" % f.deco_arg}[f.deco]
        return [ind + deco, head] + body(tag, qual, f, inner)
    if k == "lru":
        return [ind + "@functools.lru_cache(maxsize=%r)" % f.lru_size, head] + \
            body(tag, qual, f, inner)
    if k in ("g", "gm", "ag"):
        if k == "ag":
            head = ind + "async def %s(%s)%s:" % (name, params(sig, first), ret_ann(sig))
        out = [head] + docline(tag, qual, f, inner)
        out.append(inner + "yield (%r, %r, %d)" % (tag, qual, f.salt))
        out.append(inner + "r = " + result_expr(tag, qual, f))
        out += flavour_lines(f.flavour, inner)
        out.append(inner + "yield r")
        return out
    if k == "co":
        head = ind + "async def %s(%s)%s:" % (name, params(sig, first), ret_ann(sig))
        return [head] + body(tag, qual, f, inner)
    if k in ("prop", "cprop"):
        deco = "@property" if k == "prop" else "@functools.cached_property"
        return [ind + deco, ind + "def %s(self):" % name] + body(tag, qual, f, inner)
    if k == "cl":
        fac = "make_" + name
        fargs = ", ".join("c%d" % i for i in range(4))
        used = ["c%d" % i for i in range(f.nfree)]
        out = [ind + "def %s(%s):" % (fac, fargs)]
        iq = "%s%s.<locals>.%s" % (qprefix, fac, name)
        extra = ", (%s)" % "".join(u + ", " for u in used)
        if f.helper:
            out += [inner + "def helper(z):",
                    inner + "    return (%r, 'helper', %d, z)" % (tag, f.salt)]
            extra += ", helper(7)"
        out += [inner + "def %s(%s)%s:" % (name, params(sig), ret_ann(sig))]
        out += body(tag, iq, f, inner + "    ", extra)
        out += [inner + "return " + name]
        out += [ind + "%s = %s(%s)" % (name, fac, ", ".join(map(str, f.factory_args)))]
        return out
    if k == "ct":
        fac = "make_" + name
        iq = "%s%s.<locals>.%s" % (qprefix, fac, name)
        return [
            ind + "def %s(start):" % fac,
            inner + "n = start",
            inner + "def %s(d=1):" % name,
            inner + "    nonlocal n",
            inner + "    n += d",
            inner + "    return (%r, %r, %d, n)" % (tag, iq, f.salt),
            inner + "return " + name,
            ind + "%s = %s(%d)" % (name, fac, f.start),
        ]
    raise AssertionError("unknown kind %r" % k)


def render_dunder(tag: str, qual: str, name: str, f: Func, ind: str) -> List[str]:
    inner = ind + "    "
    t = (tag, qual, f.salt)
    v = VINDEX[tag]
    if name == "__repr__":
        return [ind + "def __repr__(self):", inner + "return 'R:' + repr(%r)" % (t,)]
    if name == "__eq__":
        return [ind + "def __eq__(self, other):", inner + "return %r" % (t + ("eq",),)]
    if name == "__hash__":
        return [ind + "def __hash__(self):", inner + "return %d" % (v * 100000 + f.salt)]
    if name == "__add__":
        return [ind + "def __add__(self, other):", inner + "return %r + (other,)" % (t,)]
    if name == "__call__":
        return [ind + "def __call__(self, *a):", inner + "return %r + (a,)" % (t,)]
    if name == "__len__":
        return [ind + "def __len__(self):", inner + "return %d" % (v * 1000 + f.salt)]
    if name == "__getitem__":
        return [ind + "def __getitem__(self, key):", inner + "return %r + (key,)" % (t,)]
    if name == "__lt__":
        return [ind + "def __lt__(self, other):", inner + "return %r" % (t + ("lt",),)]
    if name == "__init__":
        attr = "st_" + qual.replace(".", "_")
        return [ind + "def __init__(self):", inner + "super().__init__()",
                inner + "self.%s = %r" % (attr, (tag, f.salt))]
    raise AssertionError(name)


def render_optin(o: OptIn, ind: str) -> List[str]:
    if o.how == "set":
        return [ind + "%s = {%s}" % (o.spelling, ", ".join(map(repr, o.names)))
                if o.names else ind + "%s = set()" % o.spelling]
    if o.how == "all":
        return [ind + "%s = True" % o.spelling]
    return []


def render_class(tag: str, k: Klass, ind: str = "", qprefix: str = "") -> List[str]:
    qual = qprefix + k.name
    bases = [b for b in (k.base, k.mixin) if b]
    if k.flavour == "enum":
        bases = ["enum.Enum"]
    out = [ind + "class %s%s:" % (k.name, "(%s)" % ", ".join(bases) if bases else "")]
    if k.flavour == "dataclass":
        out.insert(0, ind + "@dataclasses.dataclass")
    inner = ind + "    "
    if k.doc:
        out.append(inner + '"""%s %s %d"""' % (qual, tag, k.salt))
    for mname, value in k.enum_members:
        out.append(inner + "%s = %d" % (mname, value))
    out += render_optin(k.optin, inner)
    if k.who:
        out += [inner + "def who(self):",
                inner + "    s = getattr(super(), 'who', None)",
                inner + "    return (%r, %r, %d, s() if s is not None else None)"
                % (tag, qual + ".who", k.salt)]
    for name, spec in k.members.items():
        if isinstance(spec, Data) and k.flavour == "dataclass":
            out.append(inner + "%s: object = %s" % (name, lit(spec.value)))
        elif isinstance(spec, Data):
            out.append(inner + "%s = %s" % (name, lit(spec.value)))
        elif isinstance(spec, Klass):
            out += render_class(tag, spec, inner, qual + ".")
        elif name.startswith("__"):
            out += render_dunder(tag, qual + "." + name, name, spec, inner)
        else:
            first = {"cm": "cls", "sm": None}.get(spec.kind, "self")
            out += render_func(tag, name, spec, inner, qual + ".", first)
    out.append(inner + "pass")
    return out


def render(version: Version) -> str:
    tag = version.tag
    out: List[str] = []
    if version.doc:
        out.append('"""generated module, version %s"""' % tag)
    out.append(PRELUDE.format(tag=tag))
    out += render_optin(version.optin, "")
    if version.version_dunder is not None:
        out.append("__version__ = %r" % version.version_dunder)
    if version.all_dunder:
        names = [n for n in version.order if not isinstance(version.slots[n], Data)]
        out.append("__all__ = %r" % names)
    out.append("")
    for name in version.order:
        spec = version.slots[name]
        if isinstance(spec, Klass):
            out += render_class(tag, spec)
        elif isinstance(spec, Func):
            out += render_func(tag, name, spec)
        else:
            continue  # data goes last, after every class
        out.append("")
    for name in version.order:
        spec = version.slots[name]
        if isinstance(spec, Data):
            out.append("%s = %s" % (name, lit(spec.value)))
    return "\n".join(out) + "\n"


def render_companion(modname: str, version: Version) -> str:
    """A second module that copies names with ``from m import ...`` and
    subclasses the regular classes, as user code elsewhere would."""
    names = [n for n in version.order]
    out = ["import %s as _m" % modname]
    if names:
        out.append("from %s import (%s)" % (modname, ", ".join(names)))
    for n in names:
        spec = version.slots[n]
        if isinstance(spec, Klass) and n.startswith("C") and spec.flavour != "enum":
            out.append("class Sub_%s(_m.%s):" % (n, n))
            out.append("    pass")
    return "\n".join(out) + "\n"
