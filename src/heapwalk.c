/* heapwalk.c: find live instances of reloaded classes with one walk of the
 * GC heap, and (3.10/3.11) the functions whose globals are a shadow dict. */
#include "reloader.h"

typedef struct {
    rl_ptrmap types;     /* every target class and subclass -> itself */
    PyObject *out;       /* list */
    int failed;
} walk_ctx;

/* Pure C: a type check, one probe and an append; runs no Python code and
 * frees nothing. */
static int
visit(PyObject *op, void *arg)
{
    walk_ctx *ctx = arg;
    PyTypeObject *t = Py_TYPE(op);
    if (!(t->tp_flags & Py_TPFLAGS_HEAPTYPE) || op == ctx->out) {
        return 1;  /* instances of Python classes only */
    }
    if (rl_ptrmap_get(&ctx->types, (PyObject *)t) != NULL
        && PyList_Append(ctx->out, op) < 0) {
        ctx->failed = 1;
        return 0;  /* stop */
    }
    return 1;      /* continue (the 3.12/3.13 docs say the opposite) */
}

/* Put cls and all its subclasses, recursively, into the set. */
static int
add_with_subclasses(rl_ptrmap *set, PyObject *cls, int depth)
{
    if (rl_ptrmap_get(set, cls) != NULL) {
        return 0;
    }
    if (depth > 200 || rl_ptrmap_put(set, cls, cls) < 0) {
        return depth > 200 ? 0 : -1;
    }
    PyObject *subs = PyObject_CallMethod(cls, "__subclasses__", NULL);
    if (subs == NULL) {
        return -1;
    }
    int rv = 0;
    for (Py_ssize_t i = 0; rv == 0 && PyList_Check(subs) && i < PyList_GET_SIZE(subs); i++) {
        rv = add_with_subclasses(set, PyList_GET_ITEM(subs, i), depth + 1);
    }
    Py_DECREF(subs);
    return rv;
}

/* Whether cls or a subclass of it, recursively, defines or inherits a
 * non-None attribute name: 1, 0 or -1. without: the classes whose whole subtree was found to
 * have none, so that a class reached again (another batch class's
 * subclass, multiple inheritance) is not looked at twice. */
static int
hooked(rl_ptrmap *without, PyObject *cls, PyObject *name, int depth)
{
    if (depth > 200 || rl_ptrmap_get(without, cls) != NULL) {
        return 0;
    }
    /* defined or inherited: the MRO's dicts, as an instance sees it (not
     * a metaclass attribute, nor a metaclass __getattr__ that answers every
     * name); a dict lookup of a str, so no user code runs */
    PyTypeObject *t = (PyTypeObject *)cls;
    PyObject *v = _PyType_Lookup(t, name);  // borrowed
    if (v != NULL && v != Py_None) {
        return 1;
    }
    int r = 0;
    if ((t->tp_flags & Py_TPFLAGS_HEAPTYPE) && t->tp_subclasses == NULL) {
        /* a class's table of subclasses is made with its first subclass:
         * none ever, no call (most classes of a batch) */
        return rl_ptrmap_put(without, cls, cls);
    }
    /* type.__subclasses__(cls): past a metaclass's __getattribute__ */
    PyObject *subs = PyObject_CallMethod((PyObject *)&PyType_Type, "__subclasses__",
                                         "O", cls);
    if (subs == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; r == 0 && PyList_Check(subs) && i < PyList_GET_SIZE(subs); i++) {
        r = hooked(without, PyList_GET_ITEM(subs, i), name, depth + 1);
    }
    Py_DECREF(subs);
    return r == 0 ? rl_ptrmap_put(without, cls, cls) : r;
}

PyObject *
rl_with_hook(PyObject *classes, PyObject *name)
{
    rl_ptrmap without = {NULL, 0, 0};
    PyObject *out = PyList_New(0);
    for (Py_ssize_t i = 0; out != NULL && i < PyTuple_GET_SIZE(classes); i++) {
        PyObject *cls = PyTuple_GET_ITEM(classes, i);
        int r = hooked(&without, cls, name, 0);
        if (r < 0 || (r > 0 && PyList_Append(out, cls) < 0)) {
            Py_CLEAR(out);
        }
    }
    rl_ptrmap_clear(&without);
    if (out != NULL) {
        Py_SETREF(out, PyList_AsTuple(out));
    }
    return out;
}

PyObject *
rl_find_instances(PyObject *classes)
{
    walk_ctx ctx = {{NULL, 0, 0}, PyList_New(0), 0};
    if (ctx.out == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(classes); i++) {
        if (add_with_subclasses(&ctx.types, PyTuple_GET_ITEM(classes, i), 0) < 0) {
            goto error;
        }
    }
#if RL_PY312
    PyUnstable_GC_VisitObjects(visit, &ctx);
#else
    {
        /* no C visitor before 3.12: gc.get_objects() is the cheapest walk */
        PyObject *gc = PyImport_ImportModule("gc");
        PyObject *all = gc ? PyObject_CallMethod(gc, "get_objects", NULL) : NULL;
        Py_XDECREF(gc);
        if (all == NULL) {
            goto error;
        }
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(all) && !ctx.failed; i++) {
            visit(PyList_GET_ITEM(all, i), &ctx);
        }
        Py_DECREF(all);
    }
#endif
    if (ctx.failed) {
        goto error;
    }
    rl_ptrmap_clear(&ctx.types);
    return ctx.out;
error:
    rl_ptrmap_clear(&ctx.types);
    Py_DECREF(ctx.out);
    return NULL;
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
