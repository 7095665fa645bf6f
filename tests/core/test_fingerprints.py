"""Code fingerprints (_core.CodeFingerprints) and how a reload uses them:
equal exactly when the reload's comparison finds neither a difference nor a
move, carried from the watcher's helper as a blob, and remembered for live
code so that the next reload compares numbers instead of code objects."""

import gc
import marshal
import textwrap
import types
import weakref

import pytest

from reloader import _api, _core, _stamps


def tree(source: str) -> types.CodeType:
    return compile(textwrap.dedent(source), "/fp/mod.py", "exec", dont_inherit=True)


def func_code(code: types.CodeType, name: str) -> types.CodeType:
    return next(c for c in code.co_consts
                if isinstance(c, types.CodeType) and c.co_name == name)


def fp_of(source: str, name: str = "f"):
    code = tree(source)
    return _core.CodeFingerprints(code).get(func_code(code, name))


BASE = """
def f(a, b=2):
    x = [i * a for i in range(b)]
    return x, "s", 1, 1.5, (1, "t"), frozenset({1, 2, 3}), lambda: a
"""


def test_every_code_object_of_the_tree_has_one():
    code = tree(BASE + "class K:\n    def m(self):\n        return 1\n")
    fps = _core.CodeFingerprints(code)
    # module, f, its lambda (3.12 inlines the comprehension), K's body, m
    inner = [c for c in func_code(code, "f").co_consts if isinstance(c, types.CodeType)]
    assert len(fps) == 4 + len(inner)
    assert all(len(fps.get(c)) == 16 for c in [code, func_code(code, "f"), *inner])
    assert fps.get(compile("pass", "x", "exec")) is None


def test_equal_sources_give_equal_fingerprints():
    assert fp_of(BASE) == fp_of(BASE)
    # the set's order of insertion is not part of its value
    assert fp_of(BASE) == fp_of(BASE.replace("{1, 2, 3}", "{3, 1, 2}"))


@pytest.mark.parametrize("edit", [
    ("i * a", "i + a"),            # bytecode
    ('"s"', '"S"'),                # a str constant
    (", 1,", ", True,"),           # 1 and True are different constants
    ("1.5", "2.5"),                # a float constant
    ('(1, "t")', '(1, b"t")'),     # str and bytes inside a tuple
    ("{1, 2, 3}", "{1, 2, 4}"),    # a frozenset constant
    ("lambda: a", "lambda: -a"),   # code nested in the function's constants
    ("def f(a, b=2)", "def f(a, c=2)"),  # a local's name
    ("x = [", "y = ["),            # another local's name
])
def test_what_a_reload_compares_changes_it(edit):
    old, new = edit
    assert old in BASE
    changed = BASE.replace(old, new)
    assert _core.compare_code(func_code(tree(BASE), "f"), func_code(tree(changed), "f"))[0]
    assert fp_of(BASE) != fp_of(changed)


def test_a_move_changes_it():
    moved = "\n" + BASE
    assert _core.compare_code(func_code(tree(BASE), "f"), func_code(tree(moved), "f")) \
        == (False, True)
    assert fp_of(BASE) != fp_of(moved)


def test_code_with_a_constant_it_does_not_cover_has_none():
    code = tree("def big():\n    return 123456789012345678901234567890\n\ndef small():\n    return 1\n")
    fps = _core.CodeFingerprints(code)
    assert fps.get(func_code(code, "big")) is None
    assert fps.get(code) is None  # its parent holds it as a constant
    assert fps.get(func_code(code, "small")) is not None


def test_blob_carries_them_to_an_unmarshalled_copy():
    code = tree(BASE)
    blob = _core.CodeFingerprints(code).blob()
    copy = marshal.loads(marshal.dumps(code))
    attached = _core.CodeFingerprints(copy, blob)
    assert attached.blob() == blob
    assert attached.get(func_code(copy, "f")) == _core.CodeFingerprints(code).get(
        func_code(code, "f"))


def test_bad_input_is_refused():
    code = tree(BASE)
    blob = _core.CodeFingerprints(code).blob()
    with pytest.raises(ValueError, match="bytes of fingerprints"):
        _core.CodeFingerprints(code, blob[:-1])
    # fingerprints of another version of the source: refused, not trusted
    other = _core.CodeFingerprints(tree(BASE.replace("i * a", "i * a + 1"))).blob()
    assert len(other) == len(blob)
    with pytest.raises(ValueError, match="not of this code"):
        _core.CodeFingerprints(code, other)
    with pytest.raises(TypeError, match="must be bytes"):
        _core.CodeFingerprints(code, bytearray(blob))
    with pytest.raises(TypeError):
        _core.CodeFingerprints("not code")


def test_transaction_refuses_fingerprints_of_other_code(mods):
    m = mods.module("fa", "def f():\n    return 1\n")
    code = compile("def f():\n    return 2\n", m.__file__, "exec")
    other = _core.CodeFingerprints(compile("pass", "x", "exec"))
    f = m.f
    for bad in (other, b"1234"):
        with pytest.raises(TypeError, match="CodeFingerprints of its code"):
            _core.Transaction([(m.__name__, m, code, m.__file__, bad)])
    assert m.f is f and f() == 1


def offer_and_reload(mods, name: str, source: str):
    """Write the module, offer its code as the watcher does, reload."""
    mods.write({name + ".py": source})
    path = mods.file_of(name)
    with open(path, "rb") as fh:
        data = fh.read()
    code = compile(data, path, "exec", dont_inherit=True)
    _api.precompiled(path, _stamps.digest(data), code, data)
    return mods.reload(name)


MOD = """
def f(a=1):
    return a + {F}

def g():
    return {G}

class K:
    def m(self):
        return {M}
"""


def test_reload_learns_then_compares_fingerprints(mods):
    m = mods.module("fb", MOD.format(F=1, G=2, M=3))
    f, g, K, m_ = m.f, m.g, m.K, m.K.m
    codes = (f.__code__, g.__code__, m_.__code__)
    # first offered reload: full comparisons, which teach the unchanged code
    report = offer_and_reload(mods, "fb", MOD.format(F=1, G=20, M=3))
    assert report.updated == (mods.n("fb.g"),)
    assert f.__code__ is codes[0] and m_.__code__ is codes[2]
    assert _core.known_fingerprint(f.__code__) is not None
    assert _core.known_fingerprint(m_.__code__) is not None
    # second: f and K.m change, g (now on its new code) does not
    g_code = g.__code__
    report = offer_and_reload(mods, "fb", MOD.format(F=10, G=20, M=30))
    assert set(report.updated) == {mods.n("fb.f"), mods.n("fb.K"), mods.n("fb.K.m")}
    assert m.f is f and m.g is g and m.K is K and K.m is m_
    assert (f(), g(), K().m()) == (11, 20, 30)
    assert g.__code__ is g_code
    # a move is an update of positions, never "unchanged"
    report = offer_and_reload(mods, "fb", "# moved\n# down\n" + MOD.format(F=10, G=20, M=30))
    assert f.__code__.co_firstlineno == 4 and (f(), g()) == (11, 20)


def test_hand_assigned_code_is_not_taken_for_the_known_one(mods):
    m = mods.module("fc", MOD.format(F=1, G=2, M=3))
    offer_and_reload(mods, "fc", MOD.format(F=1, G=2, M=3))
    f = m.f
    assert _core.known_fingerprint(f.__code__) is not None
    f.__code__ = m.g.__code__.replace(co_name="f", co_argcount=1, co_nlocals=1,
                                      co_varnames=("a",))
    assert f() == 2
    offer_and_reload(mods, "fc", MOD.format(F=1, G=2, M=3))
    assert m.f is f and f() == 2  # the source's own f again


def test_known_fingerprints_do_not_keep_dead_code(mods):
    source = "".join("def f%d():\n    return %s\n\n" % (i, "{V}") for i in range(10))
    m = mods.module("fd", source.format(V=0))
    first = weakref.ref(m.f0.__code__)
    # learn all ten, then replace them, over and over: each round leaves ten
    # codes that only the table holds; growing past its size sweeps them
    for v in range(60):
        offer_and_reload(mods, "fd", source.format(V=v))
        offer_and_reload(mods, "fd", source.format(V=v))
        assert _core.known_fingerprint(m.f0.__code__) is not None
        assert m.f9() == v
    gc.collect()
    assert first() is None
    _core.forget_fingerprints()
    code = weakref.ref(m.f0.__code__)
    offer_and_reload(mods, "fd", source.format(V=99))  # full comparisons again
    gc.collect()
    assert code() is None and m.f0() == 99
