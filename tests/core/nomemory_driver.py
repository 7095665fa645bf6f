"""Fail the n-th allocation of a reload's plan and commit, for n = start,
start+step, ...

Run in its own process (a crash must not take pytest down). For each n the
batch either applies completely or raises and leaves the module exactly as
it was. The new module code itself runs without injected faults: CPython
3.12's own function creation crashes under them (a plain exec() of the same
module does), and what this checks is the core's error paths.
Prints one line: "checked N failure points, M applied".
"""
import gc
import os
import sys
import tempfile
import textwrap

import _testcapi

import reloader
from reloader import _core

V1 = textwrap.dedent("""
    import enum
    import functools
    LIMIT = 1
    STATE = [1]

    def make(k):
        def scale(x):
            return x * k
        return scale

    double = make(2)

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*a):
            return fn(*a)
        return wrapper

    @deco
    def hello():
        return "v1"

    class Base:
        def who(self):
            return "base1"

    class K(Base):
        X = 1
        def who(self):
            return "k1:" + super().who()
        @property
        def p(self):
            return 1

    class Kind(enum.Enum):
        A = 1
        B = 2

    # containers the new code fills with its throwaway objects
    __reload_data__ = {"LIMIT", "TABLE"}
    TABLE = {K: [Kind.A], Kind.B: (Base,)}

    def pick(kinds=(Kind.A, Kind.B), allowed=(Base,)):
        return (kinds[0] is Kind.A and allowed[0] is Base
                and TABLE[K][0] is Kind.A and TABLE[Kind.B][0] is Base)
""")
V2 = V1.replace('"v1"', '"v2"').replace("base1", "base2").replace("k1:", "k2:") \
       .replace("LIMIT = 1", "LIMIT = 2").replace("return x * k", "return x * k + 1") \
       .replace("return 1\n", "return 2\n") + "\ndef added():\n    return 3\n"


def snapshot(m):
    return {k: v for k, v in vars(m).items()}, vars(m.K).copy(), m.hello.__wrapped__.__code__


def main():
    start, stop, step = (int(a) for a in sys.argv[1:4])
    root = tempfile.mkdtemp()
    sys.path.insert(0, root)
    path = os.path.join(root, "nomem_mod.py")
    with open(path, "w") as fh:
        fh.write(V1)
    import nomem_mod as m
    k = m.K()
    checked = applied = 0
    def write(src):
        # compile outside the fault window: CPython's own compiler is not
        # safe against a failed allocation (3.12.1 dereferences NULL)
        with open(path, "w") as fh:
            fh.write(src)
        data = src.encode()
        reloader._api.precompiled(path, reloader._stamps.digest(data),
                                  compile(data, path, "exec", dont_inherit=True))

    for n in range(start, stop, step):
        write(V2 if checked % 2 == 0 else V1)
        was = (m.hello(), k.who(), m.double(3), m.LIMIT, k.p, m.pick())
        assert was[-1] is True, "containers hold throwaway objects"
        before = snapshot(m)
        meta = list(sys.meta_path)
        failed = False
        mod = sys.modules["nomem_mod"]
        code = reloader._api._code_cache[path][1]
        txn = _core.Transaction([("nomem_mod", mod, code, path)])
        _core.enter_reloading()
        try:
            txn.execute()
        finally:
            _core.exit_reloading()
        _testcapi.set_nomemory(n, n + 1)  # fail exactly the n-th allocation
        try:
            txn.plan()
            txn.commit()
        except Exception as exc:  # under a failed allocation any error may surface
            failed = True
            if os.environ.get("NOMEM_VERBOSE"):
                import traceback
                traceback.print_exception(exc, limit=-3)
        finally:
            _testcapi.remove_mem_hooks()
        txn.release()
        del txn
        checked += 1
        if os.environ.get("NOMEM_VERBOSE"):
            print(n, "failed" if failed else "applied", flush=True)
        gc.collect()  # a bad refcount shows up in the round that made it
        assert sys.meta_path == meta, "meta_path changed"
        assert gc.isenabled(), "gc left disabled"
        assert sys.modules["nomem_mod"] is m
        if failed:
            after = snapshot(m)
            assert after[0].keys() == before[0].keys(), (n, "globals changed")
            for key, val in before[0].items():
                assert after[0][key] is val, (n, key)
            assert after[2] is before[2], (n, "wrapped function changed")
            assert (m.hello(), k.who(), m.double(3), m.LIMIT, k.p, m.pick()) == was, n
        else:
            applied += 1
            # reload the same content again, for real, so the next round
            # starts from a known state
        # bring the module to a known version without memory faults
        write(V1)
        reloader.reload("nomem_mod")
        assert (m.hello(), k.who(), m.double(3), k.p) == ("v1", "k1:base1", 6, 1)
    print("checked %d failure points, %d applied" % (checked, applied))


if __name__ == "__main__":
    main()
