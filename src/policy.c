/* policy.c: what each name of a reloaded module becomes. Definitions
 * (functions, classes) keep their identity and take the new body; data keeps
 * its runtime value unless the module opts it in; dunders follow the source.
 * The plan runs in two passes over the batch: pass 0 pairs every old
 * definition with its new one (so that the map of new -> kept objects is
 * complete), pass 1 stages the bindings. */
#include "reloader.h"

PyObject *
rl_qualify(PyObject *prefix, PyObject *name)
{
    return PyUnicode_FromFormat("%U.%U", prefix, name);
}

/* The opt-in declarations are definitions, like dunders: the new source's
 * one counts, also in the single-underscore spelling. */
int
rl_is_declaration(PyObject *name)
{
    return PyUnicode_Check(name) && PyUnicode_GET_LENGTH(name) > 0
           && PyUnicode_READ_CHAR(name, 0) == '_'
           && (PyUnicode_Compare(name, rl_st.str_reload_data1) == 0
               || PyUnicode_Compare(name, rl_st.str_reload_all1) == 0);
}

int
rl_is_dunder(PyObject *name)
{
    if (!PyUnicode_Check(name)) {
        return 0;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(name);
    return n > 4 && PyUnicode_READ_CHAR(name, 0) == '_'
           && PyUnicode_READ_CHAR(name, 1) == '_'
           && PyUnicode_READ_CHAR(name, n - 1) == '_'
           && PyUnicode_READ_CHAR(name, n - 2) == '_';
}

static int
is_import_dunder(PyObject *name)
{
    if (!rl_is_dunder(name)) {
        return 0;  /* all of them are dunders: no set lookup for the rest */
    }
    int r = PySet_Contains(rl_st.import_dunders, name);
    if (r < 0) {
        PyErr_Clear();
        return 0;
    }
    return r;
}

int
rl_kind(PyObject *v)
{
    if (PyFunction_Check(v)) {
        return RL_K_FUNC;
    }
    if (PyType_Check(v)) {
        return RL_K_CLASS;
    }
    if (PyModule_Check(v)) {
        return RL_K_MODULE;
    }
    if (Py_TYPE(v) == rl_st.lru_wrapper_type) {
        return RL_K_WRAPPER;
    }
    if (PyCFunction_Check(v)) {
        return RL_K_BUILTIN;
    }
    return RL_K_DATA;
}

PyObject *
rl_qualname_of(PyObject *v)
{
    if (PyFunction_Check(v)) {
        return ((PyFunctionObject *)v)->func_qualname;
    }
    if (PyType_Check(v)
        && (((PyTypeObject *)v)->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
        return ((PyHeapTypeObject *)v)->ht_qualname;
    }
    return NULL;
}

PyObject *
rl_module_of(PyObject *v)
{
    PyObject *m = NULL;
    if (PyFunction_Check(v)) {
        m = ((PyFunctionObject *)v)->func_module;
    }
    else if (PyType_Check(v)) {
        PyObject *d = ((PyTypeObject *)v)->tp_dict;
        m = d != NULL ? PyDict_GetItemWithError(d, rl_st.str_module) : NULL;
        if (m == NULL) {
            PyErr_Clear();
        }
    }
    return (m != NULL && PyUnicode_Check(m)) ? m : NULL;
}

static int
same_str(PyObject *a, PyObject *b)
{
    if (a == NULL || b == NULL) {
        return 0;
    }
    if (a == b) {
        return 1;
    }
    if (PyUnicode_CheckExact(a) && PyUnicode_CheckExact(b)) {
        return rl_same_value(a, b);  /* no rich compare */
    }
    return PyUnicode_Compare(a, b) == 0;
}

static int
ends_with_lambda(PyObject *qn)
{
    return PyUnicode_Tailmatch(qn, rl_st.str_lambda, 0, PY_SSIZE_T_MAX, 1)
           == 1;
}

static PyObject *
lru_wrapped(PyObject *w)
{
    PyObject *f = PyObject_GetAttr(w, rl_st.str_wrapped);
    if (f == NULL) {
        PyErr_Clear();
    }
    return f;
}

int
rl_defs_match(PyObject *old, PyObject *new)
{
    int kind = rl_kind(new);
    if (kind != rl_kind(old)) {
        return 0;
    }
    if (kind == RL_K_WRAPPER) {
        PyObject *a = lru_wrapped(old), *b = lru_wrapped(new);
        int r = a != NULL && b != NULL && PyFunction_Check(a)
                && PyFunction_Check(b) && rl_defs_match(a, b);
        Py_XDECREF(a);
        Py_XDECREF(b);
        return r;
    }
    if (kind != RL_K_FUNC && kind != RL_K_CLASS) {
        return 0;
    }
    PyObject *qa = rl_qualname_of(old), *qb = rl_qualname_of(new);
    if (!same_str(rl_module_of(old), rl_module_of(new)) || qa == NULL
        || qb == NULL) {
        return 0;
    }
    if (same_str(qa, qb)) {
        return 1;
    }
    /* lambdas share "<lambda>": matched by the name they are bound to */
    return kind == RL_K_FUNC && ends_with_lambda(qa) && ends_with_lambda(qb);
}

/* Whether obj, bound to name in ns, is an alias: this module defines it
 * under another qualified name (g = f, on_tick = Game.tick). */
static int
is_alias(PyObject *ns, PyObject *name, PyObject *obj, PyObject *modname)
{
    PyObject *qn = rl_qualname_of(obj), *parts = NULL, *cur;
    int rv = 0;

    if (qn == NULL || same_str(qn, name) || ends_with_lambda(qn)
        || !same_str(rl_module_of(obj), modname)
        || PyUnicode_Find(qn, rl_st.str_locals, 0, PY_SSIZE_T_MAX, 1) >= 0) {
        return 0;
    }
    {
        PyObject *dot = PyUnicode_FromString(".");
        parts = dot != NULL ? PyUnicode_Split(qn, dot, -1) : NULL;
        Py_XDECREF(dot);
    }
    if (parts == NULL) {
        PyErr_Clear();
        return 0;
    }
    cur = PyDict_GetItemWithError(ns, PyList_GET_ITEM(parts, 0));
    for (Py_ssize_t i = 1; cur != NULL && i < PyList_GET_SIZE(parts); i++) {
        if (!PyType_Check(cur)) {
            cur = NULL;
            break;
        }
        cur = PyDict_GetItemWithError(((PyTypeObject *)cur)->tp_dict,
                                      PyList_GET_ITEM(parts, i));
    }
    if (cur != NULL) {
        if (Py_TYPE(cur) == &PyStaticMethod_Type
            || Py_TYPE(cur) == &PyClassMethod_Type) {
            PyObject *f = PyObject_GetAttrString(cur, "__func__");
            rv = (f == obj);
            Py_XDECREF(f);
        }
        else {
            rv = (cur == obj);
        }
    }
    PyErr_Clear();
    Py_DECREF(parts);
    return rv;
}

/* opt-in declarations ******************************************************/

static PyObject *
ns_get(PyObject *ns, PyObject *a, PyObject *b)
{
    PyObject *v = PyDict_GetItemWithError(ns, a);
    if (v == NULL && !PyErr_Occurred()) {
        v = PyDict_GetItemWithError(ns, b);
    }
    return v;  // borrowed
}

int
rl_optin_read(PyObject *ns, rl_optin *out)
{
    out->all = 0;
    out->names = NULL;
    PyObject *all = ns_get(ns, rl_st.str_reload_all, rl_st.str_reload_all1);
    if (all == NULL && PyErr_Occurred()) {
        return -1;
    }
    /* True or a non-zero int; no bool() on user values */
    if (all == Py_True
        || (all != NULL && PyLong_CheckExact(all) && PyObject_IsTrue(all) == 1)) {
        out->all = 1;
    }
    PyObject *names = ns_get(ns, rl_st.str_reload_data, rl_st.str_reload_data1);
    if (names == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    out->names = PySet_New(NULL);
    if (out->names == NULL) {
        return -1;
    }
    if (PyUnicode_Check(names)) {
        return PySet_Add(out->names, names);
    }
    if (!(PyAnySet_Check(names) || PyList_Check(names) || PyTuple_Check(names)
          || PyDict_Check(names))) {
        PyErr_Format(PyExc_TypeError, "__reload_data__ must be a set, list "
                     "or tuple of names, not %.100s", Py_TYPE(names)->tp_name);
        return -1;
    }
    PyObject *it = PyObject_GetIter(names), *item;
    if (it == NULL) {
        return -1;
    }
    while ((item = PyIter_Next(it)) != NULL) {
        int r = PyUnicode_Check(item) ? PySet_Add(out->names, item) : 0;
        Py_DECREF(item);
        if (r < 0) {
            break;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

void
rl_optin_clear(rl_optin *o)
{
    Py_CLEAR(o->names);
}

int
rl_optin_has(rl_optin *o, PyObject *name)
{
    if (o->all) {
        return 1;
    }
    if (o->names == NULL) {
        return 0;
    }
    return PySet_Contains(o->names, name);
}

/* pairing (pass 0) *********************************************************/

static Py_ssize_t
push_pair(rl_txn *txn, PyObject *old, PyObject *new, PyObject *prefix,
          PyObject *name, Py_ssize_t parent, int kind)
{
    if (txn->npairs == txn->cappairs) {
        Py_ssize_t cap = txn->cappairs ? txn->cappairs * 2 : 64;
        rl_pairrec *p = PyMem_Realloc(txn->pairs, cap * sizeof(rl_pairrec));
        if (p == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        txn->pairs = p;
        txn->cappairs = cap;
    }
    rl_pairrec *r = &txn->pairs[txn->npairs];
    r->old = Py_NewRef(old);
    r->new = Py_NewRef(new);
    r->name = Py_XNewRef(name);
    r->prefix = parent < 0 ? Py_XNewRef(prefix) : NULL;
    r->parent = parent;
    r->kind = kind;
    r->changed = 0;
    r->restart = 0;
    memset(&r->walk, 0, sizeof r->walk);
    return txn->npairs++;
}

/* Definitions held in a function's cells and __wrapped__ (decorators). */
static int
pair_function_inner(rl_txn *txn, PyFunctionObject *old, PyFunctionObject *new,
                    Py_ssize_t idx)
{
    int rv = -1;
    PyObject *nfree = NULL, *ofree = NULL;

    if (new->func_closure != NULL && old->func_closure != NULL) {
        nfree = rl_code_freevars((PyCodeObject *)new->func_code);
        ofree = rl_code_freevars((PyCodeObject *)old->func_code);
        if (nfree == NULL || ofree == NULL) {
            goto done;
        }
        Py_ssize_t nn = PyTuple_GET_SIZE(nfree), no = PyTuple_GET_SIZE(ofree);
        for (Py_ssize_t i = 0; i < nn; i++) {
            for (Py_ssize_t j = 0; j < no; j++) {
                if (PyUnicode_Compare(PyTuple_GET_ITEM(nfree, i),
                                      PyTuple_GET_ITEM(ofree, j)) != 0) {
                    continue;
                }
                PyObject *nc = PyCell_GET(PyTuple_GET_ITEM(new->func_closure, i));
                PyObject *oc = PyCell_GET(PyTuple_GET_ITEM(old->func_closure, j));
                if (nc != NULL && oc != NULL && nc != oc
                    && rl_defs_match(oc, nc)
                    && rl_pair(txn, oc, nc, NULL, NULL, idx) < 0) {
                    goto done;
                }
                break;
            }
        }
    }
    if (new->func_dict != NULL && old->func_dict != NULL) {
        PyObject *nw = PyDict_GetItemWithError(new->func_dict, rl_st.str_wrapped);
        PyObject *ow = PyDict_GetItemWithError(old->func_dict, rl_st.str_wrapped);
        if (PyErr_Occurred()) {
            goto done;
        }
        if (nw != NULL && ow != NULL && nw != ow && rl_defs_match(ow, nw)
            && rl_pair(txn, ow, nw, NULL, NULL, idx) < 0) {
            goto done;
        }
    }
    rv = 0;
done:
    Py_XDECREF(nfree);
    Py_XDECREF(ofree);
    return rv;
}

PyObject *
rl_pair_path(rl_txn *txn, Py_ssize_t idx)
{
    rl_pairrec *r = &txn->pairs[idx];
    if (r->name == NULL) {
        return r->parent >= 0 ? rl_pair_path(txn, r->parent)
                              : Py_NewRef(txn->cur_module);
    }
    if (r->parent < 0) {
        return rl_qualify(r->prefix ? r->prefix : txn->cur_module, r->name);
    }
    return rl_pair_subpath(txn, r->parent, r->name);
}

PyObject *
rl_pair_subpath(rl_txn *txn, Py_ssize_t idx, PyObject *key)
{
    PyObject *head = rl_pair_path(txn, idx);
    if (head == NULL) {
        return NULL;
    }
    PyObject *out = rl_qualify(head, key);
    Py_DECREF(head);
    return out;
}

int
rl_pair(rl_txn *txn, PyObject *old, PyObject *new, PyObject *prefix,
        PyObject *name, Py_ssize_t parent)
{
    if (old == new || rl_map_lookup(txn, new) != NULL) {
        return 0;
    }
    if (rl_map_put(txn, new, old) < 0) {
        return -1;
    }
    int kind = rl_kind(new);
    if (kind == RL_K_FUNC && (parent < 0 || txn->pairs[parent].kind != RL_K_CLASS)
        && txn->handed != NULL && PyList_Append(txn->handed, new) < 0) {
        return -1;  /* not a method: module code may hand it out */
    }
    if (kind == RL_K_FUNC) {
        /* the common case: nothing to pair inside, nothing to stage */
        int same = rl_function_unchanged(txn, old, new);
        if (same != 0) {
            return same < 0 ? -1 : 0;
        }
    }
    Py_ssize_t idx = push_pair(txn, old, new, prefix, name, parent, kind);
    if (idx < 0) {
        return -1;
    }
    switch (kind) {
    case RL_K_FUNC:
        return pair_function_inner(txn, (PyFunctionObject *)old,
                                   (PyFunctionObject *)new, idx);
    case RL_K_CLASS:
        return rl_class_pair(txn, idx);
    case RL_K_WRAPPER: {
        PyObject *a = lru_wrapped(old), *b = lru_wrapped(new);
        int r = 0;
        if (a != NULL && b != NULL && a != b) {
            r = rl_pair(txn, a, b, NULL, NULL, idx);
        }
        Py_XDECREF(a);
        Py_XDECREF(b);
        return r;
    }
    default:
        return 0;
    }
}

int
rl_funcs_match(PyObject *old, PyObject *new, PyObject *modname)
{
    if (rl_defs_match(old, new)) {
        return 1;
    }
    /* a decorator's wrapper: functools.wraps copies the function's
     * qualified name, a plain one keeps its own; both claim this module */
    return PyFunction_Check(old) && PyFunction_Check(new)
           && same_str(rl_module_of(old), modname)
           && same_str(rl_module_of(new), modname);
}

/* Whether module modname should pair name's old and new values: both are
 * the same definition, bound under its own name (not an alias), and made by
 * this module or by no module of the batch (a factory's closure). */
static int
module_pairable(rl_txn *txn, PyObject *R, PyObject *S, PyObject *name,
                PyObject *ov, PyObject *nv, PyObject *modname)
{
    if (!rl_funcs_match(ov, nv, modname)) {
        return 0;
    }
    PyObject *nmod = rl_module_of(nv);
    if (rl_kind(nv) != RL_K_WRAPPER && !same_str(nmod, modname)) {
        if (nmod == NULL || rl_txn_entry(txn, nmod) != NULL) {
            return 0;  /* another batch module's definition: it pairs it */
        }
    }
    return !is_alias(S, name, nv, modname) && !is_alias(R, name, ov, modname);
}

/* Kept data and the value the new code made for it, walked side by side
 * to pair the functions of this module that both hold at the same place.
 * Only exact lists, tuples and dicts and the __dict__ of plain instances are
 * read, so no user code runs; dict entries are matched by position and
 * key identity or string equality (no lookup, which could compare user
 * keys). Bounded: DATA_DEPTH levels, DATA_BUDGET values per name. */
static int defined_here(PyObject *v, PyObject *modname);

#define DATA_DEPTH 4
#define DATA_BUDGET 4096

typedef struct {
    rl_txn *txn;
    PyObject *modname;
    PyObject *name;      /* the module name the data is bound to */
    Py_ssize_t budget;
    int named;           /* in the top-level instance's own __dict__ */
    Py_ssize_t parent;   /* class pair the name is in, or -1: the module */
} data_walk;

/* The __dict__ of a plain instance (new reference), or NULL. */
static PyObject *
plain_instance_dict(PyObject *v)
{
    PyTypeObject *t = Py_TYPE(v);
    if (!(t->tp_flags & Py_TPFLAGS_HEAPTYPE) || PyType_Check(v)
        || t->tp_getattro != PyObject_GenericGetAttr) {
        return NULL;
    }
    PyObject *d = PyObject_GenericGetDict(v, NULL);
    if (d == NULL || !PyDict_CheckExact(d)) {
        PyErr_Clear();
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

static int
same_key(PyObject *a, PyObject *b)
{
    return a == b || (PyUnicode_CheckExact(a) && PyUnicode_CheckExact(b)
                      && same_str(a, b));
}

static int pair_in_data(data_walk *w, PyObject *ov, PyObject *nv, int depth);

/* Items are held while they are walked: an allocation can run the
 * collector, and a finalizer could change the containers. */
static int
pair_items(data_walk *w, PyObject *a, PyObject *b, int depth)
{
    Py_INCREF(a);
    Py_INCREF(b);
    int rv = pair_in_data(w, a, b, depth);
    Py_DECREF(a);
    Py_DECREF(b);
    return rv;
}

static int
pair_dicts(data_walk *w, PyObject *od, PyObject *nd, int depth)
{
    Py_ssize_t op = 0, np = 0;
    PyObject *ok, *ovv, *nk, *nvv;
    while (PyDict_Next(od, &op, &ok, &ovv) && PyDict_Next(nd, &np, &nk, &nvv)) {
        if (same_key(ok, nk) && pair_items(w, ovv, nvv, depth) < 0) {
            return -1;
        }
    }
    return 0;
}

static int
pair_in_data(data_walk *w, PyObject *ov, PyObject *nv, int depth)
{
    if (ov == nv || --w->budget < 0) {
        return 0;
    }
    int kind = rl_kind(nv);
    if (kind == RL_K_FUNC || kind == RL_K_WRAPPER) {
        if (!defined_here(ov, w->modname) || !rl_defs_match(ov, nv)) {
            return 0;
        }
        /* a callable object's function reports under the object's name */
        if (!(w->named && depth == DATA_DEPTH - 1)) {
            return rl_pair(w->txn, ov, nv, NULL, NULL, -1);
        }
        return w->parent >= 0 ? rl_pair(w->txn, ov, nv, NULL, w->name, w->parent)
                              : rl_pair(w->txn, ov, nv, w->modname, w->name, -1);
    }
    if (kind != RL_K_DATA || depth == 0
        || (Py_TYPE(ov) != Py_TYPE(nv)
            && !rl_defs_match((PyObject *)Py_TYPE(ov), (PyObject *)Py_TYPE(nv)))) {
        return 0;
    }
    if (PyList_CheckExact(nv) || PyTuple_CheckExact(nv)) {
        for (Py_ssize_t i = 0; i < Py_SIZE(ov) && i < Py_SIZE(nv); i++) {
            PyObject *a = PyList_CheckExact(ov) ? PyList_GET_ITEM(ov, i)
                                                : PyTuple_GET_ITEM(ov, i);
            PyObject *b = PyList_CheckExact(nv) ? PyList_GET_ITEM(nv, i)
                                                : PyTuple_GET_ITEM(nv, i);
            if (pair_items(w, a, b, depth - 1) < 0) {
                return -1;
            }
        }
        return 0;
    }
    if (PyDict_CheckExact(nv)) {
        return pair_dicts(w, ov, nv, depth - 1);
    }
    PyObject *od = plain_instance_dict(ov);
    PyObject *nd = od != NULL ? plain_instance_dict(nv) : NULL;
    int rv = 0;
    if (nd != NULL) {
        int outer = w->named;
        w->named = depth == DATA_DEPTH;
        rv = pair_dicts(w, od, nd, depth - 1);
        w->named = outer;
    }
    Py_XDECREF(od);
    Py_XDECREF(nd);
    return rv;
}

int
rl_policy_pair_kept_data(rl_txn *txn, PyObject *name, Py_ssize_t parent,
                         PyObject *ov, PyObject *nv)
{
    data_walk dw = {txn, txn->cur_module, name, DATA_BUDGET, 0, parent};
    return pair_in_data(&dw, ov, nv, DATA_DEPTH);
}

int
rl_policy_keep_object(rl_txn *txn, PyObject *name, Py_ssize_t parent,
                      PyObject *ov, PyObject *nv)
{
    if (ov == nv || rl_kind(nv) != RL_K_DATA
        || (Py_TYPE(ov) != Py_TYPE(nv)
            && !rl_defs_match((PyObject *)Py_TYPE(ov), (PyObject *)Py_TYPE(nv)))) {
        return 0;  /* the same class, or the same definition of it */
    }
    PyObject *od = plain_instance_dict(ov);
    PyObject *nd = od != NULL ? plain_instance_dict(nv) : NULL;
    Py_XDECREF(od);
    Py_XDECREF(nd);
    if (nd == NULL) {
        return 0;
    }
    if (rl_policy_pair_kept_data(txn, name, parent, ov, nv) < 0
        || rl_map_put(txn, nv, ov) < 0) {
        return -1;
    }
    return 1;
}

/* Whether function f reads a dict that claims to be this module's globals
 * (its __name__ is modname) but is not the module's dict: the module's dict
 * was replaced. A decorator's wrapper from another module copies
 * __module__ but has that module's globals, and is fine. */
static int
globals_of_another_copy(PyObject *f, PyObject *R, PyObject *modname)
{
    PyObject *g = ((PyFunctionObject *)f)->func_globals;
    if (g == R || !PyDict_Check(g)) {
        return 0;
    }
    PyObject *name = PyDict_GetItemWithError(g, rl_st.str_name);
    if (name == NULL) {
        PyErr_Clear();
        return 0;
    }
    return PyUnicode_Check(name) && same_str(name, modname);
}

/* shadow resolution (after exec) *******************************************/

int
rl_policy_resolve_shadow(rl_txn *txn, rl_entry *e)
{
    PyObject *S = PyModule_GetDict(e->shadow), *R = PyModule_GetDict(e->module);
    PyObject *k, *nv;
    Py_ssize_t pos = 0;
    rl_optin opt;

    txn->cur_module = e->name;
    txn->cur_fps = e->fps;
    /* Class data is shown kept for the batch's code that runs after this
     * module; the last module to finish (a batch of one) has none. */
    int later = 0;
    for (Py_ssize_t i = 0; i < txn->n; i++) {
        later |= &txn->entries[i] != e && txn->entries[i].state != 2;
    }
    if (rl_optin_read(S, &opt) < 0) {
        return -1;
    }
    while (PyDict_Next(S, &pos, &k, &nv)) {
        if (later && rl_kind(nv) == RL_K_CLASS && PyUnicode_Check(k)
            && same_str(rl_module_of(nv), e->name)) {
            /* its class data too (b.Conf.level), kept values shown */
            PyObject *ov = PyDict_GetItemWithError(R, k);
            if ((ov == NULL && PyErr_Occurred())
                || (ov != NULL && rl_class_resolve(txn, ov, nv) < 0)) {
                goto error;
            }
            continue;
        }
        if (rl_kind(nv) != RL_K_DATA || !PyUnicode_Check(k) || rl_is_dunder(k)
            || rl_is_declaration(k)) {
            continue;
        }
        PyObject *ov = PyDict_GetItemWithError(R, k);
        if (ov == NULL) {
            if (PyErr_Occurred()) {
                goto error;
            }
            continue;
        }
        if (ov == nv || rl_kind(ov) != RL_K_DATA) {
            continue;
        }
        int opted = rl_optin_has(&opt, k);
        if (opted < 0) {
            goto error;
        }
        if (opted) {
            /* a batch module executed after this one that copies it (from
             * m import NAME) must not map it back to its old value */
            if (rl_ptrmap_put(&txn->opted, nv, nv) < 0) {
                goto error;
            }
            continue;
        }
        if (rl_ptrmap_get(&txn->opted, nv) != NULL) {
            continue;  /* another module's replacement: it rebinds the copy */
        }
        /* the old value stays; this module's functions inside it (a
         * callable object's function, a factory's closures in a handler
         * dict) run the new code */
        data_walk dw = {txn, e->name, k, DATA_BUDGET, 0, -1};
        if (pair_in_data(&dw, ov, nv, DATA_DEPTH) < 0) {
            goto error;
        }
        /* The new object stands for the kept one wherever the new code
         * holds it: a default (x=_MISSING), a cell, a class attribute.
         * Not for ints and strings, which other names share by value. */
        if (!rl_is_plain_immutable(nv) && rl_map_put(txn, nv, ov) < 0) {
            goto error;
        }
        /* setting an existing key never resizes: safe while iterating */
        if (PyDict_SetItem(S, k, ov) < 0) {
            goto error;
        }
    }
    rl_optin_clear(&opt);
    return 0;
error:
    rl_optin_clear(&opt);
    return -1;
}

/* bindings (pass 1) ********************************************************/

static int
report(PyObject *list, PyObject *modname, PyObject *name)
{
    PyObject *path = rl_qualify(modname, name);
    if (path == NULL) {
        return -1;
    }
    int r = PyList_Append(list, path);
    Py_DECREF(path);
    return r;
}

static int
is_singleton(PyObject *v)
{
    return v == Py_None || v == Py_True || v == Py_False || v == Py_Ellipsis
           || v == Py_NotImplemented;
}

/* A replaced value reaches the globals that other modules copied from the
 * old one under the same name (`from m import NAME`). */
static int
rebind_copies(rl_txn *txn, PyObject *self, PyObject *name, PyObject *ov,
              PyObject *value)
{
    PyObject *modules = PySys_GetObject("modules");  // borrowed
    PyObject *k, *m;
    Py_ssize_t pos = 0;
    if (modules == NULL || !PyDict_Check(modules) || is_singleton(ov)) {
        return 0;
    }
    while (PyDict_Next(modules, &pos, &k, &m)) {
        if (m == self || !PyModule_Check(m)) {
            continue;
        }
        PyObject *d = PyModule_GetDict(m);  // borrowed
        PyObject *cur = d != NULL ? PyDict_GetItemWithError(d, name) : NULL;
        if (cur == NULL) {
            if (PyErr_Occurred()) {
                return -1;
            }
            continue;
        }
        if (cur == ov && rl_txn_add(txn, RL_SWAP_DICT, d, name, value) == NULL) {
            return -1;
        }
    }
    return 0;
}

static int
defined_here(PyObject *v, PyObject *modname)
{
    int kind = rl_kind(v);
    if (kind == RL_K_WRAPPER) {
        PyObject *f = lru_wrapped(v);
        int r = f != NULL && same_str(rl_module_of(f), modname);
        Py_XDECREF(f);
        return r;
    }
    return (kind == RL_K_FUNC || kind == RL_K_CLASS)
           && same_str(rl_module_of(v), modname);
}

static int
plan_bindings(rl_txn *txn, rl_entry *e)
{
    PyObject *S = PyModule_GetDict(e->shadow), *R = PyModule_GetDict(e->module);
    PyObject *mod = e->name, *k, *nv, *ov, *target = NULL, *keys = NULL;
    rl_optin opt;
    int rv = -1;

    if (rl_optin_read(S, &opt) < 0) {
        return -1;
    }
    /* only the entries pass 0 did not settle */
    rl_rewalk walk;
    rl_rewalk_init(&walk, &e->walk, S, R);
    int more;
    while ((more = rl_rewalk_next(&walk, &k, &nv, &ov)) != 0) {
        if (more < 0) {
            goto done;
        }
        if (!PyUnicode_Check(k) || is_import_dunder(k)) {
            continue;
        }
        if (ov != NULL && rl_map_lookup(txn, nv) == ov) {
            continue;  /* a kept definition, patched in place */
        }
        target = rl_map_value(txn, nv);
        if (target == NULL) {
            goto done;
        }
        if (target == ov) {
            Py_CLEAR(target);
            continue;
        }
        int nkind = rl_kind(nv), okind = ov ? rl_kind(ov) : -1;
        if (nkind == RL_K_DATA && (rl_is_dunder(k) || rl_is_declaration(k))) {
            /* dunders are definitions: they follow the new source */
            if (rl_same_value(target, ov)) {
                Py_CLEAR(target);
                continue;
            }
        }
        else if (ov == NULL) {
            if (report(txn->added, mod, k) < 0) {
                goto done;
            }
        }
        else if ((nkind == RL_K_DATA) != (okind == RL_K_DATA)
                 || ((nkind == RL_K_CLASS) != (okind == RL_K_CLASS)
                     && defined_here(ov, mod))) {
            /* a change of kind (definition <-> data, class <-> function):
             * removed and added */
            if (report(txn->removed, mod, k) < 0
                || report(txn->added, mod, k) < 0) {
                goto done;
            }
        }
        else if (nkind != RL_K_DATA && defined_here(ov, mod)
                 && (!defined_here(nv, mod)
                     || (same_str(rl_qualname_of(ov), k)
                         && !same_str(rl_qualname_of(nv), k)))) {
            /* this module's definition gave way to one from elsewhere
             * (from lib import f) or to an alias (Monster = Creature): it
             * is gone */
            if (report(txn->removed, mod, k) < 0) {
                goto done;
            }
        }
        else if (nkind != RL_K_DATA && defined_here(nv, mod)
                 && same_str(rl_qualname_of(nv), k)
                 && !(defined_here(ov, mod) && same_str(rl_qualname_of(ov), k))) {
            /* and back: an import or an alias became its own definition */
            if (report(txn->added, mod, k) < 0) {
                goto done;
            }
        }
        else if (nkind == RL_K_DATA) {
            int opted = rl_optin_has(&opt, k);
            if (opted < 0) {
                goto done;
            }
            /* rl_policy_resolve_shadow put the kept value here, unless it
             * was another module's replacement: anything else was set by a
             * batch module that ran after this one (b.SETTING = 1 in a), as
             * it would be at run time. It is installed, not reported. */
            int later = !opted && rl_ptrmap_get(&txn->opted, nv) == NULL;
            if ((!opted && !later) || rl_same_value(target, ov)) {
                Py_CLEAR(target);
                continue;  /* data keeps its runtime value */
            }
            PyObject *kt = rl_map_lookup(txn, (PyObject *)Py_TYPE(target));
            if (kt != NULL && kt != (PyObject *)Py_TYPE(target)) {
                /* an instance of a class left as it was (restart required):
                 * it cannot become one of the kept class, and a throwaway
                 * copy's instance is never handed out (SPEC §2.4) */
                Py_CLEAR(target);
                if (rl_add_restart(txn, rl_qualify(mod, k), "its new value is an "
                                   "instance of a class that needs a restart") < 0) {
                    goto done;
                }
                continue;
            }
            if (!later && (report(txn->data_replaced, mod, k) < 0
                           || rebind_copies(txn, e->module, k, ov, target) < 0)) {
                goto done;
            }
        }
        if (rl_stage_new_object(txn, target) < 0
            || rl_txn_add(txn, RL_SWAP_DICT, R, k, target) == NULL) {
            goto done;
        }
        Py_CLEAR(target);
    }
    /* names the new source no longer binds */
    if (rl_rewalk_saw_all(&walk)) {
        rv = 0;  /* every name of the module is bound again */
        goto done;
    }
    keys = PyDict_Keys(R);
    if (keys == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(keys); i++) {
        k = PyList_GET_ITEM(keys, i);
        if (!PyUnicode_Check(k) || is_import_dunder(k)) {
            continue;
        }
        int has = PyDict_Contains(S, k);
        if (has < 0) {
            goto done;
        }
        if (has) {
            continue;
        }
        ov = PyDict_GetItemWithError(R, k);
        if (ov == NULL) {
            if (PyErr_Occurred()) {
                goto done;
            }
            continue;
        }
        if (rl_is_dunder(k) && rl_kind(ov) == RL_K_DATA) {
            /* a dunder the source no longer binds goes */
        }
        else if (defined_here(ov, mod)) {
            if (report(txn->removed, mod, k) < 0) {
                goto done;
            }
        }
        else {
            continue;  /* state is never dropped silently */
        }
        if (rl_txn_add(txn, RL_SWAP_DICT, R, k, NULL) == NULL) {
            goto done;
        }
    }
    rv = 0;
done:
    Py_XDECREF(target);
    Py_XDECREF(keys);
    rl_optin_clear(&opt);
    return rv;
}

int
rl_policy_plan_module(rl_txn *txn, rl_entry *e, int pass)
{
    PyObject *S = PyModule_GetDict(e->shadow), *R = PyModule_GetDict(e->module);
    PyObject *k, *nv;

    txn->cur_module = e->name;
    txn->cur_fps = e->fps;
    if (pass == 1) {
        return plan_bindings(txn, e);
    }
    /* pairing reads the namespaces and runs no code that changes them;
     * it keeps for pass 1 the entries that are not kept definitions */
    rl_walk walk = {0};
    Py_ssize_t pos = 0, at = 0;
    rl_cursor cur;
    rl_cursor_init(&cur, R);
    rl_walk_clear(&e->walk);
    for (; PyDict_Next(S, &pos, &k, &nv); at = pos) {
        if (!PyUnicode_Check(k)) {
            continue;
        }
        PyObject *ov = rl_cursor_get(&cur, k);
        if (ov == NULL && PyErr_Occurred()) {
            goto done;
        }
        if (is_import_dunder(k)) {
            continue;
        }
        if (ov == NULL || ov == nv
            || !module_pairable(txn, R, S, k, ov, nv, e->name)) {
            if (rl_walk_keep(&walk, at, k) < 0) {
                goto done;
            }
            continue;
        }
        if (PyFunction_Check(ov) && globals_of_another_copy(ov, R, e->name)) {
            /* patching it would leave code that reads another dict than
             * the module's: refuse the batch */
            PyErr_Format(PyExc_ValueError, "the functions of %U do not use "
                         "its __dict__ as their globals (was the module's "
                         "dict replaced?)", e->name);
            Py_XSETREF(txn->failed, Py_NewRef(e->name));
            goto done;
        }
        if (rl_pair(txn, ov, nv, e->name, k, -1) < 0
            || (rl_map_lookup(txn, nv) != ov && rl_walk_keep(&walk, at, k) < 0)) {
            goto done;
        }
    }
    rl_walk_finish(&walk, S, &cur);
    e->walk = walk;
    return 0;
done:
    rl_walk_clear(&walk);
    return -1;
}
