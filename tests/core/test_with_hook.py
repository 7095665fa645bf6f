"""_core.with_hook: which reloaded classes need the instance walk."""

import gc

import pytest

from reloader import _core

HOOK = "__reload_instance__"


def _hook(self):
    pass


def test_a_class_with_the_hook_is_listed_and_others_are_not():
    A = type("A", (), {HOOK: _hook})
    B = type("B", (), {})
    assert _core.with_hook((B, A, B), HOOK) == (A,)
    assert _core.with_hook((), HOOK) == ()


def test_the_hook_on_a_subclass_lists_each_base_it_derives_from():
    Base = type("Base", (), {})
    Other = type("Other", (), {})
    Mid = type("Mid", (Base,), {})
    Leaf = type("Leaf", (Mid, Other), {HOOK: _hook})  # two bases
    Plain = type("Plain", (), {})
    got = _core.with_hook((Base, Other, Plain, Mid), HOOK)
    assert got == (Base, Other, Mid)
    assert got[0] is Base and got[1] is Other and got[2] is Mid
    del Leaf


def test_none_means_no_hook_and_an_inherited_hook_counts():
    Off = type("Off", (), {HOOK: None})
    On = type("On", (), {HOOK: _hook})
    Child = type("Child", (On,), {})
    assert _core.with_hook((Off, Child), HOOK) == (Child,)


def test_a_dead_subclass_does_not_count():
    Base = type("Base", (), {})
    Sub = type("Sub", (Base,), {HOOK: _hook})
    assert _core.with_hook((Base,), HOOK) == (Base,)
    del Sub
    gc.collect()
    assert _core.with_hook((Base,), HOOK) == ()


def test_only_what_the_class_defines_or_inherits_counts():
    # a metaclass attribute, or a metaclass __getattr__ that answers every
    # name (a lazy config), is not a hook the instances have
    class Meta(type):
        __reload_instance__ = _hook

    class Lazy(type):
        def __getattr__(cls, name):
            return True

    class Loud(type):
        def __getattribute__(cls, name):
            raise RuntimeError("no code of the class may run here")

    A, B, C = Meta("A", (), {}), Lazy("B", (), {}), Loud("C", (), {})
    assert _core.with_hook((A, B, C), HOOK) == ()
    D = Loud("D", (), {HOOK: _hook})
    assert _core.with_hook((D,), HOOK) == (D,)
    E = Loud("E", (), {})
    F = Loud("F", (E,), {HOOK: _hook})  # found through type.__subclasses__
    assert _core.with_hook((E,), HOOK) == (E,)
    del F


@pytest.mark.parametrize("args", [
    ([int], HOOK),        # not a tuple
    ((int, 3), HOOK),     # not a class
    ((int,), 3),          # name not a str
])
def test_bad_input_is_a_type_error(args):
    with pytest.raises(TypeError):
        _core.with_hook(*args)


def test_each_failed_allocation_is_a_memory_error_or_the_right_answer():
    _testcapi = pytest.importorskip("_testcapi")
    if not hasattr(_testcapi, "set_nomemory"):
        pytest.skip("this CPython has no allocation-failure hook")
    Base = type("Base", (), {})
    Mid = type("Mid", (Base,), {})
    Leaf = type("Leaf", (Mid,), {HOOK: _hook})
    Plain = [type("P%d" % i, (), {}) for i in range(3)]
    classes = (Plain[0], Base, Plain[1], Mid, Plain[2])
    want = (Base, Mid)
    outcomes = set()
    for n in range(1, 40):
        _testcapi.set_nomemory(n, n + 1)
        try:
            got = _core.with_hook(classes, HOOK)
        except MemoryError:
            got = None
        finally:
            _testcapi.remove_mem_hooks()
        assert got is None or got == want
        outcomes.add(got is None)
    assert outcomes == {True, False}  # both a failure and a full answer
    del Leaf
