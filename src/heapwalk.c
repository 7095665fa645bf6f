/* heapwalk.c: find live instances of reloaded classes with one walk of the
 * GC heap, and (3.10/3.11) the functions whose globals are a shadow dict. */
#include "reloader.h"

typedef struct {
    PyObject *classes;   /* tuple of types */
    PyObject *out;       /* list */
    PyTypeObject *last;  /* one-entry cache: heaps hold runs of one type */
    int last_hit;
    int failed;
} walk_ctx;

static int
matches(walk_ctx *ctx, PyTypeObject *t)
{
    if (t == ctx->last) {
        return ctx->last_hit;
    }
    int hit = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(ctx->classes) && !hit; i++) {
        hit = PyType_IsSubtype(t, (PyTypeObject *)PyTuple_GET_ITEM(ctx->classes, i));
    }
    ctx->last = t;
    ctx->last_hit = hit;
    return hit;
}

/* Pure C: type checks and an append; runs no Python code, frees nothing. */
static int
visit(PyObject *op, void *arg)
{
    walk_ctx *ctx = arg;
    PyTypeObject *t = Py_TYPE(op);
    if (!(t->tp_flags & Py_TPFLAGS_HEAPTYPE) || op == ctx->out) {
        return 1;  /* instances of Python classes only */
    }
    if (matches(ctx, t) && PyList_Append(ctx->out, op) < 0) {
        ctx->failed = 1;
        return 0;  /* stop */
    }
    return 1;      /* continue (the 3.12/3.13 docs say the opposite) */
}

PyObject *
rl_find_instances(PyObject *classes)
{
    walk_ctx ctx = {classes, PyList_New(0), NULL, 0, 0};
    if (ctx.out == NULL) {
        return NULL;
    }
#if RL_PY312
    PyUnstable_GC_VisitObjects(visit, &ctx);
#else
    /* no C visitor before 3.12: gc.get_objects() is the cheapest walk */
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *all = gc ? PyObject_CallMethod(gc, "get_objects", NULL) : NULL;
    Py_XDECREF(gc);
    if (all == NULL) {
        Py_DECREF(ctx.out);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(all) && !ctx.failed; i++) {
        visit(PyList_GET_ITEM(all, i), &ctx);
    }
    Py_DECREF(all);
#endif
    if (ctx.failed) {
        Py_DECREF(ctx.out);
        return NULL;
    }
    return ctx.out;
}

PyObject *
rl_find_functions_with_globals(PyObject *dicts)
{
    PyObject *gc = NULL, *fn = NULL, *refs = NULL, *out = NULL;
    out = PyList_New(0);
    if (out == NULL || PyList_GET_SIZE(dicts) == 0) {
        return out;
    }
    gc = PyImport_ImportModule("gc");
    fn = gc ? PyObject_GetAttrString(gc, "get_referrers") : NULL;
    PyObject *args = fn ? PyList_AsTuple(dicts) : NULL;
    refs = args ? PyObject_Call(fn, args, NULL) : NULL;
    Py_XDECREF(args);
    if (refs == NULL || !PyList_Check(refs)) {
        Py_CLEAR(out);
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(refs); i++) {
        PyObject *f = PyList_GET_ITEM(refs, i);
        if (PyFunction_Check(f) && PyList_Append(out, f) < 0) {
            Py_CLEAR(out);
            goto done;
        }
    }
done:
    Py_XDECREF(gc);
    Py_XDECREF(fn);
    Py_XDECREF(refs);
    return out;
}
