"""A model of a generated module, drawn by hypothesis, in two versions.

A model is a set of *slots*: names that exist in version "A", in version "B"
or in both, each with a per-version spec (or None when the version does not
define the name). Everything a version defines returns a value that encodes
the version tag ("A"/"B"), its qualified name, a per-version salt and the
arguments it received, so "this reference runs B's code" is checkable by
calling it.

Generated edits stay inside what SPEC.md says must work in place: no
``__slots__``, metaclass or builtin-base changes, no function that turns into
or out of a generator or coroutine, the same ``lru_cache`` options in both
versions. The slots property lives in test_generated.py on its own.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from hypothesis import strategies as st

VERSIONS = ("A", "B")
VINDEX = {"A": 0, "B": 1}

# Top-level slot kinds. A slot keeps its kind in both versions, except
# "x" (morph), which is a function in one version and data in the other.
#   f   plain function             g   generator function
#   co  coroutine function         lam lambda bound to a name
#   ag  async generator function
#   cl  closure made by a factory (make_cl_N) with 0..4 free variables
#   ct  counter closure whose cell is rebound with nonlocal (state)
#   dec decorated function         lru functools.lru_cache'd function
#   fa  function with function attributes set by the source
#   d   module data                x   function <-> data
TOP_KINDS = ("f", "g", "co", "lam", "cl", "ct", "dec", "lru", "fa", "d", "x")
FUNC_KINDS = ("f", "g", "co", "ag", "lam", "cl", "ct", "dec", "lru", "fa")
DECOS = ("plain", "wraps", "args")
FLAVOURS = ("plain", "listcomp", "try", "inner", "lambda", "loop", "with_locals")

# Class member kinds (the name m_N does not fix the kind; a member may change
# kind between versions when the model allows it).
MEMBER_KINDS = ("method", "deco", "cm", "sm", "prop", "cprop", "gm", "lam")
DUNDERS = ("__repr__", "__eq__", "__hash__", "__add__", "__call__", "__len__",
           "__getitem__", "__lt__", "__init__")

# Edits that can be left out while a known bug is open:
# RELOADER_GEN_SKIP=decorator-change,base-removal,... (see apply_skips()).
SKIP_FEATURES = {
    "decorator-change": "a decorator changes between a plain and a functools.wraps wrapper",
    "base-removal": "a class loses all its bases, or a new class derives from a kept one",
    "underscore-optin": "opt-in spelled _reload_data / _reload_all_data",
    "tuple-data": "data bound to tuples (equal constants are one object in the new code)",
}
SKIP = {s for s in os.environ.get("RELOADER_GEN_SKIP", "").split(",") if s}
if SKIP - set(SKIP_FEATURES):
    raise RuntimeError("RELOADER_GEN_SKIP: unknown %s; known: %s"
                       % (sorted(SKIP - set(SKIP_FEATURES)), ", ".join(SKIP_FEATURES)))

OPTIN_SPELLINGS = (
    ("set", "__reload_data__"), ("set", "_reload_data"),
    ("all", "__reload_all_data__"), ("all", "_reload_all_data"),
)


@dataclass
class Sig:
    posonly: int = 0
    pos: int = 0
    varargs: bool = False
    kwonly: int = 0
    varkw: bool = False
    defaults: Tuple[object, ...] = ()  # for the last positional parameters
    kwdefaults: Dict[int, object] = field(default_factory=dict)
    annotations: Dict[str, str] = field(default_factory=dict)

    def positional_names(self) -> List[str]:
        return ["q%d" % i for i in range(self.posonly)] + \
               ["p%d" % i for i in range(self.pos)]

    def kwonly_names(self) -> List[str]:
        return ["k%d" % i for i in range(self.kwonly)]


@dataclass
class Func:
    """A function-like definition in one version."""
    kind: str
    sig: Sig
    salt: int
    flavour: str = "plain"
    doc: bool = False
    deco: Optional[str] = None     # dec / deco methods: plain, wraps, args
    deco_arg: int = 0
    nfree: int = 0                 # cl: how many factory parameters are used
    factory_args: Tuple[int, ...] = ()
    helper: bool = False           # cl: a nested helper function in a cell
    lru_size: int = 8
    attrs: Tuple[Tuple[str, object], ...] = ()  # fa
    start: int = 0                 # ct


@dataclass
class Data:
    value: object  # a literal, or Inst("C_3")


@dataclass(frozen=True)
class Inst:
    """Data value: an instance of a top-level class of the same version."""
    cls: str


@dataclass
class OptIn:
    how: str = "none"              # none, set, all
    spelling: str = ""
    names: Tuple[str, ...] = ()


@dataclass
class Klass:
    """A class in one version."""
    name: str
    salt: int
    base: Optional[str] = None     # an earlier regular top-level class
    mixin: Optional[str] = None    # a mixin (M_N)
    doc: bool = False
    who: bool = True
    members: Dict[str, object] = field(default_factory=dict)  # name -> Func | Data | Klass
    optin: OptIn = field(default_factory=OptIn)
    # "plain", "enum" (enum.Enum with enum_members, the same in both
    # versions) or "dataclass" (data members are fields with defaults)
    flavour: str = "plain"
    enum_members: Tuple[Tuple[str, int], ...] = ()


@dataclass
class Version:
    tag: str
    slots: Dict[str, object]       # top-level name -> Func | Data | Klass
    order: List[str]               # definition order of the slots
    optin: OptIn = field(default_factory=OptIn)
    version_dunder: Optional[str] = None
    all_dunder: bool = False
    doc: bool = False


@dataclass
class Model:
    versions: Dict[str, Version]
    # (phase, scope path, name) -> "none" | "rebind" | "inplace"; phase 0 runs
    # before A -> B, phase 1 before B -> A; scope "" is the module.
    mutations: Dict[Tuple[int, str, str], str] = field(default_factory=dict)
    # runtime attributes set on held "fa" functions: slot -> value
    counter_calls: int = 1

    def v(self, tag: str) -> Version:
        return self.versions[tag]


# --------------------------------------------------------------- strategies

small_ints = st.integers(min_value=-5, max_value=300)
literals = st.one_of(
    small_ints,
    st.integers(min_value=10**6, max_value=10**9),
    st.sampled_from(["", "s", "spam", "a longer string value", "ü"]),
    st.none(),
    st.booleans(),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.tuples(small_ints, small_ints),
)
default_values = st.one_of(small_ints, st.sampled_from(["d", "dflt"]), st.none(),
                           st.tuples(small_ints))
data_literals = st.one_of(
    literals,
    st.lists(small_ints, max_size=3),
    st.dictionaries(st.sampled_from(["a", "b", "c"]), small_ints, max_size=2),
)
annotation_srcs = st.sampled_from(["int", "str", "'A'", "tuple", "None"])


@st.composite
def sigs(draw, allow_star=True, max_pos=3) -> Sig:
    posonly = draw(st.integers(0, 2))
    pos = draw(st.integers(0, max_pos))
    varargs = allow_star and draw(st.booleans())
    kwonly = draw(st.integers(0, 2)) if allow_star else 0
    varkw = allow_star and draw(st.booleans())
    npos = posonly + pos
    ndef = draw(st.integers(0, npos))
    defaults = tuple(draw(default_values) for _ in range(ndef))
    kwdefaults = {i: draw(default_values) for i in range(kwonly) if draw(st.booleans())}
    sig = Sig(posonly, pos, varargs, kwonly, varkw, defaults, kwdefaults)
    if draw(st.integers(0, 3)) == 0:
        names = sig.positional_names() + sig.kwonly_names()
        for n in names:
            if draw(st.booleans()):
                sig.annotations[n] = draw(annotation_srcs)
        if draw(st.booleans()):
            sig.annotations["return"] = draw(annotation_srcs)
    return sig


@st.composite
def funcs(draw, kind: str, prev: Optional[Func] = None) -> Func:
    """A function spec of ``kind``. ``prev`` is the other version's spec of
    the same slot: options that must not change (lru size) are copied."""
    salt = draw(st.integers(0, 999))
    if kind == "ct":
        return Func(kind, Sig(), salt, start=draw(small_ints))
    sig = draw(sigs(allow_star=kind != "lam" or draw(st.booleans())))
    if kind == "lam":
        sig.annotations = {}
    f = Func(kind, sig, salt,
             flavour="plain" if kind == "lam" else draw(st.sampled_from(FLAVOURS)),
             doc=kind != "lam" and draw(st.booleans()))
    if kind in ("dec", "deco"):
        f.deco = draw(st.sampled_from(DECOS))
        f.deco_arg = draw(st.integers(0, 50))
    elif kind == "cl":
        f.nfree = draw(st.integers(0, 4))
        f.factory_args = tuple(draw(small_ints) for _ in range(4))
        f.helper = draw(st.booleans())
    elif kind == "lru":
        f.lru_size = prev.lru_size if prev is not None else draw(st.sampled_from([None, 4, 128]))
        # lru_cache needs hashable arguments: the probes pass ints only, but
        # list defaults would be unhashable.
    elif kind == "fa":
        names = draw(st.lists(st.sampled_from(["tag", "tag2", "weight"]), unique=True,
                              max_size=3))
        f.attrs = tuple((n, draw(literals)) for n in sorted(names))
    return f


@st.composite
def optins(draw, names: List[str]) -> OptIn:
    choice = draw(st.integers(0, len(OPTIN_SPELLINGS) + 1))
    if choice >= len(OPTIN_SPELLINGS):
        return OptIn()
    how, spelling = OPTIN_SPELLINGS[choice]
    chosen: Tuple[str, ...] = ()
    if how == "set":
        pool = sorted(set(names) | {"not_a_name"})
        chosen = tuple(sorted(draw(st.sets(st.sampled_from(pool)))))
    return OptIn(how, spelling, chosen)


def _pair(draw, present_a: float = 0.85):
    """Which versions define a slot: never neither."""
    a = draw(st.integers(0, 99)) < present_a * 100
    b = draw(st.integers(0, 99)) < present_a * 100
    if not a and not b:
        a = b = True
    return a, b


@st.composite
def class_pairs(draw, name: str, regular_before: List[str], mixins: List[str],
                nested: bool, kind_changes: bool):
    """(Klass for A or None, Klass for B or None) for one class slot.

    ``regular_before``/``mixins``: top-level class slots a base may come from
    (the caller filters them per version)."""
    pa, pb = _pair(draw, 0.85)
    nmeth = draw(st.integers(0, 4 if name.startswith("C") else 2))
    ndata = draw(st.integers(0, 3)) if name[0] in "CN" else 0
    nnested = draw(st.integers(0, 1)) if nested else 0
    flavour = "plain"
    enum_members: Tuple[Tuple[str, int], ...] = ()
    if name.startswith("C"):
        flavour = draw(st.sampled_from(["plain"] * 5 + ["enum", "dataclass"]))
    if flavour == "enum":
        ndata = nnested = 0
        values = draw(st.lists(st.integers(1, 50), min_size=1, max_size=3, unique=True))
        enum_members = tuple(("E%d" % i, v) for i, v in enumerate(values))
    out = []
    kinds_first: Dict[str, str] = {}
    for tag, present in zip(VERSIONS, (pa, pb)):
        if not present:
            out.append(None)
            continue
        k = Klass(name, draw(st.integers(0, 999)), doc=draw(st.booleans()),
                  who=draw(st.integers(0, 4)) > 0, flavour=flavour,
                  enum_members=enum_members)
        if name.startswith("C") and flavour == "plain":
            if regular_before and draw(st.booleans()):
                k.base = draw(st.sampled_from(regular_before))
            if mixins and draw(st.booleans()):
                k.mixin = draw(st.sampled_from(mixins))
        for i in range(nmeth):
            mname = "m_%d" % i
            if draw(st.integers(0, 9)) == 0:
                continue  # absent in this version
            if mname in kinds_first and not (kind_changes and draw(st.integers(0, 5)) == 0):
                mk = kinds_first[mname]
            else:
                mk = draw(st.sampled_from(MEMBER_KINDS if name[0] != "M" and flavour == "plain"
                                          else ("method", "cm", "sm", "prop")))
            kinds_first.setdefault(mname, mk)
            if mk in ("prop", "cprop"):
                k.members[mname] = Func(mk, Sig(), draw(st.integers(0, 999)),
                                        flavour=draw(st.sampled_from(FLAVOURS)),
                                        doc=draw(st.booleans()))
            else:
                fk = {"method": "f", "cm": "f", "sm": "f", "gm": "g", "lam": "lam",
                      "deco": "deco"}[mk]
                f = draw(funcs(fk))
                f.kind = mk
                k.members[mname] = f
        for d in DUNDERS:
            if name[0] == "M" and d != "__init__" or flavour == "enum" or \
                    flavour == "dataclass" and d in ("__init__", "__eq__", "__repr__", "__hash__"):
                continue
            if draw(st.integers(0, 5)) == 0:
                k.members[d] = Func("dunder", Sig(), draw(st.integers(0, 999)))
        for i in range(ndata):
            if draw(st.integers(0, 5)) == 0:
                continue
            k.members["a_%d" % i] = Data(draw(literals if flavour == "dataclass"
                                              else data_literals))
        for i in range(nnested):
            if draw(st.integers(0, 4)) == 0:
                continue
            k.members["N_%d" % i] = None  # filled below, needs both versions
        k.optin = draw(optins(["a_%d" % i for i in range(ndata)])) \
            if flavour != "enum" else OptIn()
        out.append(k)
    # nested classes: drawn as pairs so that they can be present in both
    for i in range(nnested):
        nname = "N_%d" % i
        ka, kb = out
        if not any(k is not None and nname in k.members for k in (ka, kb)):
            continue
        na, nb = draw(class_pairs(nname, [], [], nested=False, kind_changes=kind_changes))
        for k, n in ((ka, na), (kb, nb)):
            if k is None or nname not in k.members:
                continue
            if n is None:
                del k.members[nname]
            else:
                k.members[nname] = n
    return tuple(out)


def apply_skips(model: "Model", skip=None) -> "Model":
    """Rewrite a drawn model so that it has none of the ``skip`` features."""
    skip = SKIP if skip is None else skip
    va, vb = model.v("A"), model.v("B")
    if "decorator-change" in skip:
        def same_deco(a, b):
            for name, sa in a.items():
                sb = b.get(name)
                if isinstance(sa, Func) and isinstance(sb, Func) and sa.deco and sb.deco:
                    sb.deco = sa.deco
                if isinstance(sa, Klass) and isinstance(sb, Klass):
                    same_deco(sa.members, sb.members)
        same_deco(va.slots, vb.slots)
    if "base-removal" in skip:
        for name in set(va.slots) | set(vb.slots):
            ka, kb = va.slots.get(name), vb.slots.get(name)
            if not (isinstance(ka, Klass) or isinstance(kb, Klass)):
                continue
            if ka is None or kb is None or \
                    bool(ka.base or ka.mixin) != bool(kb.base or kb.mixin):
                for k in (ka, kb):
                    if k is not None:
                        k.base = k.mixin = None
    if "underscore-optin" in skip:
        for v in (va, vb):
            for scope in [v] + [k for _, k in classes_of(v)]:
                if scope.optin.spelling.startswith("_reload"):
                    scope.optin.spelling = "_" + scope.optin.spelling + "__"
    if "tuple-data" in skip:
        for v in (va, vb):
            for spec in _all_data(v):
                if isinstance(spec.value, tuple):
                    spec.value = repr(spec.value)  # (dataclass fields need immutables)
    return model


def _all_data(version: "Version"):
    for spec in version.slots.values():
        if isinstance(spec, Data):
            yield spec
    for _, k in classes_of(version):
        for spec in k.members.values():
            if isinstance(spec, Data):
                yield spec


@st.composite
def models(draw, max_funcs: int = 7, max_classes: int = 4, max_data: int = 4,
           kind_changes: bool = True) -> Model:
    slots: Dict[str, Dict[str, object]] = {"A": {}, "B": {}}
    order: List[str] = []
    # classes first (mixins, then regular classes), so that data may hold
    # instances and regular classes may derive from earlier ones
    nmix = draw(st.integers(0, 2))
    ncls = draw(st.integers(0, max_classes))
    mixins = ["M_%d" % i for i in range(nmix)]
    regular: List[str] = []
    for name in mixins + ["C_%d" % i for i in range(ncls)]:
        ka, kb = draw(class_pairs(name, regular, mixins, nested=name[0] == "C",
                                  kind_changes=kind_changes))
        for tag, k in (("A", ka), ("B", kb)):
            if k is not None:
                # bases must exist in the same version
                if k.base is not None and k.base not in slots[tag]:
                    k.base = None
                if k.mixin is not None and k.mixin not in slots[tag]:
                    k.mixin = None
                slots[tag][name] = k
        order.append(name)
        if name[0] == "C" and all(k is None or k.flavour == "plain" for k in (ka, kb)):
            regular.append(name)
    # functions
    nfun = draw(st.integers(1, max_funcs))
    for i in range(nfun):
        kind = draw(st.sampled_from(FUNC_KINDS + ("x",)))
        name = "%s_%d" % (kind, i)
        pa, pb = _pair(draw)
        prev = None
        for tag, present in (("A", pa), ("B", pb)):
            if not present:
                continue
            if kind == "x":
                if draw(st.booleans()):
                    f = draw(funcs("f"))
                    f.kind = "f"
                    slots[tag][name] = f
                else:
                    slots[tag][name] = Data(draw(data_literals))
                continue
            f = draw(funcs(kind, prev))
            prev = prev or f
            slots[tag][name] = f
        order.append(name)
    # module data
    ndata = draw(st.integers(0, max_data))
    for i in range(ndata):
        name = "d_%d" % i
        pa, pb = _pair(draw)
        for tag, present in (("A", pa), ("B", pb)):
            if not present:
                continue
            classes = [n for n in order if n in slots[tag] and n[0] == "C"
                       and slots[tag][n].flavour != "enum"]
            if classes and draw(st.integers(0, 4)) == 0:
                inst = Inst(draw(st.sampled_from(classes)))
                # the instance itself, or inside a list or a dict
                slots[tag][name] = Data(draw(st.sampled_from(
                    [inst, [inst], {"k": inst}, [1, (inst,)]])))
            else:
                slots[tag][name] = Data(draw(data_literals))
        order.append(name)
    data_names = [n for n in order if n[0] in "dx"]
    versions = {}
    for tag in VERSIONS:
        versions[tag] = Version(
            tag, slots[tag], [n for n in order if n in slots[tag]],
            optin=draw(optins(data_names)),
            version_dunder=draw(st.sampled_from([None, "1.0", "2.0." + tag])),
            all_dunder=draw(st.booleans()),
            doc=draw(st.booleans()),
        )
    model = Model(versions, counter_calls=draw(st.integers(1, 3)))
    # runtime mutations before each reload
    for phase, tag in ((0, "A"), (1, "B")):
        for scope, name, value in data_items(versions[tag]):
            how = draw(st.sampled_from(["none", "none", "rebind", "inplace"]))
            if how == "inplace" and not isinstance(value, (list, dict)):
                how = "rebind"
            model.mutations[(phase, scope, name)] = how
    return apply_skips(model)


def data_items(version: Version):
    """(scope path, name, literal) for every data name of a version; scope ""
    is the module, otherwise a class path like "C_1" or "C_1.N_0"."""
    for name in version.order:
        spec = version.slots[name]
        if isinstance(spec, Data):
            yield "", name, spec.value
        elif isinstance(spec, Klass):
            yield from _class_data_items(spec, name)


def _class_data_items(k: Klass, path: str):
    for name, spec in k.members.items():
        if isinstance(spec, Data):
            yield path, name, spec.value
        elif isinstance(spec, Klass):
            yield from _class_data_items(spec, path + "." + name)


def classes_of(version: Version):
    """(path, Klass) for every class of a version, nested ones included."""
    for name in version.order:
        spec = version.slots[name]
        if isinstance(spec, Klass):
            yield name, spec
            for mname, m in spec.members.items():
                if isinstance(m, Klass):
                    yield name + "." + mname, m


def class_at(version: Version, path: str) -> Optional[Klass]:
    parts = path.split(".")
    spec = version.slots.get(parts[0])
    for p in parts[1:]:
        if not isinstance(spec, Klass):
            return None
        spec = spec.members.get(p)
    return spec if isinstance(spec, Klass) else None


def replace(obj, **kw):
    return dataclasses.replace(obj, **kw)
