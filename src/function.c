/* function.c: install a new definition into an existing function object.
 * Roughly old.__code__ = new.__code__ (also when the free variables differ),
 * defaults, keyword defaults, annotations, doc, __dict__ and closure cells,
 * all staged as one RL_SWAP_FUNC that the commit applies. */
#include "reloader.h"

/* value comparison *******************************************************/

/* Builtin immutable types whose comparison runs no user code. */
int
rl_is_plain_immutable(PyObject *v)
{
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyTuple_Type) {
        /* the compiler shares equal constant tuples between names */
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(v); i++) {
            if (!rl_is_plain_immutable(PyTuple_GET_ITEM(v, i))) {
                return 0;
            }
        }
        return 1;
    }
    return t == &PyLong_Type || t == &PyUnicode_Type || t == &PyBytes_Type
           || t == &PyFloat_Type || t == &PyComplex_Type || t == &PyBool_Type
           || v == Py_None || v == Py_Ellipsis || t == &PyRange_Type
           || t == &PySlice_Type;
}

int
rl_same_value(PyObject *a, PyObject *b)
{
    if (a == b) {
        return 1;
    }
    if (a == NULL || b == NULL || Py_TYPE(a) != Py_TYPE(b)) {
        return 0;
    }
    PyTypeObject *t = Py_TYPE(a);
    if (t == &PyUnicode_Type) {
        /* names and constants the compiler did not intern */
        if (rl_str_ready(a) < 0 || rl_str_ready(b) < 0) {
            PyErr_Clear();
            return 0;
        }
        Py_ssize_t n = PyUnicode_GET_LENGTH(a);
        return n == PyUnicode_GET_LENGTH(b)
               && PyUnicode_KIND(a) == PyUnicode_KIND(b)
               && memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b),
                         (size_t)n * PyUnicode_KIND(a)) == 0;
    }
    if (t == &PyLong_Type) {
        int oa, ob;
        long long x = PyLong_AsLongLongAndOverflow(a, &oa);
        long long y = PyLong_AsLongLongAndOverflow(b, &ob);
        if (oa == 0 && ob == 0) {
            return x == y;  /* no error is possible without overflow */
        }
    }
    if (t == &PyFloat_Type) {
        /* bitwise: 0.0 and -0.0 differ, a NaN equals itself */
        double x = PyFloat_AS_DOUBLE(a), y = PyFloat_AS_DOUBLE(b);
        return memcmp(&x, &y, sizeof x) == 0;
    }
    if (t == &PyTuple_Type) {
        Py_ssize_t n = PyTuple_GET_SIZE(a);
        if (n != PyTuple_GET_SIZE(b)) {
            return 0;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            /* names tuples: mostly the same interned strings */
            PyObject *x = PyTuple_GET_ITEM(a, i), *y = PyTuple_GET_ITEM(b, i);
            if (x != y && !rl_same_value(x, y)) {
                return 0;
            }
        }
        return 1;
    }
    if (t == &PyFrozenSet_Type) {
        /* frozenset constants of plain values: sizes, then membership */
        if (PySet_GET_SIZE(a) != PySet_GET_SIZE(b)) {
            return 0;
        }
        PyObject *it = PyObject_GetIter(a), *item;
        int same = (it != NULL);
        while (same && (item = PyIter_Next(it)) != NULL) {
            int r = rl_is_plain_immutable(item) || rl_hash_is_safe(item)
                    ? PySet_Contains(b, item) : 0;
            Py_DECREF(item);
            same = (r == 1);
        }
        Py_XDECREF(it);
        if (PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
        return same;
    }
    if (t == &PyCode_Type) {
        int differs = 0, moved = 0;
        if (rl_code_compare(a, b, &differs, &moved) < 0) {
            PyErr_Clear();
            return 0;
        }
        return !differs && !moved;
    }
    if (!rl_is_plain_immutable(a)) {
        return 0;
    }
    int r = PyObject_RichCompareBool(a, b, Py_EQ);
    if (r < 0) {
        PyErr_Clear();
        return 0;
    }
    return r;
}

/* Whether a cell or attribute going from old to new is news for the report:
 * a plain value that differs (a decorator's argument "old" -> "new"). A new
 * object in place of an old one of identity (a set the decorator keeps as
 * state, say) is what every run of the source makes, not an edit. */
static int
value_news(PyObject *new, PyObject *old)
{
    if (new == NULL || old == NULL) {
        return new != old;
    }
    return rl_is_plain_immutable(new) && rl_is_plain_immutable(old)
           && !rl_same_value(new, old);
}

/* closures ***************************************************************/

/* Free variables that code rebinds (STORE_DEREF / DELETE_DEREF of a free
 * variable: a `nonlocal` assignment), as a new set. Such a cell is state. */
static PyObject *
rebound_freevars(PyCodeObject *co)
{
    PyObject *bytes = NULL, *names = NULL, *out = NULL;
    int nfree = rl_code_nfree(co);

    out = PySet_New(NULL);
    if (out == NULL || nfree == 0) {
        return out;
    }
    bytes = rl_code_bytes(co);
    names = rl_code_deref_names(co);
    if (bytes == NULL || names == NULL) {
        goto error;
    }
    Py_ssize_t nnames = PyTuple_GET_SIZE(names);
    Py_ssize_t first_free = nnames - nfree;
    const unsigned char *b = (const unsigned char *)PyBytes_AS_STRING(bytes);
    Py_ssize_t len = PyBytes_GET_SIZE(bytes);
    unsigned int ext = 0;
    for (Py_ssize_t i = 0; i + 1 < len; i += 2) {
        int op = b[i];
        unsigned int arg = b[i + 1] | (ext << 8);
        if (op == rl_st.op_extended_arg) {
            ext = arg;
            continue;
        }
        ext = 0;
        if ((op == rl_st.op_store_deref || op == rl_st.op_delete_deref)
            && (Py_ssize_t)arg >= first_free && (Py_ssize_t)arg < nnames) {
            if (PySet_Add(out, PyTuple_GET_ITEM(names, arg)) < 0) {
                goto error;
            }
        }
    }
    Py_DECREF(bytes);
    Py_DECREF(names);
    return out;
error:
    Py_XDECREF(bytes);
    Py_XDECREF(names);
    Py_XDECREF(out);
    return NULL;
}

static Py_ssize_t
index_of(PyObject *names, PyObject *name)
{
    Py_ssize_t n = PyTuple_GET_SIZE(names);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *x = PyTuple_GET_ITEM(names, i);
        if (x == name || PyUnicode_Compare(x, name) == 0) {
            return i;
        }
    }
    return -1;
}

static int
has_freevar(PyCodeObject *co, PyObject *name)
{
    if (rl_code_nfree(co) == 0) {
        return 0;
    }
    PyObject *free = rl_code_freevars(co);
    if (free == NULL) {
        PyErr_Clear();
        return 0;
    }
    int r = index_of(free, name) >= 0;
    Py_DECREF(free);
    return r;
}

/* Whether co, or code nested in it that shares the variable, rebinds the
 * free variable name with `nonlocal`. 1, 0, or -1. */
static int
subtree_rebinds(PyCodeObject *co, PyObject *name)
{
    PyObject *set = rebound_freevars(co);
    if (set == NULL) {
        return -1;
    }
    int r = PySet_Contains(set, name);
    Py_DECREF(set);
    for (Py_ssize_t i = 0; r == 0 && i < PyTuple_GET_SIZE(co->co_consts); i++) {
        PyObject *c = PyTuple_GET_ITEM(co->co_consts, i);
        if (PyCode_Check(c) && has_freevar((PyCodeObject *)c, name)) {
            r = subtree_rebinds((PyCodeObject *)c, name);
        }
    }
    return r;
}

static int
note_parents(rl_ptrmap *m, PyObject *code, int depth)
{
    PyObject *consts = ((PyCodeObject *)code)->co_consts;
    for (Py_ssize_t i = 0; depth < 100 && i < PyTuple_GET_SIZE(consts); i++) {
        PyObject *c = PyTuple_GET_ITEM(consts, i);
        if (PyCode_Check(c)
            && (rl_ptrmap_put(m, c, code) < 0 || note_parents(m, c, depth + 1) < 0)) {
            return -1;
        }
    }
    return 0;
}

/* Whether the cell of free variable name is state: some function of the
 * scope that made it (the function itself or a sibling closure from the
 * same factory) rebinds it with `nonlocal`. 1, 0 or -1. */
static int
cell_is_state(rl_txn *txn, PyCodeObject *co, PyObject *name)
{
    if (!txn->have_parents) {
        for (Py_ssize_t i = 0; i < txn->n; i++) {
            if (note_parents(&txn->code_parents, txn->entries[i].code, 0) < 0) {
                return -1;
            }
        }
        txn->have_parents = 1;
    }
    PyObject *parent = rl_ptrmap_get(&txn->code_parents, (PyObject *)co);
    if (parent == NULL) {
        /* a factory outside the batch: only this function's code is known */
        return subtree_rebinds(co, name);
    }
    PyObject *consts = ((PyCodeObject *)parent)->co_consts;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts); i++) {
        PyObject *c = PyTuple_GET_ITEM(consts, i);
        if (PyCode_Check(c) && has_freevar((PyCodeObject *)c, name)) {
            int r = subtree_rebinds((PyCodeObject *)c, name);
            if (r != 0) {
                return r;
            }
        }
    }
    return 0;
}

/* A fresh cell standing for a new function's cell (new reference); one per
 * new cell, so closures that shared a cell keep sharing it. */
static PyObject *
fresh_cell(rl_txn *txn, PyObject *newcell)
{
    PyObject *cell = rl_ptrmap_get(&txn->cellmap, newcell), *value = NULL;
    if (cell != NULL) {
        return Py_NewRef(cell);
    }
    PyObject *content = PyCell_GET(newcell);  // borrowed
    if (content != NULL) {
        value = rl_map_value(txn, content);
        if (value == NULL) {
            return NULL;
        }
    }
    cell = PyCell_New(value);
    Py_XDECREF(value);
    if (cell != NULL && rl_ptrmap_put(&txn->cellmap, newcell, cell) < 0) {
        Py_CLEAR(cell);
    }
    return cell;
}

/* The closure old should have to run new's code (new reference, Py_None for
 * no closure), reusing old's cells by name. A cell rebound with `nonlocal`
 * keeps its value; any other takes the new value (staged as a cell swap). */
static PyObject *
build_closure(rl_txn *txn, PyFunctionObject *old, PyFunctionObject *new,
              int *changed)
{
    PyCodeObject *nco = (PyCodeObject *)new->func_code;
    PyCodeObject *oco = (PyCodeObject *)old->func_code;
    PyObject *nfree = NULL, *ofree = NULL, *out = NULL;
    int nn = rl_code_nfree(nco);

    if (nn == 0) {
        if (old->func_closure != NULL) {
            *changed = 1;
        }
        return Py_NewRef(Py_None);
    }
    if (new->func_closure == NULL
        || PyTuple_GET_SIZE(new->func_closure) != nn) {
        PyErr_SetString(PyExc_SystemError, "function closure does not match "
                                           "its code");
        return NULL;
    }
    nfree = rl_code_freevars(nco);
    ofree = old->func_closure != NULL ? rl_code_freevars(oco)
                                      : PyTuple_New(0);
    out = PyTuple_New(nn);
    if (nfree == NULL || ofree == NULL || out == NULL) {
        goto error;
    }
    for (int i = 0; i < nn; i++) {
        PyObject *name = PyTuple_GET_ITEM(nfree, i);
        PyObject *ncell = PyTuple_GET_ITEM(new->func_closure, i);
        Py_ssize_t j = old->func_closure != NULL ? index_of(ofree, name) : -1;
        PyObject *cell;
        if (j < 0 || j >= PyTuple_GET_SIZE(old->func_closure)) {
            cell = fresh_cell(txn, ncell);
            if (cell == NULL) {
                goto error;
            }
            *changed = 1;
            PyTuple_SET_ITEM(out, i, cell);
            continue;
        }
        cell = PyTuple_GET_ITEM(old->func_closure, j);
        Py_INCREF(cell);
        PyTuple_SET_ITEM(out, i, cell);
        int is_state = cell_is_state(txn, nco, name);
        if (is_state < 0) {
            goto error;
        }
        if (is_state) {
            continue;  /* `nonlocal` state keeps its value */
        }
        PyObject *ocontent = PyCell_GET(cell);   // borrowed
        PyObject *ncontent = PyCell_GET(ncell);  // borrowed
        PyObject *target = NULL;
        if (ncontent != NULL) {
            target = rl_map_value(txn, ncontent);
            if (target == NULL) {
                goto error;
            }
        }
        if (target != ocontent) {
            if (value_news(target, ocontent)) {
                *changed = 1;
            }
            if (rl_txn_add(txn, RL_SWAP_CELL, cell, NULL, target) == NULL) {
                Py_XDECREF(target);
                goto error;
            }
        }
        Py_XDECREF(target);
    }
    Py_DECREF(nfree);
    Py_DECREF(ofree);
    return out;
error:
    Py_XDECREF(nfree);
    Py_XDECREF(ofree);
    Py_XDECREF(out);
    return NULL;
}

/* defaults and dicts *****************************************************/

/* dict with every value mapped (new reference); the same dict when nothing
 * maps. */
static PyObject *
map_dict(rl_txn *txn, PyObject *d)
{
    PyObject *out = NULL, *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(d, &pos, &k, &v)) {
        PyObject *m = rl_map_value(txn, v);
        if (m == NULL) {
            Py_XDECREF(out);
            return NULL;
        }
        int moved = m != v;
        if (moved && out == NULL) {
            out = PyDict_Copy(d);  /* d stays as the new code made it */
        }
        if (moved && out != NULL && PyDict_SetItem(out, k, m) < 0) {
            Py_CLEAR(out);
        }
        Py_DECREF(m);
        if (moved && out == NULL) {
            return NULL;
        }
    }
    return out != NULL ? out : Py_NewRef(d);
}

static int
same_dict_values(PyObject *a, PyObject *b)
{
    if (a == b) {
        return 1;
    }
    if (a == NULL || b == NULL || PyDict_GET_SIZE(a) != PyDict_GET_SIZE(b)) {
        return 0;
    }
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(a, &pos, &k, &v)) {
        PyObject *w = PyDict_GetItemWithError(b, k);  // borrowed
        if (w == NULL) {
            PyErr_Clear();
            return 0;
        }
        if (!rl_same_value(v, w)) {
            return 0;
        }
    }
    return 1;
}

/* The function's __dict__ (borrowed), made if absent; NULL + exception. */
static PyObject *
func_dict(PyObject *f)
{
    PyObject *d = PyObject_GenericGetDict(f, NULL);  /* new reference */
    if (d != NULL) {
        Py_DECREF(d);  /* the function holds it */
    }
    return d;
}

/* Attributes the new source set on the function are updated, others stay. */
static int
stage_func_dict(rl_txn *txn, PyObject *old, PyObject *new, int *changed)
{
    PyObject *nd = ((PyFunctionObject *)new)->func_dict, *od, *k, *v;
    Py_ssize_t pos = 0;
    if (nd == NULL || PyDict_GET_SIZE(nd) == 0) {
        return 0;
    }
    od = func_dict(old);
    if (od == NULL) {
        return -1;
    }
    while (PyDict_Next(nd, &pos, &k, &v)) {
        PyObject *m = rl_map_value(txn, v);
        if (m == NULL) {
            return -1;
        }
        PyObject *cur = PyDict_GetItemWithError(od, k);  // borrowed
        if (cur == NULL && PyErr_Occurred()) {
            Py_DECREF(m);
            return -1;
        }
        if (cur != m) {
            if (value_news(m, cur)) {
                *changed = 1;
            }
            if (rl_txn_add(txn, RL_SWAP_DICT, od, k, m) == NULL) {
                Py_DECREF(m);
                return -1;
            }
        }
        Py_DECREF(m);
    }
    return 0;
}

/* staging ****************************************************************/

static int
plain_same_defaults(PyObject *a, PyObject *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(b);
    if (n != PyTuple_GET_SIZE(a)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *x = PyTuple_GET_ITEM(a, i), *y = PyTuple_GET_ITEM(b, i);
        if (x == y) {
            continue;  /* small ints, interned strings, a shared sentinel */
        }
        if (!rl_is_plain_immutable(x) || !rl_same_value(x, y)) {
            return 0;
        }
    }
    return 1;
}

/* Whether new is old's definition as it was, so that nothing needs staging:
 * the same code and positions, no cells, no attributes, equal plain
 * defaults (values the map never holds), no keyword defaults or
 * annotations, the same doc. Most definitions of an edited module are; the
 * full path (rl_function_stage) handles the rest. The code is compared by
 * fingerprint where both sides have one (fingerprint.c), so that the old
 * code object is not read at all. 1, 0 or -1. */
int
rl_function_unchanged(rl_txn *txn, PyObject *oldobj, PyObject *newobj)
{
    PyFunctionObject *old = (PyFunctionObject *)oldobj;
    PyFunctionObject *new = (PyFunctionObject *)newobj;
    int differs = 0, moved = 0;

    if (old->func_closure != NULL || new->func_closure != NULL
        || (new->func_dict != NULL && PyDict_GET_SIZE(new->func_dict) > 0)
        || old->func_kwdefaults != NULL || new->func_kwdefaults != NULL
        || new->func_annotations != NULL
        || (old->func_annotations != NULL  /* {} once __annotations__ was read */
            && !(PyDict_Check(old->func_annotations)
                 && PyDict_GET_SIZE(old->func_annotations) == 0))
        || !plain_same_defaults(new->func_defaults, old->func_defaults)
        || !rl_same_value(new->func_doc, old->func_doc)
        || rl_func_typeparams(new) != NULL || rl_func_typeparams(old) != NULL) {
        return 0;
    }
    const rl_fp *nfp = rl_fp_offered(txn->cur_fps, new->func_code);
    if (nfp != NULL) {
        const rl_fp *ofp = rl_fp_known(old->func_code);
        if (ofp != NULL) {
            return ofp->a == nfp->a && ofp->b == nfp->b;
        }
    }
    if (rl_code_compare(old->func_code, new->func_code, &differs, &moved) < 0) {
        return -1;
    }
    if (differs || moved) {
        return 0;
    }
    if (nfp != NULL) {
        rl_fp_learn(old->func_code, nfp);  /* equal code, equal fingerprint */
    }
    return 1;
}


/* Whether two __type_params__ tuples (or NULL) name the same parameters,
 * in order. */
static int
same_param_names(PyObject *a, PyObject *b)
{
    Py_ssize_t na = a != NULL ? PyTuple_GET_SIZE(a) : 0;
    Py_ssize_t nb = b != NULL ? PyTuple_GET_SIZE(b) : 0;
    int same = na == nb;
    for (Py_ssize_t i = 0; same && i < na; i++) {
        PyObject *x = PyObject_GetAttr(PyTuple_GET_ITEM(a, i), rl_st.str_name);
        PyObject *y = x != NULL ? PyObject_GetAttr(PyTuple_GET_ITEM(b, i), rl_st.str_name)
                                : NULL;
        same = y != NULL && rl_same_value(x, y);
        Py_XDECREF(x);
        Py_XDECREF(y);
    }
    PyErr_Clear();  /* unreadable names count as changed */
    return same;
}

#if RL_PY312
/* sys.monitoring keeps a tool's local events (PY_START of one function, a
 * debugger's LINE events) on the code object: the new code of a function
 * takes those of its old code, or the tool would go silent on it. The new
 * code is not live yet, so this changes nothing a rollback must undo. */
static int
carry_local_events(rl_txn *txn, PyObject *oldcode, PyObject *newcode)
{
    PyObject *mon = NULL;
    int rv = -1;
    if (txn->mon_tools == 0) {  /* once per batch: which tools are in use */
        txn->mon_tools = 1 << 6;
        mon = Py_XNewRef(PySys_GetObject("monitoring"));  /* not importable */
        if (mon == NULL) {
            return 0;  /* no monitoring here: nothing to carry */
        }
        for (int tool = 0; tool < 6; tool++) {
            PyObject *name = PyObject_CallMethod(mon, "get_tool", "i", tool);
            if (name == NULL) {
                goto done;
            }
            if (name != Py_None) {
                txn->mon_tools |= 1 << tool;
            }
            Py_DECREF(name);
        }
        Py_CLEAR(mon);
    }
    if (txn->mon_tools == 1 << 6) {
        return 0;  /* the usual case: no tool at all */
    }
    mon = Py_XNewRef(PySys_GetObject("monitoring"));
    if (mon == NULL) {
        return 0;  /* someone removed it since */
    }
    for (int tool = 0; tool < 6; tool++) {
        if (!(txn->mon_tools & (1 << tool))) {
            continue;
        }
        PyObject *ev = PyObject_CallMethod(mon, "get_local_events", "iO", tool, oldcode);
        if (ev == NULL) {
            goto done;
        }
        int none = PyLong_Check(ev) && PyLong_AsLong(ev) == 0;
        PyObject *r = none ? Py_NewRef(Py_None)
                           : PyObject_CallMethod(mon, "set_local_events", "iOO",
                                                 tool, newcode, ev);
        Py_DECREF(ev);
        if (r == NULL) {
            goto done;
        }
        Py_DECREF(r);
    }
    rv = 0;
done:
    Py_XDECREF(mon);
    return rv;
}
#endif

int
rl_function_stage(rl_txn *txn, PyObject *oldobj, PyObject *newobj,
                  int *changed)
{
    PyFunctionObject *old = (PyFunctionObject *)oldobj;
    PyFunctionObject *new = (PyFunctionObject *)newobj;
    PyObject *val[RL_F_COUNT] = {NULL};
    unsigned mask = 0;
    int differs = 0, moved = 0, cells = 0, rv = -1;

    if (rl_code_compare(old->func_code, new->func_code, &differs, &moved) < 0) {
        goto done;
    }
    if (differs || moved) {
        val[RL_F_CODE] = Py_NewRef(new->func_code);
        mask |= 1u << RL_F_CODE;
#if RL_PY312
        if (carry_local_events(txn, old->func_code, new->func_code) < 0) {
            goto done;
        }
#endif
    }
    val[RL_F_CLOSURE] = build_closure(txn, old, new, &cells);
    if (val[RL_F_CLOSURE] == NULL) {
        goto done;
    }
    {
        /* a new tuple only if a cell object differs */
        PyObject *oc = old->func_closure, *nc = val[RL_F_CLOSURE];
        int same = (nc == Py_None && oc == NULL);
        if (!same && nc != Py_None && oc != NULL
            && PyTuple_GET_SIZE(nc) == PyTuple_GET_SIZE(oc)) {
            same = 1;
            for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(nc); i++) {
                if (PyTuple_GET_ITEM(nc, i) != PyTuple_GET_ITEM(oc, i)) {
                    same = 0;
                    break;
                }
            }
        }
        if (same) {
            Py_CLEAR(val[RL_F_CLOSURE]);
        }
        else {
            mask |= 1u << RL_F_CLOSURE;
            if ((mask & (1u << RL_F_CODE)) == 0) {
                /* keep code and closure consistent: install both */
                val[RL_F_CODE] = Py_NewRef(new->func_code);
                mask |= 1u << RL_F_CODE;
            }
        }
    }
    /* A module whose source did not change lists nothing as updated
     * (SPEC): its defaults, fresh [] and Weapon() that no comparison can
     * call equal, stay, with the state they hold. */
    PyObject *modname = rl_module_of(oldobj);
    rl_entry *home = modname != NULL ? rl_txn_entry(txn, modname) : NULL;
    int keep = home != NULL && home->same_source && !differs && !moved;
    if (new->func_defaults != NULL && !keep) {
        val[RL_F_DEFAULTS] = rl_map_value(txn, new->func_defaults);
        if (val[RL_F_DEFAULTS] == NULL) {
            goto done;
        }
    }
    if (!keep && !rl_same_value(val[RL_F_DEFAULTS], old->func_defaults)) {
        mask |= 1u << RL_F_DEFAULTS;
        differs = 1;
    }
    if (new->func_kwdefaults != NULL && !keep) {
        val[RL_F_KWDEFAULTS] = map_dict(txn, new->func_kwdefaults);
        if (val[RL_F_KWDEFAULTS] == NULL) {
            goto done;
        }
    }
    if (!keep && !same_dict_values(val[RL_F_KWDEFAULTS], old->func_kwdefaults)) {
        mask |= 1u << RL_F_KWDEFAULTS;
        differs = 1;
    }
    {
        /* 3.10+ keeps annotations as a tuple until __annotations__ is read
         * (the getter builds the dict; no audit). No annotations, NULL and
         * {} are the same. */
        PyObject *ann = NULL;
        if (new->func_annotations != NULL) {
            ann = PyObject_GetAttr(newobj, rl_st.str_annotations);
            if (ann == NULL) {
                goto done;
            }
        }
        int has_new = ann != NULL && PyDict_Check(ann) && PyDict_GET_SIZE(ann) > 0;
        PyObject *oa = old->func_annotations;
        int has_old = oa != NULL && !(PyDict_Check(oa) && PyDict_GET_SIZE(oa) == 0);
        if (has_new) {
            val[RL_F_ANNOTATIONS] = map_dict(txn, ann);
            if (val[RL_F_ANNOTATIONS] == NULL) {
                Py_DECREF(ann);
                goto done;
            }
            if (!has_old || !PyDict_Check(oa)
                || !same_dict_values(val[RL_F_ANNOTATIONS], oa)) {
                mask |= 1u << RL_F_ANNOTATIONS;
            }
        }
        else if (has_old) {
            mask |= 1u << RL_F_ANNOTATIONS;  /* clear */
        }
        Py_XDECREF(ann);
    }
    if (!rl_same_value(new->func_doc, old->func_doc)) {
        val[RL_F_DOC] = Py_XNewRef(new->func_doc);
        mask |= 1u << RL_F_DOC;
        if (!differs) {
            differs = (new->func_doc != Py_None || old->func_doc != Py_None);
        }
    }
    {
        /* PEP 695: the new def made new type variables; the annotations
         * above name them, so the function takes them (listed when their
         * names changed) */
        PyObject *ot = rl_func_typeparams(old), *nt = rl_func_typeparams(new);
        if (ot != nt) {
            val[RL_F_TYPEPARAMS] = Py_XNewRef(nt);
            mask |= 1u << RL_F_TYPEPARAMS;
            if (!differs) {
                differs = !same_param_names(ot, nt);
            }
        }
    }
    if (stage_func_dict(txn, oldobj, newobj, &cells) < 0) {
        goto done;
    }
    if (mask != 0) {
        rl_swap *s = rl_txn_add(txn, RL_SWAP_FUNC, oldobj, NULL, NULL);
        if (s == NULL) {
            goto done;
        }
        s->mask = mask;
        for (int i = 0; i < RL_F_COUNT; i++) {
            s->val[i] = val[i];  /* the swap owns them now */
            val[i] = NULL;
        }
        /* s moves if the swaps grow: the followers read their own copy */
        PyObject *vals[RL_F_COUNT];
        for (int i = 0; i < RL_F_COUNT; i++) {
            vals[i] = s->val[i];
        }
        if (rl_followers_stage(txn, oldobj, mask, vals) < 0) {
            goto done;
        }
    }
    if (differs || cells) {
        *changed = 1;
    }
    rv = 0;
done:
    for (int i = 0; i < RL_F_COUNT; i++) {
        Py_XDECREF(val[i]);
    }
    return rv;
}

/* A function the new code made that stays as it is (an added name): the
 * defaults and cells that hold throwaway objects get the kept ones. */
int
rl_function_fixup(rl_txn *txn, PyObject *fobj)
{
    PyFunctionObject *f = (PyFunctionObject *)fobj;
    PyObject *defaults = NULL, *kwdefaults = NULL;
    int rv = -1;

    if (f->func_defaults != NULL) {
        defaults = rl_map_value(txn, f->func_defaults);
        if (defaults == NULL) {
            goto done;
        }
    }
    if (f->func_kwdefaults != NULL) {
        kwdefaults = map_dict(txn, f->func_kwdefaults);
        if (kwdefaults == NULL) {
            goto done;
        }
    }
    if (defaults != f->func_defaults || kwdefaults != f->func_kwdefaults) {
        rl_swap *s = rl_txn_add(txn, RL_SWAP_FUNC, fobj, NULL, NULL);
        if (s == NULL) {
            goto done;
        }
        s->mask = (1u << RL_F_DEFAULTS) | (1u << RL_F_KWDEFAULTS);
        s->val[RL_F_DEFAULTS] = defaults;
        s->val[RL_F_KWDEFAULTS] = kwdefaults;
        defaults = kwdefaults = NULL;
    }
    if (f->func_annotations != NULL) {
        /* in place: the new code made this dict for this function; 3.10+
         * keep a tuple until __annotations__ is read, which builds it */
        PyObject *ann = PyObject_GetAttr(fobj, rl_st.str_annotations);
        PyObject *m = ann != NULL && PyDict_CheckExact(ann) ? rl_map_value(txn, ann) : NULL;
        int failed = ann == NULL || (PyDict_CheckExact(ann) && m == NULL);
        Py_XDECREF(m);
        Py_XDECREF(ann);
        if (failed) {
            goto done;
        }
    }
    for (Py_ssize_t i = 0; f->func_closure && i < PyTuple_GET_SIZE(f->func_closure); i++) {
        PyObject *cell = PyTuple_GET_ITEM(f->func_closure, i);
        PyObject *content = PyCell_GET(cell);
        PyObject *kept = content ? rl_map_lookup(txn, content) : NULL;
        if (kept != NULL && kept != content
            && rl_txn_add(txn, RL_SWAP_CELL, cell, NULL, kept) == NULL) {
            goto done;
        }
    }
    rv = 0;
done:
    Py_XDECREF(defaults);
    Py_XDECREF(kwdefaults);
    return rv;
}

/* followers ****************************************************************/

/* A function the new code made and handed out of the module (a repeated
 * registration: events.HANDLERS.append(on_kill) runs again on each load)
 * is not the kept object: after its batch it runs that batch's code. It
 * follows its kept function from then on: each later patch of the kept
 * function is applied to it too, so every copy a registration handed out
 * runs the newest code (SPEC §2.4). rl_st.followers maps a weak reference
 * to the kept function to a list of weak references to its followers. */

static int
note_follower(PyObject *kept, PyObject *f)
{
    PyObject *key = PyWeakref_NewRef(kept, NULL), *ref = NULL;
    int rv = -1;
    if (key == NULL) {
        return -1;
    }
    PyObject *list = PyDict_GetItemWithError(rl_st.followers, key);  // borrowed
    if (list == NULL) {
        if (PyErr_Occurred()) {
            goto done;
        }
        list = PyList_New(0);
        if (list == NULL || PyDict_SetItem(rl_st.followers, key, list) < 0) {
            Py_XDECREF(list);
            goto done;
        }
        Py_DECREF(list);  /* the dict holds it */
    }
    ref = PyWeakref_NewRef(f, NULL);
    rv = ref != NULL ? PyList_Append(list, ref) : -1;
done:
    Py_XDECREF(ref);
    Py_DECREF(key);
    return rv;
}

/* Drop the entries of kept functions that are gone and the followers that
 * are gone. The table holds only functions that were handed out. */
static void
prune_followers(void)
{
    PyObject *keys = PyDict_Keys(rl_st.followers);
    for (Py_ssize_t i = 0; keys != NULL && i < PyList_GET_SIZE(keys); i++) {
        PyObject *key = PyList_GET_ITEM(keys, i);
        PyObject *list = PyDict_GetItemWithError(rl_st.followers, key);  // borrowed
        if (list == NULL) {
            if (PyErr_Occurred()) {
                break;
            }
            continue;
        }
        PyObject *live = PyList_New(0);
        for (Py_ssize_t j = 0; live != NULL && j < PyList_GET_SIZE(list); j++) {
            PyObject *ref = PyList_GET_ITEM(list, j);
            if (rl_weakref_alive(ref) && PyList_Append(live, ref) < 0) {
                Py_CLEAR(live);
            }
        }
        int r = live == NULL ? -1
                : PyList_GET_SIZE(live) == 0 || !rl_weakref_alive(key)
                ? PyDict_DelItem(rl_st.followers, key)
                : PyDict_SetItem(rl_st.followers, key, live);
        Py_XDECREF(live);
        if (r < 0) {
            break;
        }
    }
    Py_XDECREF(keys);
    if (PyErr_Occurred()) {
        PyErr_WriteUnraisable(NULL);
    }
}

void
rl_followers_note(rl_txn *txn)
{
    rl_exc exc;
    rl_exc_save(&exc);
    prune_followers();
    PyObject *handed = txn->handed;
    for (Py_ssize_t i = 0; handed != NULL && i < PyList_GET_SIZE(handed); i++) {
        PyObject *new = PyList_GET_ITEM(handed, i);
        PyObject *kept = rl_map_lookup(txn, new);
        /* the map and this list hold one reference each: any other is from
         * outside the batch */
        if (kept != NULL && kept != new && PyFunction_Check(kept)
            && Py_REFCNT(new) > 2 && note_follower(kept, new) < 0) {
            PyErr_WriteUnraisable(kept);
        }
    }
    rl_exc_restore(&exc);
}

int
rl_followers_stage(rl_txn *txn, PyObject *kept, unsigned mask, PyObject *const *val)
{
    if (PyDict_GET_SIZE(rl_st.followers) == 0) {
        return 0;  /* the usual case */
    }
    PyObject *key = PyWeakref_NewRef(kept, NULL);
    if (key == NULL) {
        return -1;
    }
    PyObject *list = PyDict_GetItemWithError(rl_st.followers, key);
    Py_DECREF(key);
    if (list == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    list = PySequence_List(list);  /* staging allocates; hold a snapshot */
    if (list == NULL) {
        return -1;
    }
    int rv = 0;
    for (Py_ssize_t i = 0; rv == 0 && i < PyList_GET_SIZE(list); i++) {
        PyObject *f = rl_weakref_get(PyList_GET_ITEM(list, i));
        if (f == NULL || !PyFunction_Check(f)) {
            Py_XDECREF(f);
            continue;
        }
        PyFunctionObject *ff = (PyFunctionObject *)f;
        if ((mask & (1u << RL_F_CODE)) && !(mask & (1u << RL_F_CLOSURE))) {
            /* code alone: only over a closure of the same shape */
            Py_ssize_t have = ff->func_closure ? PyTuple_GET_SIZE(ff->func_closure) : 0;
            if (have != rl_code_nfree((PyCodeObject *)val[RL_F_CODE])) {
                Py_DECREF(f);
                continue;
            }
        }
        rl_swap *s = rl_txn_add(txn, RL_SWAP_FUNC, f, NULL, NULL);
        if (s == NULL) {
            rv = -1;
        }
        else {
            s->mask = mask;
            for (int j = 0; j < RL_F_COUNT; j++) {
                s->val[j] = Py_XNewRef(val[j]);
            }
        }
        Py_DECREF(f);
    }
    Py_DECREF(list);
    return rv;
}
