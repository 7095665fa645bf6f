"""Source generators for the benchmark modules.

Every generator takes a round tag ``r``: the edited body returns a value
that depends on it, so a stale code object gives a wrong answer.
"""

from __future__ import annotations


def b1_module(F: int, C: int, M: int, defaults: bool, r: int) -> str:
    """F functions and C classes of M methods; function f_{F//2} is the one
    edited (its body returns ``x + y + 1000 * r``)."""
    target = F // 2
    out = ['"""Generated module: %d functions, %d classes x %d methods."""' % (F, C, M),
           "", "LIMIT = 100", "NAMES = ['a', 'b']", ""]
    for i in range(F):
        sig = "x, y=%d, z='s%d'" % (i, i) if defaults else "x, y, z"
        out.append("def f_%d(%s):" % (i, sig))
        if i == target:
            out.append("    return x + y + 1000 * %d" % r)
        else:
            out.append("    t = x * %d + y" % i)
            out.append("    if t > LIMIT:")
            out.append("        return t - %d" % i)
            out.append("    return t + len(z)")
        out.append("")
    for c in range(C):
        out.append("class C_%d:" % c)
        out.append('    """Class %d."""' % c)
        out.append("    KIND = %d" % c)
        out.append("")
        out.append("    def __init__(self, v=0):")
        out.append("        self.v = v")
        out.append("        self.w = %d" % c)
        for m in range(1, M):
            out.append("")
            if defaults:
                out.append("    def m_%d(self, x, k=%d):" % (m, m))
                out.append("        return self.v + x * k + self.w")
            else:
                out.append("    def m_%d(self, x):" % m)
                out.append("        return self.v + x * %d + self.w" % m)
        out.append("")
    return "\n".join(out) + "\n"


def b1_target(F: int) -> str:
    return "f_%d" % (F // 2)


def b2_module(i: int, nfuncs: int, r: int) -> str:
    """One module of the B2 package; f_{nfuncs//2} is edited."""
    target = nfuncs // 2
    out = ['"""Package module %d."""' % i, "", "SCALE = %d" % i, ""]
    for k in range(nfuncs):
        if k % 2:
            out.append("def f_%d(x, y=%d):" % (k, k))
        else:
            out.append("def f_%d(x, y):" % k)
        if k == target:
            out.append("    return x + y + 1000 * %d" % r)
        else:
            out.append("    return x * SCALE + y - %d" % k)
        out.append("")
    return "\n".join(out) + "\n"


def b3_module(nclasses: int, hook: bool, r: int) -> str:
    """nclasses small classes; with hook=True each has __reload_instance__.
    Method ``tag`` returns r."""
    out = ['"""B3 classes."""', ""]
    for c in range(nclasses):
        out.append("class K_%d:" % c)
        out.append("    def __init__(self):")
        out.append("        self.seen = 0")
        out.append("        self.c = %d" % c)
        out.append("")
        out.append("    def tag(self):")
        out.append("        return %d" % r)
        out.append("")
        out.append("    def size(self):")
        out.append("        return self.c + 1")
        if hook:
            out.append("")
            out.append("    def __reload_instance__(self):")
            out.append("        self.seen += 1")
        out.append("")
    return "\n".join(out) + "\n"


def b4_module(variant: int) -> str:
    """The steady-state module. The two variants differ in a constant, the
    method bodies and the class docstring (so every reload writes the class)."""
    return (
        '"""B4 module."""\n\n'
        "def f(x):\n"
        "    return x + %d\n\n"
        "class K:\n"
        '    """K, variant %d."""\n'
        "    CONST = 3\n\n"
        "    def __init__(self):\n"
        "        self.v = 1\n\n"
        "    def m(self):\n"
        "        return self.v + %d\n" % (variant, variant, variant)
    )


def b4_caller(tags) -> str:
    """Loops that call into the B4 modules; never reloaded."""
    out = ['"""B4 call sites (never reloaded)."""', ""]
    for t in tags:
        out.append("from b4_%s import f as f_%s, K as K_%s" % (t, t, t))
    out.append("")
    for t in tags:
        out.append("def call_%s(n):" % t)
        out.append("    s = 0")
        out.append("    for i in range(n):")
        out.append("        s += f_%s(i)" % t)
        out.append("    return s")
        out.append("")
        out.append("def attr_%s(n, o):" % t)
        out.append("    s = 0")
        out.append("    for i in range(n):")
        out.append("        s += o.v")
        out.append("    return s")
        out.append("")
        out.append("def meth_%s(n, o):" % t)
        out.append("    s = 0")
        out.append("    for i in range(n):")
        out.append("        s += o.m()")
        out.append("    return s")
        out.append("")
        out.append("def cls_%s(n):" % t)
        out.append("    s = 0")
        out.append("    for i in range(n):")
        out.append("        s += K_%s.CONST" % t)
        out.append("    return s")
        out.append("")
    return "\n".join(out) + "\n"


def b7_module(i: int) -> str:
    return (
        '"""Small module %d."""\n\n'
        "X = %d\n\n"
        "def f(x):\n"
        "    return x + X\n\n"
        "class K:\n"
        "    def m(self):\n"
        "        return %d\n" % (i, i, i)
    )
