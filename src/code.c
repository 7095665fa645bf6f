/* code.c: compare code objects the way a reload needs: what decides
 * behaviour apart from positions, then the positions, without running code
 * or (for bytecode that ran) allocating a comparison copy. */
#include "reloader.h"

/* code comparison ********************************************************/

#if RL_PY311
/* Bytecode that ran is specialised in place (quickened): an instruction
 * may carry a specialised opcode, and its inline caches hold counters and
 * versions. CPython's own comparison form (PyCode_GetCode) maps each opcode
 * to its base opcode, keeps the oparg and zeroes the caches; it allocates a
 * copy per code object. These tables let the raw bytes of a code object that
 * ran be compared with those of a fresh one directly, the same way. Built
 * once from dis and opcode; an opcode they do not know (instrumented code of
 * a debugger or profiler, executors) sends the comparison down CPython's
 * path. */
#define RL_OP_UNKNOWN 0xFFFF
static unsigned short deopt_op[256];
static unsigned char op_caches[256];
static int deopt_state;  /* 0 not built, 1 ready, -1 unavailable */

static int
fill_deopt_tables(void)
{
    PyObject *dis = PyImport_ImportModule("dis");
    PyObject *opcode = PyImport_ImportModule("opcode");
    PyObject *all = NULL, *deopt = NULL, *caches = NULL, *k, *v;
    int rv = -1;

    if (dis == NULL || opcode == NULL) {
        goto done;
    }
    all = PyObject_GetAttrString(dis, "_all_opmap");
    deopt = PyObject_GetAttrString(dis, "deoptmap");
    caches = PyObject_GetAttrString(opcode, "_inline_cache_entries");
    if (all == NULL || deopt == NULL || caches == NULL || !PyDict_Check(all)
        || !PyDict_Check(deopt)) {
        goto done;
    }
    for (int i = 0; i < 256; i++) {
        deopt_op[i] = RL_OP_UNKNOWN;
        op_caches[i] = 0;
    }
    Py_ssize_t pos = 0;
    while (PyDict_Next(all, &pos, &k, &v)) {
        long num = PyLong_AsLong(v);
        if (num < 0 || !PyUnicode_Check(k)) {
            goto done;
        }
        if (num > 255) {
            continue;  /* a pseudo-instruction of the compiler, never in code */
        }
        /* instrumented opcodes and executors stand for another instruction
         * that only the interpreter's side tables know */
        if (PyUnicode_Tailmatch(k, rl_st.str_instrumented, 0, PY_SSIZE_T_MAX, -1) == 1
            || PyUnicode_CompareWithASCIIString(k, "ENTER_EXECUTOR") == 0) {
            continue;
        }
        PyObject *base = PyDict_GetItemWithError(deopt, k);
        if (base == NULL && PyErr_Occurred()) {
            goto done;
        }
        PyObject *bnum = PyDict_GetItemWithError(all, base != NULL ? base : k);
        if (bnum == NULL) {
            goto done;
        }
        long b = PyLong_AsLong(bnum);
        if (b < 0 || b > 255) {
            goto done;
        }
        deopt_op[num] = (unsigned short)b;
    }
    if (PyList_Check(caches)) {  /* 3.11, 3.12: indexed by opcode */
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(caches) && i < 256; i++) {
            long n = PyLong_AsLong(PyList_GET_ITEM(caches, i));
            if (n < 0 || n > 255) {
                goto done;
            }
            op_caches[i] = (unsigned char)n;
        }
    }
    else if (PyDict_Check(caches)) {  /* 3.13: by name */
        pos = 0;
        while (PyDict_Next(caches, &pos, &k, &v)) {
            PyObject *num = PyDict_GetItemWithError(all, k);
            long op = num != NULL ? PyLong_AsLong(num) : -1;
            long n = PyLong_AsLong(v);
            if (op < 0 || op > 255 || n < 0 || n > 255) {
                goto done;
            }
            op_caches[op] = (unsigned char)n;
        }
    }
    else {
        goto done;
    }
    rv = PyErr_Occurred() ? -1 : 0;
done:
    Py_XDECREF(dis);
    Py_XDECREF(opcode);
    Py_XDECREF(all);
    Py_XDECREF(deopt);
    Py_XDECREF(caches);
    return rv;
}

void
rl_code_tables_init(void)
{
    if (deopt_state != 0) {
        return;
    }
    rl_exc exc;
    rl_exc_save(&exc);
    deopt_state = fill_deopt_tables() < 0 ? -1 : 1;
    PyErr_Clear();  /* without the tables, CPython's path is taken */
    rl_exc_restore(&exc);
}

/* 1 same bytecode, 0 different, -1 unknown (take CPython's path). */
static int
deopt_equal(PyCodeObject *a, PyCodeObject *b)
{
    if (deopt_state != 1) {
        return -1;
    }
    Py_ssize_t n = Py_SIZE(a);
    if (n != Py_SIZE(b)) {
        return 0;  /* specialising never changes the length */
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned dx = deopt_op[rl_unit_op(a, i)], dy = deopt_op[rl_unit_op(b, i)];
        if (dx == RL_OP_UNKNOWN || dy == RL_OP_UNKNOWN) {
            return -1;
        }
        if (dx != dy || rl_unit_arg(a, i) != rl_unit_arg(b, i)) {
            return 0;
        }
        i += op_caches[dx];  /* caches: counters and versions, not code */
    }
    return 1;
}
#else
void
rl_code_tables_init(void)
{
}
#endif


static int
same_bytes(PyObject *a, PyObject *b)
{
    if (a == b) {
        return 1;
    }
    if (a == NULL || b == NULL) {
        return 0;
    }
    Py_ssize_t n = PyBytes_GET_SIZE(a);
    return n == PyBytes_GET_SIZE(b)
           && memcmp(PyBytes_AS_STRING(a), PyBytes_AS_STRING(b), n) == 0;
}

static int
same_consts(PyObject *a, PyObject *b, int *differs, int *moved)
{
    Py_ssize_t n = PyTuple_GET_SIZE(a);
    if (n != PyTuple_GET_SIZE(b)) {
        *differs = 1;
        return 0;
    }
    for (Py_ssize_t i = 0; i < n && !*differs; i++) {
        PyObject *x = PyTuple_GET_ITEM(a, i), *y = PyTuple_GET_ITEM(b, i);
        if (x == y) {
            continue;
        }
        if (PyCode_Check(x) && PyCode_Check(y)) {
            if (rl_code_compare(x, y, differs, moved) < 0) {
                return -1;
            }
        }
        else if (!rl_same_value(x, y)) {
            *differs = 1;
        }
    }
    return 0;
}

/* Compares what decides behaviour (bytecode, constants, names, signature,
 * flags, exception table) apart from positions; never uses code ==, which
 * costs ~350 ns a pair and counts line numbers. Accumulates into the flags. */
int
rl_code_compare(PyObject *a, PyObject *b, int *differs, int *moved)
{
    PyCodeObject *x = (PyCodeObject *)a, *y = (PyCodeObject *)b;
    PyObject *bx = NULL, *by = NULL;
    int rv = -1;

    if (a == b || *differs) {
        return 0;
    }
    if (x->co_argcount != y->co_argcount
        || x->co_posonlyargcount != y->co_posonlyargcount
        || x->co_kwonlyargcount != y->co_kwonlyargcount
        || x->co_flags != y->co_flags
        || !(x->co_name == y->co_name || rl_same_value(x->co_name, y->co_name))) {
        *differs = 1;
        return 0;
    }
#if RL_PY311
    int same = rl_code_raw_equal(x, y) ? 1 : deopt_equal(x, y);
#else
    int same = -1;  /* co_code is the bytecode itself */
#endif
    if (same == 0) {
        *differs = 1;
        return 0;
    }
    if (same < 0) {
        bx = rl_code_bytes(x);
        by = rl_code_bytes(y);
        if (bx == NULL || by == NULL) {
            goto done;
        }
        if (!same_bytes(bx, by)) {
            *differs = 1;
            rv = 0;
            goto done;
        }
    }
    if (!same_bytes(rl_code_exceptiontable(x), rl_code_exceptiontable(y))
        || !rl_same_value(x->co_names, y->co_names)
#if RL_PY311
        || !rl_same_value(x->co_localsplusnames, y->co_localsplusnames)
        || !same_bytes(x->co_localspluskinds, y->co_localspluskinds)
#else
        || !rl_same_value(x->co_varnames, y->co_varnames)
        || !rl_same_value(x->co_cellvars, y->co_cellvars)
        || !rl_same_value(x->co_freevars, y->co_freevars)
#endif
    ) {
        *differs = 1;
        rv = 0;
        goto done;
    }
    if (same_consts(x->co_consts, y->co_consts, differs, moved) < 0) {
        goto done;
    }
    if (x->co_firstlineno != y->co_firstlineno
        || !same_bytes(x->co_linetable, y->co_linetable)) {
        *moved = 1;
    }
    rv = 0;
done:
    Py_XDECREF(bx);
    Py_XDECREF(by);
    return rv;
}

/* fingerprints ***********************************************************/

/* Two 64-bit lanes of different construction, so that a collision needs
 * both; each step is a bijection of the lane for a given word. Not
 * cryptographic: the code offered is the program's own. */
static inline uint64_t
rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline void
fp_word(rl_fp *h, uint64_t w)
{
    h->a = (h->a ^ w) * 0x9E3779B97F4A7C15ull;
    h->a ^= h->a >> 29;
    h->b = rotl64(h->b + w * 0xC2B2AE3D27D4EB4Full, 31) * 0x165667B19E3779F9ull;
}

static void
fp_bytes(rl_fp *h, const void *data, size_t n)
{
    const unsigned char *p = data;
    fp_word(h, n);
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        fp_word(h, w);
    }
    if (n > 0) {
        uint64_t w = 0;
        memcpy(&w, p, n);
        fp_word(h, w);
    }
}

/* tags keep values of different types apart (True and 1, b"a" and "a") */
enum { FP_NONE = 1, FP_ELLIPSIS, FP_BOOL, FP_INT, FP_FLOAT, FP_COMPLEX,
       FP_STR, FP_BYTES, FP_TUPLE, FP_FROZENSET, FP_CODE };

static int fp_value(rl_fp *h, PyObject *v, const rl_fpmap *memo);

static int
fp_str(rl_fp *h, PyObject *s)
{
    if (rl_str_ready(s) < 0) {
        return -1;
    }
    fp_word(h, FP_STR | (uint64_t)PyUnicode_KIND(s) << 8);
    fp_bytes(h, PyUnicode_DATA(s),
             (size_t)PyUnicode_GET_LENGTH(s) * PyUnicode_KIND(s));
    return 1;
}

/* 1 hashed, 0 a value the fingerprint does not cover, -1 error */
static int
fp_value(rl_fp *h, PyObject *v, const rl_fpmap *memo)
{
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyUnicode_Type) {
        return fp_str(h, v);
    }
    if (v == Py_None || v == Py_Ellipsis) {
        fp_word(h, v == Py_None ? FP_NONE : FP_ELLIPSIS);
        return 1;
    }
    if (t == &PyBool_Type) {
        fp_word(h, FP_BOOL | (uint64_t)(v == Py_True) << 8);
        return 1;
    }
    if (t == &PyLong_Type) {
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow) {
            return 0;  /* rare in code; compared in full */
        }
        if (x == -1 && PyErr_Occurred()) {
            return -1;
        }
        fp_word(h, FP_INT);
        fp_word(h, (uint64_t)x);
        return 1;
    }
    if (t == &PyFloat_Type) {
        double d = PyFloat_AS_DOUBLE(v);  /* bitwise, as rl_same_value */
        fp_word(h, FP_FLOAT);
        fp_bytes(h, &d, sizeof d);
        return 1;
    }
    if (t == &PyComplex_Type) {
        Py_complex c = PyComplex_AsCComplex(v);
        fp_word(h, FP_COMPLEX);
        fp_bytes(h, &c, sizeof c);
        return 1;
    }
    if (t == &PyBytes_Type) {
        fp_word(h, FP_BYTES);
        fp_bytes(h, PyBytes_AS_STRING(v), (size_t)PyBytes_GET_SIZE(v));
        return 1;
    }
    if (t == &PyTuple_Type) {
        fp_word(h, FP_TUPLE);
        fp_word(h, (uint64_t)PyTuple_GET_SIZE(v));
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(v); i++) {
            int r = fp_value(h, PyTuple_GET_ITEM(v, i), memo);
            if (r <= 0) {
                return r;
            }
        }
        return 1;
    }
    if (t == &PyFrozenSet_Type) {
        /* iteration order is not part of the value: sum the items' own */
        rl_fp sum = {0, 0};
        PyObject *it = PyObject_GetIter(v), *item;
        if (it == NULL) {
            return -1;
        }
        while ((item = PyIter_Next(it)) != NULL) {
            rl_fp one = {0, 0};
            int r = fp_value(&one, item, memo);
            Py_DECREF(item);
            if (r <= 0) {
                Py_DECREF(it);
                return r;
            }
            sum.a += one.a;
            sum.b += one.b;
        }
        Py_DECREF(it);
        if (PyErr_Occurred()) {
            return -1;
        }
        fp_word(h, FP_FROZENSET);
        fp_word(h, (uint64_t)PySet_GET_SIZE(v));
        fp_word(h, sum.a);
        fp_word(h, sum.b);
        return 1;
    }
    if (t == &PyCode_Type) {
        rl_fp sub;
        const rl_fp *known = memo ? rl_fpmap_get(memo, v) : NULL;
        if (known == NULL) {
            int r = rl_code_fingerprint(v, memo, &sub);
            if (r <= 0) {
                return r;
            }
            known = &sub;
        }
        fp_word(h, FP_CODE);
        fp_word(h, known->a);
        fp_word(h, known->b);
        return 1;
    }
    return 0;  /* range, slice, ...: compared in full */
}

int
rl_code_fingerprint(PyObject *code, const rl_fpmap *memo, rl_fp *out)
{
    PyCodeObject *co = (PyCodeObject *)code;
    rl_fp h = {0x243F6A8885A308D3ull, 0x13198A2E03707344ull};
    int r;

    fp_word(&h, FP_CODE);
    fp_word(&h, (uint64_t)co->co_argcount | (uint64_t)co->co_posonlyargcount << 16
                | (uint64_t)co->co_kwonlyargcount << 32);
    fp_word(&h, (uint64_t)(unsigned)co->co_flags);
    if ((r = fp_str(&h, co->co_name)) <= 0) {
        return r;
    }
#if RL_PY311
    /* the comparison form: base opcodes and opargs, caches skipped */
    rl_code_tables_init();
    if (deopt_state != 1) {
        return 0;
    }
    Py_ssize_t n = Py_SIZE(co);
    fp_word(&h, (uint64_t)n);
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned op = deopt_op[rl_unit_op(co, i)];
        if (op == RL_OP_UNKNOWN) {
            return 0;  /* instrumented: CPython's path compares it */
        }
        fp_word(&h, (uint64_t)op << 8 | rl_unit_arg(co, i));
        i += op_caches[op];
    }
    fp_bytes(&h, PyBytes_AS_STRING(co->co_exceptiontable),
             (size_t)PyBytes_GET_SIZE(co->co_exceptiontable));
    if ((r = fp_value(&h, co->co_names, NULL)) <= 0
        || (r = fp_value(&h, co->co_localsplusnames, NULL)) <= 0
        || (r = fp_value(&h, co->co_localspluskinds, NULL)) <= 0) {
        return r;
    }
#else
    if ((r = fp_value(&h, co->co_code, NULL)) <= 0
        || (r = fp_value(&h, co->co_names, NULL)) <= 0
        || (r = fp_value(&h, co->co_varnames, NULL)) <= 0
        || (r = fp_value(&h, co->co_cellvars, NULL)) <= 0
        || (r = fp_value(&h, co->co_freevars, NULL)) <= 0) {
        return r;
    }
#endif
    if ((r = fp_value(&h, co->co_consts, memo)) <= 0) {
        return r;
    }
    /* positions: a moved definition is not an unchanged one */
    fp_word(&h, (uint64_t)(unsigned)co->co_firstlineno);
    if ((r = fp_value(&h, co->co_linetable, NULL)) <= 0) {
        return r;
    }
    /* never {0, 0}, which stands for none */
    out->a = h.a | 1;
    out->b = h.b;
    return 1;
}
