/* importhook.c: other threads' imports while a batch's new code runs.
 *
 * Each module runs in a shadow that sits in sys.modules while its code runs
 * (SPEC §7: a batch module importing another gets the new one). Another
 * thread that imports a batch module then must not get the shadow, half
 * run (SPEC §8): it waits until the live modules are back, and gets the
 * live one.
 *
 * importlib takes a module's lock only when the module is missing from
 * sys.modules or its __spec__._initializing is true. So each live spec
 * (which the shadow shares) is marked initializing, and each module's lock
 * is held until the live modules are back. That covers importlib's path
 * (import_module). The `import` statement's C path waits on the same lock
 * but then returns the module it found before waiting, the shadow; so while
 * the batch runs, builtins.__import__ is a wrapper that waits first, for
 * other threads that import a batch module (or from it), and then imports.
 *
 * In the batch's own thread, the wrapper runs first the batch modules that
 * a fromlist names (from game import weapon): importlib takes the package's
 * attribute, the live module, when there is one, and the finder would never
 * hear of the import.
 *
 * Module code that waits for a thread importing a batch module deadlocks,
 * as it would when a module is imported for the first time. */
#include "reloader.h"

static PyObject *
bootstrap_attr(const char *name)
{
    PyObject *b = PyImport_ImportModule("importlib._bootstrap");
    if (b == NULL) {
        return NULL;
    }
    PyObject *a = PyObject_GetAttrString(b, name);
    Py_DECREF(b);
    return a;
}

/* the hook ****************************************************************/

/* self: (switch list, original __import__, batch names dict, batch thread
 * id, _lock_unlock_module, _calc___package__, _resolve_name) */
enum { H_ON, H_ORIG, H_NAMES, H_OWNER, H_WAIT, H_PACKAGE, H_RESOLVE, H_N };

static int
wait_for(PyObject *self, PyObject *name)
{
    PyObject *names = PyTuple_GET_ITEM(self, H_NAMES);
    int has = PyDict_Contains(names, name);
    if (has <= 0) {
        return has;
    }
    PyObject *r = PyObject_CallOneArg(PyTuple_GET_ITEM(self, H_WAIT), name);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* The absolute name an __import__ call names (new reference) and its
 * fromlist (borrowed), or 0: a call that cannot be understood here is left
 * to the real __import__, which reports it. 1 or 0. */
static int
parse_import(PyObject *self, PyObject *args, PyObject *kwds, PyObject **abs,
             PyObject **fromlist)
{
    static char *kwlist[] = {"name", "globals", "locals", "fromlist", "level", NULL};
    PyObject *name, *globals = NULL, *locals = NULL;
    int level = 0;
    *abs = *fromlist = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "U|OOOi:__import__", kwlist,
                                     &name, &globals, &locals, fromlist, &level)) {
        PyErr_Clear();
        return 0;
    }
    if (level <= 0) {
        *abs = Py_NewRef(name);
        return 1;
    }
    PyObject *pkg = globals != NULL && PyDict_Check(globals)
        ? PyObject_CallOneArg(PyTuple_GET_ITEM(self, H_PACKAGE), globals) : NULL;
    *abs = pkg ? PyObject_CallFunction(PyTuple_GET_ITEM(self, H_RESOLVE), "OOi",
                                       name, pkg, level) : NULL;
    Py_XDECREF(pkg);
    if (*abs == NULL || !PyUnicode_Check(*abs)) {
        PyErr_Clear();
        Py_CLEAR(*abs);
        return 0;
    }
    return 1;
}

/* Another thread: wait if the import names a batch module, a package of
 * one, or one in its fromlist. */
static int
wait_if_batch(PyObject *self, PyObject *abs, PyObject *fromlist)
{
    /* every package on the way, then the module itself */
    Py_ssize_t n = PyUnicode_GET_LENGTH(abs);
    for (Py_ssize_t at = 0; at <= n; at++) {
        if (at < n && PyUnicode_READ_CHAR(abs, at) != '.') {
            continue;
        }
        PyObject *head = PyUnicode_Substring(abs, 0, at);
        int r = head ? wait_for(self, head) : -1;
        Py_XDECREF(head);
        if (r < 0) {
            return -1;
        }
    }
    if (fromlist != NULL && PyTuple_Check(fromlist)) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(fromlist); i++) {
            PyObject *item = PyTuple_GET_ITEM(fromlist, i);
            if (!PyUnicode_Check(item)) {
                continue;
            }
            PyObject *sub = PyUnicode_FromFormat("%U.%U", abs, item);
            int r = sub ? wait_for(self, sub) : -1;
            Py_XDECREF(sub);
            if (r < 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* Import pkg.name now if it is a batch module not run yet. */
static int
run_submodule(PyObject *self, PyObject *pkg, PyObject *name)
{
    PyObject *modules = PyImport_GetModuleDict();  // borrowed
    PyObject *sub = PyUnicode_FromFormat("%U.%U", pkg, name);
    if (sub == NULL) {
        return -1;
    }
    int pending = PyDict_Contains(PyTuple_GET_ITEM(self, H_NAMES), sub);
    if (pending > 0 && PyDict_Check(modules)) {
        pending = !PyDict_Contains(modules, sub);  /* running or run: there */
    }
    int rv = pending < 0 ? -1 : 0;
    if (pending > 0) {
        PyObject *m = PyImport_ImportModuleLevelObject(sub, NULL, NULL, NULL, 0);
        rv = m == NULL ? -1 : 0;
        Py_XDECREF(m);
    }
    Py_DECREF(sub);
    return rv;
}

/* The batch's own thread: `from game import weapon` takes game's attribute
 * when it has one, the live module, and never asks the finder. So a batch
 * module named in a fromlist runs first, as `import game.weapon` would run
 * it (SPEC §7); its shadow is then that attribute until the batch ends.
 * `from game import *` does the same for the names in game.__all__. */
static int
run_fromlist(PyObject *self, PyObject *abs, PyObject *fromlist)
{
    if (fromlist == NULL || !PyTuple_Check(fromlist)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(fromlist); i++) {
        PyObject *item = PyTuple_GET_ITEM(fromlist, i);
        if (!PyUnicode_Check(item)) {
            continue;
        }
        if (PyUnicode_CompareWithASCIIString(item, "*") != 0) {
            if (run_submodule(self, abs, item) < 0) {
                return -1;
            }
            continue;
        }
        /* the package's own __all__, read without running its code */
        PyObject *modules = PyImport_GetModuleDict();  // borrowed
        PyObject *pkg = PyDict_Check(modules) ? PyDict_GetItemWithError(modules, abs) : NULL;
        PyObject *d = pkg != NULL && PyModule_Check(pkg) ? PyModule_GetDict(pkg) : NULL;
        PyObject *all = d != NULL ? PyDict_GetItemWithError(d, rl_st.str_all) : NULL;
        Py_XINCREF(all);
        if (all != NULL && (PyList_Check(all) || PyTuple_Check(all))) {
            for (Py_ssize_t j = 0; j < PySequence_Fast_GET_SIZE(all); j++) {
                PyObject *name = PySequence_Fast_GET_ITEM(all, j);
                if (PyUnicode_Check(name) && run_submodule(self, abs, name) < 0) {
                    Py_DECREF(all);
                    return -1;
                }
            }
        }
        Py_XDECREF(all);
        if (PyErr_Occurred()) {
            return -1;
        }
    }
    return 0;
}

static PyObject *
hook_import(PyObject *self, PyObject *args, PyObject *kwds)
{
    PyObject *on = PyTuple_GET_ITEM(self, H_ON), *abs, *fromlist;
    if (PyList_GET_SIZE(on) > 0 && parse_import(self, args, kwds, &abs, &fromlist)) {
        int r = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(self, H_OWNER))
                != PyThread_get_thread_ident()
                ? wait_if_batch(self, abs, fromlist) : run_fromlist(self, abs, fromlist);
        Py_DECREF(abs);
        if (r < 0) {
            return NULL;
        }
    }
    return PyObject_Call(PyTuple_GET_ITEM(self, H_ORIG), args, kwds);
}

static PyMethodDef hook_def = {
    "__import__", (PyCFunction)(void (*)(void))hook_import,
    METH_VARARGS | METH_KEYWORDS,
    "__import__ while a reloader batch runs: waits for the batch when another "
    "thread imports one of its modules; in the batch's thread, runs the batch "
    "modules a fromlist names first."
};

static int
install_hook(rl_txn *txn)
{
    PyObject *builtins = PyEval_GetBuiltins();  // borrowed
    PyObject *orig = builtins ? PyDict_GetItemString(builtins, "__import__") : NULL;
    if (orig == NULL) {
        return 0;  /* no __import__ to wrap: nothing imports */
    }
    PyObject *self = PyTuple_New(H_N);
    if (self == NULL) {
        return -1;
    }
    PyTuple_SET_ITEM(self, H_ON, PyList_New(0));
    PyTuple_SET_ITEM(self, H_ORIG, Py_NewRef(orig));
    PyTuple_SET_ITEM(self, H_NAMES, Py_NewRef(txn->by_name));
    PyTuple_SET_ITEM(self, H_OWNER, PyLong_FromUnsignedLong(PyThread_get_thread_ident()));
    PyTuple_SET_ITEM(self, H_WAIT, bootstrap_attr("_lock_unlock_module"));
    PyTuple_SET_ITEM(self, H_PACKAGE, bootstrap_attr("_calc___package__"));
    PyTuple_SET_ITEM(self, H_RESOLVE, bootstrap_attr("_resolve_name"));
    for (int i = 0; i < H_N; i++) {
        if (PyTuple_GET_ITEM(self, i) == NULL) {
            Py_DECREF(self);
            return -1;
        }
    }
    PyObject *hook = PyCFunction_New(&hook_def, self);
    if (hook == NULL
        || PyList_Append(PyTuple_GET_ITEM(self, H_ON), Py_True) < 0
        || PyDict_SetItemString(builtins, "__import__", hook) < 0) {
        Py_XDECREF(hook);
        Py_DECREF(self);
        return -1;
    }
    txn->hook = hook;
    txn->hook_orig = Py_NewRef(orig);
    txn->hook_on = Py_NewRef(PyTuple_GET_ITEM(self, H_ON));
    Py_DECREF(self);
    return 0;
}

static void
remove_hook(rl_txn *txn)
{
    if (txn->hook == NULL) {
        return;
    }
    /* off first: a call in flight, or a wrapper someone put around ours,
     * no longer waits */
    if (PyList_SetSlice(txn->hook_on, 0, PyList_GET_SIZE(txn->hook_on), NULL) < 0) {
        PyErr_WriteUnraisable(txn->hook);
    }
    PyObject *builtins = PyEval_GetBuiltins();  // borrowed
    if (builtins != NULL
        && PyDict_GetItemString(builtins, "__import__") == txn->hook
        && PyDict_SetItemString(builtins, "__import__", txn->hook_orig) < 0) {
        PyErr_WriteUnraisable(txn->hook);
    }
    Py_CLEAR(txn->hook);
    Py_CLEAR(txn->hook_orig);
    Py_CLEAR(txn->hook_on);
}

/* locks and specs *********************************************************/

/* Taken before any batch module leaves sys.modules: a thread that found one
 * missing could take its lock and then wait for the global import lock,
 * which the reload holds. */
int
rl_imports_hold(rl_txn *txn)
{
    PyObject *get = bootstrap_attr("_get_module_lock");
    int rv = -1;
    if (get == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < txn->n; i++) {
        rl_entry *e = &txn->entries[i];
        PyObject *lock = PyObject_CallOneArg(get, e->name);
        PyObject *r = lock ? PyObject_CallMethod(lock, "acquire", NULL) : NULL;
        if (r == NULL) {
            Py_XDECREF(lock);
            goto done;
        }
        Py_DECREF(r);
        e->lock = lock;
        PyObject *spec = PyObject_GetAttr(e->module, rl_st.str_spec);
        if (spec == NULL || spec == Py_None) {
            PyErr_Clear();
            Py_XDECREF(spec);
            continue;
        }
        e->spec_was = PyObject_GetAttr(spec, rl_st.str_initializing);
        if (e->spec_was == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
                Py_DECREF(spec);
                goto done;
            }
            PyErr_Clear();  /* never imported through importlib: no flag */
        }
        if (PyObject_SetAttr(spec, rl_st.str_initializing, Py_True) < 0) {
            Py_CLEAR(e->spec_was);
            Py_DECREF(spec);
            goto done;
        }
        e->spec = spec;
    }
    rv = install_hook(txn);
done:
    Py_DECREF(get);
    return rv;
}

void
rl_imports_release(rl_txn *txn)
{
    rl_exc exc;
    rl_exc_save(&exc);
    remove_hook(txn);
    for (Py_ssize_t i = txn->n - 1; i >= 0; i--) {
        rl_entry *e = &txn->entries[i];
        if (e->spec != NULL) {
            int r = e->spec_was != NULL
                    ? PyObject_SetAttr(e->spec, rl_st.str_initializing, e->spec_was)
                    : PyObject_DelAttr(e->spec, rl_st.str_initializing);
            if (r < 0) {
                PyErr_WriteUnraisable(e->name);
            }
            Py_CLEAR(e->spec);
            Py_CLEAR(e->spec_was);
        }
        if (e->lock != NULL) {
            PyObject *r = PyObject_CallMethod(e->lock, "release", NULL);
            if (r == NULL) {
                PyErr_WriteUnraisable(e->name);
            }
            Py_XDECREF(r);
            Py_CLEAR(e->lock);
        }
    }
    rl_exc_restore(&exc);
}
