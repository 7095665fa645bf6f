/* finder.c: the sys.meta_path finder and loader used while a batch runs.
 * Batch modules are out of sys.modules then, so `import b` in a's new code
 * comes here and runs b's new code first: a sees b as it will be (new code,
 * kept data). Each module runs in a shadow module, never in the live dict,
 * so other threads see only old objects until the commit. */
#include "reloader.h"

typedef struct {
    PyObject_HEAD
    rl_txn *txn;  /* strong */
} RlFinderObject;

static rl_entry *
pending_entry(RlFinderObject *self, PyObject *name)
{
    if (self->txn == NULL || !PyUnicode_Check(name)) {
        return NULL;
    }
    return rl_txn_entry(self->txn, name);
}

/* Whether the live module is a package; reads its dict, so a module-level
 * __getattr__ (user code) never runs. 1, 0 or -1. */
static int
is_package(rl_entry *e)
{
    return PyDict_Contains(PyModule_GetDict(e->module), rl_st.str_path);
}

static PyObject *
RlFinder_find_spec(RlFinderObject *self, PyObject *const *args,
                   Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *spec = NULL, *kw = NULL, *path = NULL;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;

    if (nargs + nkw < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "find_spec(fullname, path=None, "
                                         "target=None)");
        return NULL;
    }
    /* the negative answer, for every other import, is one dict lookup */
    rl_entry *e = nargs >= 1 ? pending_entry(self, args[0]) : NULL;
    if (e == NULL && nargs >= 1 && PyUnicode_Check(args[0]) && self->txn != NULL
        && rl_st.collecting == self->txn
        && PyThread_get_thread_ident() == rl_st.reloading_thread
        && PyList_Append(self->txn->fresh, args[0]) < 0) {
        return NULL;  /* a module the batch's code imports for the first time */
    }
    if (e == NULL || e->state != 0) {
        Py_RETURN_NONE;
    }
    int is_pkg = is_package(e);
    if (is_pkg < 0) {
        return NULL;
    }
    kw = Py_BuildValue("{s:O,s:O}", "origin", e->path, "is_package",
                       is_pkg ? Py_True : Py_False);
    if (kw == NULL) {
        return NULL;
    }
    PyObject *posargs = PyTuple_Pack(2, e->name, (PyObject *)self);
    if (posargs == NULL) {
        goto done;
    }
    spec = PyObject_Call(rl_st.ModuleSpec, posargs, kw);
    Py_DECREF(posargs);
    if (spec == NULL) {
        goto done;
    }
    if (PyObject_SetAttr(spec, rl_st.str_has_location, Py_True) < 0) {
        Py_CLEAR(spec);
        goto done;
    }
    if (is_pkg) {
        PyObject *p = PyDict_GetItemWithError(PyModule_GetDict(e->module),
                                              rl_st.str_path);  // borrowed
        path = p != NULL ? PySequence_List(p) : NULL;
        if (path == NULL
            || PyObject_SetAttr(spec, rl_st.str_search_locs, path) < 0) {
            Py_CLEAR(spec);
        }
    }
done:
    Py_XDECREF(kw);
    Py_XDECREF(path);
    return spec;
}

static PyObject *
RlFinder_create_module(RlFinderObject *self, PyObject *spec)
{
    PyObject *name = PyObject_GetAttr(spec, rl_st.str_name_attr);
    PyObject *module = NULL;
    if (name == NULL) {
        return NULL;
    }
    rl_entry *e = pending_entry(self, name);
    if (e == NULL) {
        PyErr_Format(PyExc_ImportError, "%R is not part of this reload", name);
        goto done;
    }
    module = PyModule_NewObject(name);
    if (module == NULL || rl_map_put(self->txn, module, e->module) < 0) {
        Py_CLEAR(module);
        goto done;
    }
    Py_XSETREF(e->shadow, Py_NewRef(module));
done:
    Py_DECREF(name);
    return module;
}

/* The shadow starts with the live module's import-system attributes, so the
 * new code sees its own __spec__, __loader__ and __file__ (resources,
 * tracebacks and relative imports work as in a normal import). */
static int
seed_shadow(PyObject *shadow_dict, PyObject *live_dict)
{
    PyObject *it = PyObject_GetIter(rl_st.import_dunders), *k;
    if (it == NULL) {
        return -1;
    }
    while ((k = PyIter_Next(it)) != NULL) {
        PyObject *v = PyDict_GetItemWithError(live_dict, k);
        int r = 0;
        if (v != NULL) {
            r = PyDict_SetItem(shadow_dict, k, v);
        }
        Py_DECREF(k);
        if (r < 0 || (v == NULL && PyErr_Occurred())) {
            Py_DECREF(it);
            return -1;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

static PyObject *
RlFinder_exec_module(RlFinderObject *self, PyObject *module)
{
    if (!PyModule_Check(module)) {
        PyErr_SetString(PyExc_TypeError, "exec_module() needs a module");
        return NULL;
    }
    PyObject *name = PyModule_GetNameObject(module);
    if (name == NULL) {
        return NULL;
    }
    rl_entry *e = pending_entry(self, name);
    Py_DECREF(name);
    if (e == NULL || e->shadow != module) {
        PyErr_SetString(PyExc_ImportError, "exec_module() of a module this "
                                           "reload did not create");
        return NULL;
    }
    rl_txn *txn = self->txn;
    PyObject *d = PyModule_GetDict(module);  // borrowed
    if (seed_shadow(d, PyModule_GetDict(e->module)) < 0) {
        return NULL;
    }
    e->state = 1;
    PyObject *r = PyEval_EvalCode(e->code, d, d);
    if (r == NULL) {
        e->state = 0;
        if (txn->failed == NULL) {
            /* the innermost module to fail is the one at fault */
            rl_exc exc;
            rl_exc_save(&exc);
            txn->failed = Py_NewRef(e->name);
            rl_exc_restore(&exc);
#if RL_PY312
            txn->failure = PyErr_GetRaisedException();
            PyErr_SetRaisedException(Py_NewRef(txn->failure));
#else
            PyObject *t, *v, *tb;
            PyErr_Fetch(&t, &v, &tb);
            PyErr_NormalizeException(&t, &v, &tb);
            if (v != NULL && tb != NULL) {
                PyException_SetTraceback(v, tb);
            }
            txn->failure = Py_XNewRef(v);
            PyErr_Restore(t, v, tb);
#endif
        }
        return NULL;
    }
    Py_DECREF(r);
    /* later batch members that import this one see its kept data */
    if (rl_policy_resolve_shadow(txn, e) < 0) {
        return NULL;
    }
    e->state = 2;
    if (PyList_Append(txn->order, e->name) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
RlFinder_is_package(RlFinderObject *self, PyObject *name)
{
    rl_entry *e = pending_entry(self, name);
    if (e == NULL) {
        PyErr_Format(PyExc_ImportError, "%R is not part of this reload", name);
        return NULL;
    }
    int r = is_package(e);
    return r < 0 ? NULL : PyBool_FromLong(r);
}

static PyObject *
RlFinder_get_filename(RlFinderObject *self, PyObject *name)
{
    rl_entry *e = pending_entry(self, name);
    if (e == NULL) {
        PyErr_Format(PyExc_ImportError, "%R is not part of this reload", name);
        return NULL;
    }
    return Py_NewRef(e->path);
}

static void
RlFinder_dealloc(RlFinderObject *self)
{
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->txn);
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int
RlFinder_traverse(RlFinderObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT((PyObject *)self->txn);
    return 0;
}

static PyMethodDef RlFinder_methods[] = {
    {"find_spec", (PyCFunction)(void (*)(void))RlFinder_find_spec,
     METH_FASTCALL | METH_KEYWORDS, "A spec for a module of this batch."},
    {"create_module", (PyCFunction)RlFinder_create_module, METH_O,
     "A fresh shadow module."},
    {"exec_module", (PyCFunction)RlFinder_exec_module, METH_O,
     "Run the module's new code in its shadow."},
    {"is_package", (PyCFunction)RlFinder_is_package, METH_O, NULL},
    {"get_filename", (PyCFunction)RlFinder_get_filename, METH_O, NULL},
    {NULL}
};

static PyType_Slot RlFinder_slots[] = {
    {Py_tp_dealloc, RlFinder_dealloc},
    {Py_tp_traverse, RlFinder_traverse},
    {Py_tp_methods, RlFinder_methods},
    {Py_tp_doc, "The import hook of one reload batch."},
    {0, NULL}
};

static PyType_Spec RlFinder_spec = {
    .name = "reloader._core.Finder",
    .basicsize = sizeof(RlFinderObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = RlFinder_slots,
};

int
rl_finder_init_type(PyObject *module)
{
    PyObject *t = PyType_FromModuleAndSpec(module, &RlFinder_spec, NULL);
    if (t == NULL) {
        return -1;
    }
    rl_st.FinderType = (PyTypeObject *)t;
    return 0;
}

PyObject *
rl_finder_new(rl_txn *txn)
{
    RlFinderObject *f = PyObject_GC_New(RlFinderObject, rl_st.FinderType);
    if (f == NULL) {
        return NULL;
    }
    f->txn = (rl_txn *)Py_NewRef((PyObject *)txn);
    PyObject_GC_Track(f);
    return (PyObject *)f;
}
