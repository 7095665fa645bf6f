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
            long n = PyLong_AsLong(v);
            if (num == NULL || n < 0 || n > 255) {
                goto done;
            }
            op_caches[PyLong_AsLong(num) & 255] = (unsigned char)n;
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
