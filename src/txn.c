/* txn.c: one batch as a transaction. execute() runs each module's new code
 * in a shadow module through the finder; plan() pairs old and new objects
 * and stages every change as a swap; commit() applies the swaps without
 * running Python code; rollback() undoes them; release() drops the old
 * values (which may run __del__) once nothing can go back. */
#include "reloader.h"

/* swap log ***************************************************************/

rl_swap *
rl_txn_add(rl_txn *txn, rl_swap_kind kind, PyObject *target, PyObject *key,
           PyObject *val)
{
    if (txn->nswaps == txn->capswaps) {
        Py_ssize_t cap = txn->capswaps ? txn->capswaps * 2 : 64;
        rl_swap *s = PyMem_Realloc(txn->swaps, cap * sizeof(rl_swap));
        if (s == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        txn->swaps = s;
        txn->capswaps = cap;
    }
    rl_swap *s = &txn->swaps[txn->nswaps++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->target = Py_NewRef(target);
    s->key = Py_XNewRef(key);
    s->val[0] = Py_XNewRef(val);
    return s;
}

static void
swap_clear(rl_swap *s)
{
    Py_CLEAR(s->target);
    Py_CLEAR(s->key);
    for (int i = 0; i < RL_F_COUNT; i++) {
        Py_CLEAR(s->val[i]);
        Py_CLEAR(s->old[i]);
    }
}

/* Replace an owned field; the caller holds another reference to the old
 * value (in the swap), so nothing is freed here. */
static inline void
set_field(PyObject **field, PyObject *value)
{
    PyObject *prev = *field;
    *field = Py_XNewRef(value);
    Py_XDECREF(prev);
}

static int
apply_func(rl_swap *s, int undo)
{
    PyFunctionObject *f = (PyFunctionObject *)s->target;
    PyObject **v = undo ? s->old : s->val;
    unsigned m = s->mask;

    if (!undo) {
        s->old[RL_F_CODE] = Py_NewRef(f->func_code);
        s->old[RL_F_CLOSURE] = Py_XNewRef(f->func_closure);
        s->old[RL_F_DEFAULTS] = Py_XNewRef(f->func_defaults);
        s->old[RL_F_KWDEFAULTS] = Py_XNewRef(f->func_kwdefaults);
        s->old[RL_F_ANNOTATIONS] = Py_XNewRef(f->func_annotations);
        s->old[RL_F_DOC] = Py_XNewRef(f->func_doc);
        s->old[RL_F_TYPEPARAMS] = Py_XNewRef(rl_func_typeparams(f));
    }
    if ((m & (1u << RL_F_DEFAULTS))
        && PyFunction_SetDefaults((PyObject *)f, v[RL_F_DEFAULTS]
                                                     ? v[RL_F_DEFAULTS]
                                                     : Py_None) < 0) {
        return -1;
    }
    if ((m & (1u << RL_F_KWDEFAULTS))
        && PyFunction_SetKwDefaults((PyObject *)f, v[RL_F_KWDEFAULTS]
                                                       ? v[RL_F_KWDEFAULTS]
                                                       : Py_None) < 0) {
        return -1;
    }
    if (m & (1u << RL_F_ANNOTATIONS)) {
        /* raw: 3.10+ may store annotations as a tuple until first read,
         * which PyFunction_SetAnnotations refuses; nothing caches them */
        set_field(&f->func_annotations, v[RL_F_ANNOTATIONS]);
    }
    if ((m & (1u << RL_F_DOC))
        && PyObject_SetAttr((PyObject *)f, rl_st.str_doc,
                            v[RL_F_DOC] ? v[RL_F_DOC] : Py_None) < 0) {
        return -1;
    }
    if ((m & (1u << RL_F_TYPEPARAMS))
        && PyObject_SetAttr((PyObject *)f, rl_st.str_type_params,
                            v[RL_F_TYPEPARAMS] ? v[RL_F_TYPEPARAMS]
                                               : rl_st.empty_tuple) < 0) {
        return -1;  /* its setter: a tuple, as the new def made */
    }
    if (m & ((1u << RL_F_CODE) | (1u << RL_F_CLOSURE))) {
        /* Raw write: code and closure must change together. The __code__
         * setter refuses a closure of another length, and setting them one
         * after the other leaves a window in which a call reads past the
         * closure (CPYTHON-NOTES §1.5, E5). Reset the version first, as the
         * setters do, so no specialised call site keeps the old shape. */
        rl_func_reset_version(f);
        if (m & (1u << RL_F_CODE)) {
            set_field(&f->func_code, v[RL_F_CODE]);
        }
        if (m & (1u << RL_F_CLOSURE)) {
            PyObject *c = v[RL_F_CLOSURE];
            set_field(&f->func_closure, c == Py_None ? NULL : c);
        }
    }
    rl_func_respecialise(f);
    return 0;
}

/* After __new__ leaves a class's dict, CPython keeps its slot_tp_new (as
 * `del C.__new__` does): it finds object.__new__ up the MRO, and object's
 * check, seeing a tp_new that is not its own, rejects the constructor's
 * arguments. A class created without __new__ inherits its base's tp_new
 * at PyType_Ready; do that here for the class and the subclasses that took
 * it over, and invalidate their caches (no setter exists for tp_new). A
 * Python __new__ further up keeps slot_tp_new, which is right. */
static int
inherit_new(PyTypeObject *t, newfunc was)
{
    int own = PyDict_Contains(t->tp_dict, rl_st.str_new);
    if (own != 0 || t->tp_new != was || t->tp_mro == NULL) {
        return own < 0 ? -1 : 0;
    }
    for (Py_ssize_t i = 1; i < PyTuple_GET_SIZE(t->tp_mro); i++) {
        PyTypeObject *b = (PyTypeObject *)PyTuple_GET_ITEM(t->tp_mro, i);
        if (!(b->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
            break;  /* a builtin's (its dict is not tp_dict from 3.12 on) */
        }
        int has = PyDict_Contains(b->tp_dict, rl_st.str_new);
        if (has != 0) {
            return has < 0 ? -1 : 0;
        }
    }
    if (t->tp_base == NULL || t->tp_base->tp_new == NULL) {
        return 0;
    }
    t->tp_new = t->tp_base->tp_new;  /* what PyType_Ready gives it */
    PyType_Modified(t);
    PyObject *subs = PyObject_CallMethod((PyObject *)t, "__subclasses__", NULL);
    if (subs == NULL) {
        return -1;
    }
    int rv = 0;
    for (Py_ssize_t i = 0; rv == 0 && i < PyList_GET_SIZE(subs); i++) {
        rv = inherit_new((PyTypeObject *)PyList_GET_ITEM(subs, i), was);
    }
    Py_DECREF(subs);
    return rv;
}

static int
apply_typeattr(rl_swap *s, int undo)
{
    PyTypeObject *t = (PyTypeObject *)s->target;
    PyObject *v = undo ? s->old[0] : s->val[0];
    if (!undo) {
        PyObject *cur = PyDict_GetItemWithError(t->tp_dict, s->key);
        if (cur == NULL && PyErr_Occurred()) {
            return -1;
        }
        s->old[0] = Py_XNewRef(cur);
        if (cur == NULL && v == NULL) {
            return 0;
        }
    }
    if (PyUnicode_CompareWithASCIIString(s->key, "__doc__") == 0
        || PyUnicode_CompareWithASCIIString(s->key, "__dict__") == 0
        || PyUnicode_CompareWithASCIIString(s->key, "__weakref__") == 0) {
        /* type's own descriptors for these names shadow the class dict on
         * setattr (__dict__ is read-only, __doc__ runs an audit hook): write
         * the dict as type's __doc__ setter does, and invalidate caches */
        int r = v ? PyDict_SetItem(t->tp_dict, s->key, v)
                  : PyDict_DelItem(t->tp_dict, s->key);
        PyType_Modified(t);
        return r;
    }
    if (v == NULL) {
        int has = PyDict_Contains(t->tp_dict, s->key);
        if (has <= 0) {
            return has;
        }
    }
    /* type's own setter: it invalidates caches and updates C slots for
     * dunders. A metaclass __setattr__ is Python code and guards user
     * assignments (Enum's forbids reassigning members); the source's own
     * definitions bypass it. */
    newfunc was = t->tp_new;
    if (PyType_Type.tp_setattro((PyObject *)t, s->key, v) < 0) {
        return -1;
    }
    if (v == NULL && PyUnicode_Compare(s->key, rl_st.str_new) == 0) {
        return inherit_new(t, was);
    }
    return 0;
}

static int
apply_dict(rl_swap *s, int undo)
{
    PyObject *d = s->target, *v = undo ? s->old[0] : s->val[0];
    PyObject *cur = PyDict_GetItemWithError(d, s->key);
    if (cur == NULL && PyErr_Occurred()) {
        return -1;
    }
    if (!undo) {
        s->old[0] = Py_XNewRef(cur);
    }
    if (v != NULL) {
        return PyDict_SetItem(d, s->key, v);
    }
    return cur != NULL ? PyDict_DelItem(d, s->key) : 0;
}

static int
apply_bases(rl_swap *s, int undo)
{
    PyTypeObject *t = (PyTypeObject *)s->target;
    PyObject *bases = undo ? s->old[0] : s->val[0];
    if (!undo) {
        s->old[0] = Py_NewRef(t->tp_bases);
        s->old[1] = Py_NewRef((PyObject *)t->tp_base);
    }
    if (s->mask) {
        /* object <-> a dict-only mixin: the instances' layout is the same,
         * but type's __bases__ setter compares deallocators first and
         * refuses. Point the base there ourselves; the setter then
         * recomputes the MRO, slots and subclass lists from the new base. */
        PyObject *base = undo ? s->old[1] : PyTuple_GET_ITEM(bases, 0);
        set_field(&t->tp_bases, bases);
        set_field((PyObject **)&t->tp_base, base);
    }
    PyObject *name = PyUnicode_InternFromString("__bases__");
    if (name == NULL) {
        return -1;
    }
    int r = PyType_Type.tp_setattro((PyObject *)t, name, bases);
    Py_DECREF(name);
    return r;
}

static int
apply_attr(rl_swap *s, int undo)
{
    if (!undo) {
        s->old[0] = PyObject_GetAttr(s->target, s->key);
        if (s->old[0] == NULL) {
            return -1;
        }
    }
    return PyObject_SetAttr(s->target, s->key, undo ? s->old[0] : s->val[0]);
}

static int
swap_apply(rl_swap *s, int undo)
{
    switch (s->kind) {
    case RL_SWAP_FUNC:
        return apply_func(s, undo);
    case RL_SWAP_GLOBALS: {
        /* target: list of the functions whose globals were one shadow dict
         * (old[0], set at plan time); val[0]: the live module's dict */
        PyObject *g = undo ? s->old[0] : s->val[0];
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(s->target); i++) {
            PyFunctionObject *f =
                (PyFunctionObject *)PyList_GET_ITEM(s->target, i);
            rl_func_reset_version(f);
            set_field(&f->func_globals, g);
        }
        return 0;
    }
    case RL_SWAP_TYPEATTR:
        return apply_typeattr(s, undo);
    case RL_SWAP_DICT:
        return apply_dict(s, undo);
    case RL_SWAP_CELL:
        if (!undo) {
            s->old[0] = Py_XNewRef(PyCell_GET(s->target));
        }
        return PyCell_Set(s->target, undo ? s->old[0] : s->val[0]);
    case RL_SWAP_BASES:
        return apply_bases(s, undo);
    case RL_SWAP_ATTR:
        return apply_attr(s, undo);
    case RL_SWAP_TOUCH:
        PyType_Modified((PyTypeObject *)s->target);
        rl_type_refund_versions((PyTypeObject *)s->target);
        return 0;
    }
    return 0;
}

/* Undo the applied swaps, newest first. Keeps any exception in flight. */
static void
undo_applied(rl_txn *txn)
{
    rl_exc exc;
    rl_exc_save(&exc);
    for (Py_ssize_t i = txn->nswaps - 1; i >= 0; i--) {
        rl_swap *s = &txn->swaps[i];
        if (!s->applied) {
            continue;
        }
        if (swap_apply(s, 1) < 0) {
            PyErr_WriteUnraisable(s->target);
        }
        s->applied = 0;
    }
    rl_exc_restore(&exc);
}

/* object map *************************************************************/

PyObject *
rl_map_lookup(rl_txn *txn, PyObject *newobj)
{
    return rl_ptrmap_get(&txn->map, newobj);
}

int
rl_map_put(rl_txn *txn, PyObject *newobj, PyObject *kept)
{
    return rl_ptrmap_put(&txn->map, newobj, kept);
}

/* Whether an object can be a key that the reload moves: hashed by identity
 * (a class whose metaclass keeps object's hash, a function) or an enum
 * member (Enum hashes its name). Anything else would run user code, which
 * the reload never does on values. */
int
rl_hash_is_safe(PyObject *v)
{
    PyTypeObject *t = Py_TYPE(v);
    if (t->tp_hash == PyBaseObject_Type.tp_hash) {
        return PyType_Check(v) || PyFunction_Check(v);
    }
    return rl_st.enum_meta != NULL
           && PyObject_TypeCheck((PyObject *)t, rl_st.enum_meta);
}

static int
hash_is_safe(PyObject *k)
{
    return rl_is_plain_immutable(k) || rl_hash_is_safe(k);
}

static PyObject *map_deep(rl_txn *txn, PyObject *v, int depth);

/* v's kept object, or v with what it holds mapped (new reference) */
static PyObject *
map_item(rl_txn *txn, PyObject *v, int depth)
{
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyUnicode_Type || t == &PyLong_Type || t == &PyFloat_Type
        || t == &PyBytes_Type || t == &PyBool_Type || v == Py_None) {
        return Py_NewRef(v);  /* never mapped (shared by value): the usual item */
    }
    PyObject *kept = rl_map_lookup(txn, v);
    return kept != NULL ? Py_NewRef(kept) : map_deep(txn, v, depth);
}

/* A tuple or frozenset holding throwaway objects: a copy holding the kept
 * ones, the same copy wherever the new code shares the original. */
static PyObject *
map_immutable(rl_txn *txn, PyObject *v, int depth)
{
    PyObject *done = rl_ptrmap_get(&txn->copies, v);
    if (done != NULL) {
        return Py_NewRef(done);
    }
    int tuple = PyTuple_CheckExact(v);
    PyObject *items = tuple ? Py_NewRef(v) : PySequence_Tuple(v), *out = NULL;
    if (items == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    for (Py_ssize_t i = 0; !tuple && i < n; i++) {
        if (!hash_is_safe(PyTuple_GET_ITEM(items, i))) {
            Py_DECREF(items);  /* a copy would hash a user value */
            return Py_NewRef(v);
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *x = PyTuple_GET_ITEM(items, i);
        PyObject *m = map_item(txn, x, depth + 1);
        if (m == NULL) {
            goto error;
        }
        if (m != x && !tuple && !rl_hash_is_safe(m)) {
            Py_SETREF(m, Py_NewRef(x));  /* a set member whose hash is not safe */
        }
        if (m != x && out == NULL) {
            out = PyList_New(n);  /* the first item that maps: copy */
            for (Py_ssize_t j = 0; out != NULL && j < i; j++) {
                PyList_SET_ITEM(out, j, Py_NewRef(PyTuple_GET_ITEM(items, j)));
            }
            if (out == NULL) {
                Py_DECREF(m);
                goto error;
            }
        }
        if (out != NULL) {
            PyList_SET_ITEM(out, i, m);
        }
        else {
            Py_DECREF(m);
        }
    }
    Py_DECREF(items);
    if (out == NULL) {
        return Py_NewRef(v);
    }
    Py_SETREF(out, tuple ? PyList_AsTuple(out) : PyFrozenSet_New(out));
    if (out != NULL && rl_ptrmap_put(&txn->copies, v, out) < 0) {
        Py_CLEAR(out);
    }
    return out;
error:
    Py_DECREF(items);
    Py_XDECREF(out);
    return NULL;
}

/* A list, dict or set is changed in place, so that whoever holds it sees
 * the kept objects; a moved key goes out and comes back under its kept
 * object, last. Keys are hashed only when that runs no user code: a dict
 * value whose key is a user object keeps what it holds. */
static PyObject *
moved_key(rl_txn *txn, PyObject *k)  /* borrowed kept key, or NULL */
{
    PyObject *mk = rl_map_lookup(txn, k);
    return mk != NULL && mk != k && rl_hash_is_safe(mk) && rl_hash_is_safe(k) ? mk : NULL;
}

static int
map_list(rl_txn *txn, PyObject *v, int depth)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v); i++) {
        PyObject *x = Py_NewRef(PyList_GET_ITEM(v, i));
        PyObject *m = map_item(txn, x, depth + 1);
        int r = m == NULL ? -1 : 0;
        /* mapping ran no code that shrinks the list, but check */
        if (m != NULL && m != x && i < PyList_GET_SIZE(v)
            && PyList_GET_ITEM(v, i) == x) {
            r = PyList_SetItem(v, i, Py_NewRef(m));
        }
        Py_XDECREF(m);
        Py_DECREF(x);
        if (r < 0) {
            return -1;
        }
    }
    return 0;
}

static int
map_dict_inplace(rl_txn *txn, PyObject *v, int depth)
{
    PyObject *items = PyDict_Items(v);  /* a snapshot: v changes below */
    int rv = -1;
    if (items == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *kv = PyList_GET_ITEM(items, i);
        PyObject *k = PyTuple_GET_ITEM(kv, 0), *x = PyTuple_GET_ITEM(kv, 1);
        PyObject *mk = moved_key(txn, k);
        PyObject *mx = map_item(txn, x, depth + 1);
        int r = 0;
        if (mx == NULL) {
            goto done;
        }
        if (mk != NULL) {
            /* out, then in: an IntEnum member equals its kept one, and the
             * other order would drop the entry */
            r = PyDict_DelItem(v, k);
            if (r == 0) {
                r = PyDict_SetItem(v, mk, mx);
            }
        }
        else if (mx != x && hash_is_safe(k)) {
            r = PyDict_SetItem(v, k, mx);
        }
        Py_DECREF(mx);
        if (r < 0) {
            goto done;
        }
    }
    rv = 0;
done:
    Py_DECREF(items);
    return rv;
}

static int
map_set_inplace(rl_txn *txn, PyObject *v)
{
    PyObject *items = PySequence_List(v);
    int rv = 0;
    if (items == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; rv == 0 && i < PyList_GET_SIZE(items); i++) {
        PyObject *k = PyList_GET_ITEM(items, i), *mk = moved_key(txn, k);
        if (mk != NULL) {
            rv = PySet_Discard(v, k) < 0 ? -1 : PySet_Add(v, mk);
        }
    }
    Py_DECREF(items);
    return rv;
}

/* Class attr of module modname (borrowed), once a program imported that
 * module, or NULL; never an exception. Found once and kept in *slot: the
 * standard library is never reloaded. */
static PyTypeObject *
loaded_type(PyObject **slot, const char *modname, const char *attr)
{
    if (*slot == NULL) {
        PyObject *name = PyUnicode_FromString(modname);
        PyObject *mod = name != NULL ? PyImport_GetModule(name) : NULL;
        Py_XDECREF(name);
        PyObject *a = mod != NULL ? PyObject_GetAttrString(mod, attr) : NULL;
        Py_XDECREF(mod);
        PyErr_Clear();
        if (a != NULL && !PyType_Check(a)) {
            Py_CLEAR(a);
        }
        *slot = a;
    }
    return (PyTypeObject *)*slot;
}

/* Whether t is dataclasses.Field (the module is looked up only for a type
 * of that name: most reloads never meet one). */
static int
is_dataclass_field(PyTypeObject *t)
{
    if (strcmp(t->tp_name, "Field") != 0) {
        return 0;
    }
    return t == loaded_type(&rl_st.dataclass_field, "dataclasses", "Field");
}

/* Stdlib objects whose attributes name definitions, mapped in place (the
 * new code made them; reading and setting these attributes runs no user
 * code): a dataclass field (fields() reports its annotation's class, default
 * and factory) and a partialmethod (its function and bound arguments). */
static int
map_attrs(rl_txn *txn, PyObject *v, const char *const *names, int depth)
{
    for (int i = 0; names[i] != NULL; i++) {
        PyObject *x = PyObject_GetAttrString(v, names[i]);
        if (x == NULL) {
            PyErr_Clear();  /* an unset slot */
            continue;
        }
        PyObject *m = map_item(txn, x, depth + 1);
        int r = m == NULL ? -1 : 0;
        if (m != NULL && m != x) {
            r = PyObject_SetAttrString(v, names[i], m);
        }
        Py_XDECREF(m);
        Py_DECREF(x);
        if (r < 0) {
            return -1;
        }
    }
    return 0;
}

static const char *const field_attrs[] = {"type", "default", "default_factory", NULL};
static const char *const partial_attrs[] = {"func", "args", "keywords", NULL};
static const char *const alias_attrs[] = {"__origin__", "__args__", NULL};

/* Whether t is one of typing's subscripted aliases (List[K], Optional[K],
 * Box[int] for a Generic Box, Annotated[K, ...]): their __origin__ and
 * __args__ are plain attributes. typing is looked up only for a type whose
 * name says alias, once a program imported it. */
static int
is_typing_alias(PyTypeObject *t)
{
    if (strstr(t->tp_name, "Alias") == NULL) {
        return 0;
    }
    PyTypeObject *base = loaded_type(&rl_st.typing_alias, "typing", "_GenericAlias");
    return base != NULL && PyType_IsSubtype(t, base);
}

/* list[K] (types.GenericAlias) and K | None (types.UnionType), as the new
 * code wrote them in annotations, dataclass fields and __orig_bases__,
 * naming the kept classes: both are immutable, so a new one is made, the
 * way the interpreter makes them. */
static PyObject *
map_builtin_alias(rl_txn *txn, PyObject *v, int depth)
{
    PyObject *args = PyObject_GetAttrString(v, "__args__");
    PyObject *origin = Py_TYPE(v) == &Py_GenericAliasType
                       ? PyObject_GetAttrString(v, "__origin__") : NULL;
    PyObject *margs = args != NULL && PyTuple_CheckExact(args)
                      ? map_item(txn, args, depth) : NULL;
    PyObject *morigin = origin != NULL ? map_item(txn, origin, depth + 1) : NULL;
    PyObject *out = NULL;
    if (margs == NULL || (origin != NULL && morigin == NULL)) {
        PyErr_Clear();  /* not the shape we know: left as it is */
        out = Py_NewRef(v);
    }
    else if (margs == args && morigin == origin) {
        out = Py_NewRef(v);
    }
    else if (origin != NULL) {
        out = Py_GenericAlias(morigin, margs);
    }
    else {
        /* K | None: fold with |, as the expression did, if every member is
         * None or a class whose metaclass keeps type's | (no user code) */
        Py_ssize_t n = PyTuple_GET_SIZE(margs);
        int plain = n >= 2;
        for (Py_ssize_t i = 0; plain && i < n; i++) {
            PyObject *x = PyTuple_GET_ITEM(margs, i);
            PyNumberMethods *nm = Py_TYPE(x)->tp_as_number;
            plain = x == Py_None || Py_TYPE(x) == &Py_GenericAliasType
                    || (PyType_Check(x) && nm != NULL
                        && nm->nb_or == PyType_Type.tp_as_number->nb_or);
        }
        out = Py_NewRef(plain ? PyTuple_GET_ITEM(margs, 0) : v);
        for (Py_ssize_t i = 1; plain && out != NULL && i < n; i++) {
            Py_SETREF(out, PyNumber_Or(out, PyTuple_GET_ITEM(margs, i)));
        }
    }
    Py_XDECREF(args);
    Py_XDECREF(origin);
    Py_XDECREF(margs);
    Py_XDECREF(morigin);
    return out;
}

/* v with what it holds mapped (new reference): instances of a throwaway
 * class get the kept class; plain containers are looked into a few levels
 * deep, as the new code fills them with its throwaway classes, functions
 * and enum members. */
/* An instance the new code made of a class it now has the kept copy of
 * (WORLD = World(Map(...)), opted in): what its own __dict__ holds, made
 * by the same code, names the kept objects too (Map an instance of the kept
 * Map). The generic getter reads the dict without running user code. */
static int
map_instance_dict(rl_txn *txn, PyObject *v, int depth)
{
    PyTypeObject *t = Py_TYPE(v);
    if (t->tp_dictoffset == 0 && !(t->tp_flags & Py_TPFLAGS_MANAGED_DICT)) {
        return 0;  /* __slots__ only */
    }
    PyObject *d = PyObject_GenericGetDict(v, NULL);
    if (d == NULL) {
        PyErr_Clear();
        return 0;
    }
    int r = PyDict_CheckExact(d) ? map_dict_inplace(txn, d, depth) : 0;
    Py_DECREF(d);
    return r;
}

static PyObject *
map_deep(rl_txn *txn, PyObject *v, int depth)
{
    PyTypeObject *t = Py_TYPE(v);
    int r = 0;
    if (depth > 4) {
        return Py_NewRef(v);
    }
    if (t->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        PyObject *kept = rl_map_lookup(txn, (PyObject *)t);
        if (kept != NULL && kept != (PyObject *)t && PyType_Check(kept)) {
            if (PyObject_GenericSetAttr(v, rl_st.str_class, kept) < 0) {
                PyErr_Clear();  /* layout differs (restart required) */
            }
            else if (map_instance_dict(txn, v, depth) < 0) {
                return NULL;
            }
        }
        else if (is_typing_alias(t)) {
            if (map_attrs(txn, v, alias_attrs, depth) < 0) {
                return NULL;
            }
        }
        else if (t == rl_st.partialmethod_type || is_dataclass_field(t)) {
            if (map_attrs(txn, v, t == rl_st.partialmethod_type ? partial_attrs
                                                               : field_attrs,
                          depth) < 0) {
                return NULL;
            }
        }
        return Py_NewRef(v);
    }
    if (t == &PyTuple_Type || t == &PyFrozenSet_Type) {
        return map_immutable(txn, v, depth);
    }
    if (t == &Py_GenericAliasType || t == rl_st.union_type) {
        return map_builtin_alias(txn, v, depth);
    }
    if (t == &PyList_Type) {
        r = map_list(txn, v, depth);
    }
    else if (t == &PyDict_Type) {
        r = map_dict_inplace(txn, v, depth);
    }
    else if (t == &PySet_Type) {
        r = map_set_inplace(txn, v);
    }
    return r < 0 ? NULL : Py_NewRef(v);
}

PyObject *
rl_map_value(rl_txn *txn, PyObject *value)
{
    return map_item(txn, value, 0);
}

int
rl_stage_mapped(rl_txn *txn, rl_swap_kind kind, PyObject *target, PyObject *key,
                PyObject *value)
{
    PyObject *m = rl_map_value(txn, value);
    if (m == NULL) {
        return -1;
    }
    int r = m == value || rl_txn_add(txn, kind, target, key, m) != NULL ? 0 : -1;
    Py_DECREF(m);
    return r;
}

rl_entry *
rl_txn_entry(rl_txn *txn, PyObject *name)
{
    PyObject *i = PyDict_GetItemWithError(txn->by_name, name);
    if (i == NULL) {
        PyErr_Clear();
        return NULL;
    }
    return &txn->entries[PyLong_AsSsize_t(i)];
}

/* lifecycle **************************************************************/

/* Module code that handed its own module object out (a plugin that puts
 * sys.modules[__name__] in a registry) handed out the shadow. It cannot
 * become the live module, but it can read the live module's names: its
 * dict pointer is moved to the live dict, found through tp_dictoffset as
 * CPython's generic attribute code finds it (PyModuleObject is internal). */
static void
forward_shadow(PyObject *shadow, PyObject *live)
{
    Py_ssize_t off = PyModule_Type.tp_dictoffset;
    PyObject *ld = PyModule_GetDict(live);
    if (off <= 0 || Py_TYPE(shadow)->tp_dictoffset != off || ld == NULL) {
        return;
    }
    PyObject **slot = (PyObject **)((char *)shadow + off);
    Py_XSETREF(*slot, Py_NewRef(ld));
}

/* Modules that the batch's module code imported for the first time: their
 * names (finder.c noted every import the batch's thread made of a module
 * not loaded) become (name, module) pairs for those that were loaded. The
 * plan maps what they copied from the batch (`from b import f` in a module
 * that a's new code imports) to the kept objects. A batch that fails
 * leaves them imported (SPEC §6), as a failed import leaves what it
 * imported. */
static int
settle_fresh(rl_txn *txn, PyObject *before)
{
    PyObject *modules = PySys_GetObject("modules");  // borrowed
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; modules != NULL && i < PyList_GET_SIZE(txn->fresh); i++) {
        PyObject *name = PyList_GET_ITEM(txn->fresh, i);
        int had = PyDict_Contains(before, name);
        PyObject *m = had == 0 ? PyDict_GetItemWithError(modules, name) : NULL;
        if (had < 0 || PyErr_Occurred()) {
            Py_DECREF(out);
            return -1;
        }
        if (m == NULL || !PyModule_Check(m) || rl_txn_entry(txn, name) != NULL) {
            continue;
        }
        PyObject *pair = PyTuple_Pack(2, name, m);
        if (pair == NULL || PyList_Append(out, pair) < 0) {
            Py_XDECREF(pair);
            Py_DECREF(out);
            return -1;
        }
        Py_DECREF(pair);
    }
    Py_SETREF(txn->fresh, out);
    return 0;
}

/* A batch that is not applied leaves the modules its code imported for the
 * first time imported (SPEC §6), but not holding its throwaway objects:
 * what they copied from a batch module (from b import Sword, STOCK) goes
 * back to what that module holds under the same name. Best effort: the
 * batch is being undone and must not fail here. */
static void
unshadow_fresh(rl_txn *txn)
{
    if (txn->fresh == NULL || PyList_GET_SIZE(txn->fresh) == 0) {
        return;
    }
    rl_exc exc;
    rl_exc_save(&exc);
    rl_ptrmap back = {0};
    for (Py_ssize_t i = 0; i < txn->n; i++) {
        rl_entry *e = &txn->entries[i];
        PyObject *sd = e->shadow ? PyModule_GetDict(e->shadow) : NULL;
        PyObject *ld = PyModule_GetDict(e->module), *k, *v;
        Py_ssize_t pos = 0;
        while (sd != NULL && PyDict_Next(sd, &pos, &k, &v)) {
            PyObject *lv = PyDict_GetItemWithError(ld, k);
            if (lv != NULL && lv != v && !rl_is_plain_immutable(v)
                && rl_ptrmap_put(&back, v, lv) < 0) {
                break;
            }
        }
    }
    for (Py_ssize_t i = 0; !PyErr_Occurred() && i < PyList_GET_SIZE(txn->fresh); i++) {
        PyObject *pair = PyList_GET_ITEM(txn->fresh, i);
        if (!PyTuple_Check(pair)) {
            continue;
        }
        PyObject *d = PyModule_GetDict(PyTuple_GET_ITEM(pair, 1)), *k, *v;
        Py_ssize_t pos = 0;
        while (d != NULL && PyDict_Next(d, &pos, &k, &v)) {
            PyObject *lv = rl_ptrmap_get(&back, v);
            /* setting an existing key never resizes: safe while iterating */
            if (lv != NULL && PyDict_SetItem(d, k, lv) < 0) {
                break;
            }
        }
    }
    if (PyErr_Occurred()) {
        PyErr_WriteUnraisable(NULL);
    }
    rl_ptrmap_clear(&back);
    rl_exc_restore(&exc);
}

static void
txn_release_all(rl_txn *txn)
{
    if (txn->phase != RL_PHASE_COMMITTED) {
        unshadow_fresh(txn);
    }
    Py_CLEAR(txn->fresh);
    Py_CLEAR(txn->hook_snap);
    for (Py_ssize_t i = 0; i < txn->nswaps; i++) {
        swap_clear(&txn->swaps[i]);
    }
    txn->nswaps = 0;
    for (Py_ssize_t i = 0; i < txn->npairs; i++) {
        Py_CLEAR(txn->pairs[i].old);
        Py_CLEAR(txn->pairs[i].new);
        Py_CLEAR(txn->pairs[i].name);
        Py_CLEAR(txn->pairs[i].prefix);
        rl_walk_clear(&txn->pairs[i].walk);
    }
    txn->npairs = 0;
    for (Py_ssize_t i = 0; i < txn->n; i++) {
        rl_entry *e = &txn->entries[i];
        rl_walk_clear(&e->walk);
        Py_CLEAR(e->snapshot);
        if (e->shadow != NULL) {
            /* Empty the shadow globals and keep the dict: a generator made
             * by the new module code may still borrow it (NOTES §1.6). */
            PyObject *d = PyModule_GetDict(e->shadow);
            if (d != NULL) {
                PyDict_Clear(d);
                if (PyList_Append(rl_st.retired, d) < 0) {
                    PyErr_WriteUnraisable(e->shadow);
                }
            }
            if (Py_REFCNT(e->shadow) > 1) {
                forward_shadow(e->shadow, e->module);
            }
            Py_CLEAR(e->shadow);
        }
    }
    rl_ptrmap_clear(&txn->cellmap);
    rl_ptrmap_clear(&txn->opted);
    rl_ptrmap_clear(&txn->copies);
    rl_ptrmap_clear(&txn->resolved);
    rl_ptrmap_clear(&txn->code_parents);
    txn->have_parents = 0;
    if (txn->created) {
        Py_SETREF(txn->created, PyList_New(0));
    }
    if (txn->phase == RL_PHASE_COMMITTED) {
        /* the map and txn->handed are now the batch's last hold on them */
        rl_followers_note(txn);
    }
    Py_CLEAR(txn->handed);
    rl_ptrmap_clear(&txn->map);
    txn->phase = RL_PHASE_DONE;
}

static void
Txn_dealloc(rl_txn *txn)
{
    PyObject_GC_UnTrack(txn);
    txn_release_all(txn);
    for (Py_ssize_t i = 0; i < txn->n; i++) {
        rl_entry *e = &txn->entries[i];
        Py_XDECREF(e->name);
        Py_XDECREF(e->module);
        Py_XDECREF(e->code);
        Py_XDECREF(e->path);
        Py_XDECREF(e->fps);
    }
    PyMem_Free(txn->entries);
    PyMem_Free(txn->swaps);
    PyMem_Free(txn->pairs);
    Py_XDECREF(txn->by_name);
    Py_XDECREF(txn->order);
    Py_XDECREF(txn->failed);
    Py_XDECREF(txn->failure);
    Py_XDECREF(txn->created);
    Py_XDECREF(txn->hook_snap);
    Py_XDECREF(txn->classes);
    Py_XDECREF(txn->post);
    Py_XDECREF(txn->fresh);
    Py_XDECREF(txn->handed);
    Py_XDECREF(txn->updated);
    Py_XDECREF(txn->added);
    Py_XDECREF(txn->removed);
    Py_XDECREF(txn->data_replaced);
    Py_XDECREF(txn->restart);
    PyTypeObject *tp = Py_TYPE(txn);
    tp->tp_free(txn);
    Py_DECREF(tp);
}

static int
Txn_traverse(rl_txn *txn, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(txn));
    for (Py_ssize_t i = 0; i < txn->n; i++) {
        Py_VISIT(txn->entries[i].module);
        Py_VISIT(txn->entries[i].shadow);
    }
    Py_VISIT(txn->created);
    Py_VISIT(txn->hook_snap);
    Py_VISIT(txn->classes);
    Py_VISIT(txn->fresh);
    Py_VISIT(txn->handed);
    return 0;
}

static PyObject *
Txn_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *seq = NULL, *fast = NULL;
    rl_txn *txn = NULL;
    static char *kwlist[] = {"entries", NULL};

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:Transaction", kwlist, &seq)) {
        return NULL;
    }
    rl_code_tables_init();  /* before any module code runs */
    fast = PySequence_Fast(seq, "entries must be a sequence");
    if (fast == NULL) {
        return NULL;
    }
    txn = (rl_txn *)type->tp_alloc(type, 0);
    if (txn == NULL) {
        goto error;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    txn->entries = PyMem_Calloc(n ? n : 1, sizeof(rl_entry));
    txn->by_name = PyDict_New();
    txn->order = PyList_New(0);
    txn->created = PyList_New(0);
    txn->classes = PyList_New(0);
    txn->post = PyList_New(0);
    txn->fresh = PyList_New(0);
    txn->handed = PyList_New(0);
    txn->updated = PyList_New(0);
    txn->added = PyList_New(0);
    txn->removed = PyList_New(0);
    txn->data_replaced = PyList_New(0);
    txn->restart = PyList_New(0);
    if (txn->entries == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    if (!txn->by_name || !txn->order || !txn->created
        || !txn->classes || !txn->post || !txn->fresh || !txn->handed
        || !txn->updated
        || !txn->added || !txn->removed || !txn->data_replaced
        || !txn->restart) {
        goto error;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i);
        PyObject *name, *module, *code, *path, *fps = Py_None;
        int same = 0;
        if (!PyTuple_Check(item)
            || !PyArg_ParseTuple(item, "UO!O!U|Op", &name, &PyModule_Type,
                                 &module, &PyCode_Type, &code, &path, &fps,
                                 &same)) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_TypeError, "each entry is a tuple "
                                "(name, module, code, path[, fingerprints"
                                "[, same_source]])");
            }
            goto error;
        }
        if (fps != Py_None && (Py_TYPE(fps) != rl_st.FpsType
                               || rl_fps_code(fps) != code)) {
            PyErr_Format(PyExc_TypeError, "the fingerprints of %U must be "
                         "CodeFingerprints of its code, or None", name);
            goto error;
        }
        int has = PyDict_Contains(txn->by_name, name);
        if (has != 0) {
            if (has > 0) {
                PyErr_Format(PyExc_ValueError, "module %U listed twice", name);
            }
            goto error;
        }
        PyObject *idx = PyLong_FromSsize_t(i);
        if (idx == NULL || PyDict_SetItem(txn->by_name, name, idx) < 0) {
            Py_XDECREF(idx);
            goto error;
        }
        Py_DECREF(idx);
        rl_entry *e = &txn->entries[i];
        e->name = Py_NewRef(name);
        e->module = Py_NewRef(module);
        e->code = Py_NewRef(code);
        e->path = Py_NewRef(path);
        e->fps = fps != Py_None ? Py_NewRef(fps) : NULL;
        e->same_source = same;
        txn->n = i + 1;
    }
    Py_DECREF(fast);
    return (PyObject *)txn;
error:
    Py_XDECREF(fast);
    Py_XDECREF(txn);
    return NULL;
}

/* execute ****************************************************************/

#if RL_PY312
static int
on_function_event(PyFunction_WatchEvent event, PyFunctionObject *func,
                  PyObject *new_value)
{
    (void)new_value;
    rl_txn *txn = rl_st.collecting;
    if (event == PyFunction_EVENT_CREATE && txn != NULL
        && PyThread_get_thread_ident() == rl_st.reloading_thread) {
        return PyList_Append(txn->created, (PyObject *)func);
    }
    return 0;
}
#endif

static void
start_collecting(rl_txn *txn)
{
    rl_st.collecting = txn;
#if RL_PY312
    if (rl_st.func_watcher < 0) {
        rl_st.func_watcher = PyFunction_AddWatcher(on_function_event);
        if (rl_st.func_watcher < 0) {
            /* all watcher slots taken: fall back to the referrer search */
            PyErr_Clear();
        }
    }
#endif
}

static void
stop_collecting(void)
{
    rl_st.collecting = NULL;
#if RL_PY312
    if (rl_st.func_watcher >= 0) {
        if (PyFunction_ClearWatcher(rl_st.func_watcher) < 0) {
            PyErr_WriteUnraisable(NULL);
        }
        rl_st.func_watcher = -1;
    }
#endif
}

static int
remove_from_list(PyObject *list, PyObject *item)
{
    if (list == NULL || !PyList_Check(list)) {
        return 0;
    }
    for (Py_ssize_t i = PyList_GET_SIZE(list) - 1; i >= 0; i--) {
        if (PyList_GET_ITEM(list, i) == item
            && PySequence_DelItem(list, i) < 0) {
            return -1;
        }
    }
    return 0;
}

static rl_entry *
entry_for_shadow(rl_txn *txn, PyObject *v)
{
    for (Py_ssize_t i = 0; i < txn->n; i++) {
        if (txn->entries[i].shadow == v && v != NULL) {
            return &txn->entries[i];
        }
    }
    return NULL;
}

/* Put back what the import system changed while the batch ran: batch
 * modules in sys.modules and as attributes of their parent packages, the
 * finder out of sys.meta_path, and modules first imported during the batch
 * pointed at the live modules instead of the shadows. */
static void
restore_import_state(rl_txn *txn, PyObject *finder, PyObject *meta_path,
                     PyObject *before)
{
    rl_exc exc;
    rl_exc_save(&exc);
    PyObject *modules = PySys_GetObject("modules");  // borrowed

    if (remove_from_list(meta_path, finder) < 0
        || remove_from_list(PySys_GetObject("meta_path"), finder) < 0) {
        PyErr_WriteUnraisable(finder);
    }
    for (Py_ssize_t i = 0; modules != NULL && i < txn->n; i++) {
        rl_entry *e = &txn->entries[i];
        if (PyDict_SetItem(modules, e->name, e->module) < 0) {
            PyErr_WriteUnraisable(e->name);
            continue;
        }
        Py_ssize_t dot = PyUnicode_FindChar(e->name, '.', 0,
                                            PyUnicode_GET_LENGTH(e->name), -1);
        if (dot <= 0 || e->shadow == NULL) {
            continue;
        }
        PyObject *pname = PyUnicode_Substring(e->name, 0, dot);
        PyObject *child = PyUnicode_Substring(e->name, dot + 1,
                                              PyUnicode_GET_LENGTH(e->name));
        PyObject *parent = pname ? PyDict_GetItemWithError(modules, pname)
                                 : NULL;
        if (parent != NULL && child != NULL && PyModule_Check(parent)) {
            PyObject *pd = PyModule_GetDict(parent);
            PyObject *cur = PyDict_GetItemWithError(pd, child);
            if (cur == e->shadow && PyDict_SetItem(pd, child, e->module) < 0) {
                PyErr_WriteUnraisable(e->name);
            }
        }
        PyErr_Clear();
        Py_XDECREF(pname);
        Py_XDECREF(child);
    }
    if (modules != NULL && before != NULL) {
        PyObject *k, *m;
        Py_ssize_t pos = 0;
        while (PyDict_Next(modules, &pos, &k, &m)) {
            if (!PyModule_Check(m) || PyDict_Contains(before, k) != 0) {
                continue;
            }
            PyObject *d = PyModule_GetDict(m), *n, *v;
            Py_ssize_t p2 = 0;
            while (PyDict_Next(d, &p2, &n, &v)) {
                rl_entry *e = entry_for_shadow(txn, v);
                if (e != NULL) {
                    /* replacing a value never resizes the dict */
                    if (PyDict_SetItem(d, n, e->module) < 0) {
                        PyErr_WriteUnraisable(k);
                    }
                }
            }
        }
    }
    PyErr_Clear();
    rl_exc_restore(&exc);
}

static PyObject *
Txn_execute(rl_txn *txn, PyObject *Py_UNUSED(ignored))
{
    PyObject *modules = PySys_GetObject("modules");       // borrowed
    PyObject *meta_path = PySys_GetObject("meta_path");   // borrowed
    PyObject *finder = NULL, *before = NULL;
    int ok = 0;

    if (txn->phase != RL_PHASE_NEW) {
        PyErr_SetString(PyExc_RuntimeError, "batch already executed");
        return NULL;
    }
    if (modules == NULL || !PyDict_Check(modules) || meta_path == NULL
        || !PyList_Check(meta_path)) {
        PyErr_SetString(PyExc_RuntimeError, "sys.modules or sys.meta_path "
                                            "is missing");
        return NULL;
    }
    Py_INCREF(meta_path);
    if (rl_imports_hold(txn) < 0) {
        goto done;
    }
    before = PyDict_Copy(modules);
    if (before == NULL) {
        goto done;
    }
    finder = rl_finder_new(txn);
    if (finder == NULL || PyList_Insert(meta_path, 0, finder) < 0) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < txn->n; i++) {
        if (PyDict_DelItem(modules, txn->entries[i].name) < 0) {
            if (!PyErr_ExceptionMatches(PyExc_KeyError)) {
                goto done;
            }
            PyErr_Clear();
        }
    }
    start_collecting(txn);
    for (Py_ssize_t i = 0; i < txn->n && txn->failure == NULL; i++) {
        rl_entry *e = &txn->entries[i];
        if (e->state == 2) {
            continue;
        }
        PyObject *m = PyImport_Import(e->name);
        if (m == NULL) {
            goto done;
        }
        Py_DECREF(m);
        if (e->state != 2 && txn->failure == NULL) {
            PyErr_Format(PyExc_ImportError, "module %U was not executed by "
                         "the reload finder", e->name);
            if (txn->failed == NULL) {
                txn->failed = Py_NewRef(e->name);
            }
            goto done;
        }
    }
    if (txn->failure != NULL) {
        /* module code caught the error of a batch module it imported: the
         * batch still failed */
        PyErr_SetObject((PyObject *)Py_TYPE(txn->failure), txn->failure);
        goto done;
    }
    ok = 1;
done:
    stop_collecting();
    if (finder != NULL) {
        restore_import_state(txn, finder, meta_path, before);
        rl_exc exc;
        rl_exc_save(&exc);  /* the failure of module code, if any */
        if (settle_fresh(txn, before) < 0) {
            ok = 0;
        }
        if (rl_exc_pending(&exc)) {
            PyErr_Clear();  /* the first error wins */
            rl_exc_restore(&exc);
        }
    }
    rl_imports_release(txn);
    Py_XDECREF(finder);
    Py_XDECREF(before);
    Py_DECREF(meta_path);
    if (!ok) {
        rl_exc exc;
        rl_exc_save(&exc);
        txn_release_all(txn);
        rl_exc_restore(&exc);
        return NULL;
    }
    txn->phase = RL_PHASE_EXECUTED;
    Py_RETURN_NONE;
}

/* plan *******************************************************************/

static int
stage_wrapper(rl_txn *txn, rl_pairrec *rec)
{
    PyObject *a = PyObject_CallMethodNoArgs(rec->old, rl_st.str_cache_params);
    PyObject *b = PyObject_CallMethodNoArgs(rec->new, rl_st.str_cache_params);
    int rv = -1;
    if (a == NULL || b == NULL) {
        goto done;
    }
    if (!PyDict_Check(a) || !PyDict_Check(b) || PyDict_GET_SIZE(a) != PyDict_GET_SIZE(b)) {
        goto restart;
    }
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(a, &pos, &k, &v)) {
        PyObject *w = PyDict_GetItemWithError(b, k);
        if (w == NULL || !rl_same_value(v, w)) {
            PyErr_Clear();
            goto restart;
        }
    }
    if (rl_stage_wrapper_copies(txn, rec->old, rec->new) < 0) {
        goto done;
    }
    {
        PyObject *clear = PyObject_GetAttr(rec->old, rl_st.str_cache_clear);
        if (clear == NULL || PyList_Append(txn->post, clear) < 0) {
            Py_XDECREF(clear);
            goto done;
        }
        Py_DECREF(clear);
    }
    rv = 0;
    goto done;
restart:
    rec->restart = 1;
    rv = rl_add_restart(txn, rl_pair_path(txn, rec - txn->pairs),
                        "lru_cache options changed");
done:
    Py_XDECREF(a);
    Py_XDECREF(b);
    return rv;
}

/* Whether cls was made by the C ABCMeta, whose _abc helpers below take it:
 * its own _abc_impl is an _abc._abc_data. */
static int
is_c_abc(PyObject *cls)
{
    PyObject *impl = PyDict_GetItemWithError(((PyTypeObject *)cls)->tp_dict,
                                             rl_st.str_abc_impl);
    PyErr_Clear();
    return impl != NULL && strcmp(Py_TYPE(impl)->tp_name, "_abc._abc_data") == 0;
}

/* A changed ABC (a runtime-checkable Protocol too) forgets the isinstance()
 * answers it cached: its methods and registrations are new. Queued for after
 * the commit as (_abc._reset_caches, cls). */
static int
abc_reset_later(rl_txn *txn, PyObject *cls)
{
    if (!is_c_abc(cls)) {
        return 0;
    }
    PyObject *job = PyTuple_Pack(2, rl_st.abc_reset_caches, cls);
    int r = job != NULL ? PyList_Append(txn->post, job) : -1;
    Py_XDECREF(job);
    return r;
}

/* What the new code registered on the throwaway copy of an ABC
 * (Shape.register(Square)) is registered on the kept class, after the
 * commit: queued as (_abc._abc_register, old, kept subclass). */
static int
abc_replay_later(rl_txn *txn, PyObject *old, PyObject *new)
{
    if (!is_c_abc(new)) {
        return 0;
    }
    PyObject *dump = PyObject_CallOneArg(rl_st.abc_get_dump, new), *items = NULL;
    int rv = -1;
    if (dump == NULL) {
        return -1;
    }
    if (!PyTuple_Check(dump) || PyTuple_GET_SIZE(dump) < 1
        || !PyAnySet_Check(PyTuple_GET_ITEM(dump, 0))) {
        rv = 0;
        goto done;
    }
    items = PySequence_List(PyTuple_GET_ITEM(dump, 0));
    if (items == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *ref = PyList_GET_ITEM(items, i);
        PyObject *sub = PyWeakref_Check(ref) ? rl_weakref_get(ref) : NULL;
        if (sub == NULL) {
            continue;
        }
        PyObject *kept = rl_map_lookup(txn, sub);
        PyObject *job = PyTuple_Pack(3, rl_st.abc_register, old,
                                     kept != NULL ? kept : sub);
        int r = job != NULL ? PyList_Append(txn->post, job) : -1;
        Py_XDECREF(job);
        Py_DECREF(sub);
        if (r < 0) {
            goto done;
        }
    }
    rv = 0;
done:
    Py_DECREF(dump);
    Py_XDECREF(items);
    return rv;
}

static int
stage_pairs(rl_txn *txn)
{
    for (Py_ssize_t i = 0; i < txn->npairs; i++) {
        rl_pairrec *rec = &txn->pairs[i];
        int changed = 0, r = 0;
        if (rec->restart) {
            continue;
        }
        if (rec->parent >= 0 && txn->pairs[rec->parent].restart) {
            rec->restart = 1;
            continue;
        }
        PyObject *old = Py_NewRef(rec->old), *new = Py_NewRef(rec->new);
        switch (rec->kind) {
        case RL_K_FUNC:
            r = rl_function_stage(txn, old, new, &changed);
            break;
        case RL_K_CLASS: {
            PyObject *mod = rl_module_of(old);
            if (mod != NULL) {
                txn->cur_module = mod;
            }
            r = rl_class_stage(txn, i, &changed);
            break;
        }
        case RL_K_WRAPPER:
            r = stage_wrapper(txn, &txn->pairs[i]);
            break;
        }
        Py_DECREF(old);
        Py_DECREF(new);
        if (r < 0) {
            return -1;
        }
        /* rl_*_stage may have grown the array: index again */
        txn->pairs[i].changed |= changed;
    }
    /* changes inside a definition (methods, wrapped functions, cells)
     * count for the definition that reports them */
    for (Py_ssize_t i = txn->npairs - 1; i >= 0; i--) {
        rl_pairrec *rec = &txn->pairs[i];
        if (rec->changed && rec->parent >= 0 && !rec->restart) {
            txn->pairs[rec->parent].changed = 1;
        }
    }
    for (Py_ssize_t i = 0; i < txn->npairs; i++) {
        rl_pairrec *rec = &txn->pairs[i];
        if (rec->kind == RL_K_CLASS && !rec->restart
            && abc_replay_later(txn, rec->old, rec->new) < 0) {
            return -1;
        }
        if (!rec->changed || rec->restart) {
            continue;
        }
        if (rec->name != NULL) {
            PyObject *path = rl_pair_path(txn, i);
            if (path == NULL || PyList_Append(txn->updated, path) < 0) {
                Py_XDECREF(path);
                return -1;
            }
            Py_DECREF(path);
        }
        if (rec->kind == RL_K_CLASS && abc_reset_later(txn, rec->old) < 0) {
            return -1;
        }
        /* one notification per changed class, after its attributes */
        if (rec->kind == RL_K_CLASS
            && rl_txn_add(txn, RL_SWAP_TOUCH, rec->old, NULL, NULL) == NULL) {
            return -1;
        }
    }
    return 0;
}

/* What modules first imported by the batch copied from it (`from b import
 * Sword, STOCK`) becomes the kept objects, as in the batch's own modules. */
static int
stage_fresh(rl_txn *txn)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(txn->fresh); i++) {
        PyObject *d = PyModule_GetDict(PyTuple_GET_ITEM(PyList_GET_ITEM(txn->fresh, i), 1));
        PyObject *k, *v;
        Py_ssize_t pos = 0;
        PyObject *name = PyTuple_GET_ITEM(PyList_GET_ITEM(txn->fresh, i), 0);
        while (d != NULL && PyDict_Next(d, &pos, &k, &v)) {
            /* its own functions and classes: defaults, cells, bases (a
             * subclass of a batch class), class attributes */
            PyObject *home = (PyFunction_Check(v) || PyType_Check(v)) ? rl_module_of(v) : NULL;
            if (home != NULL && PyUnicode_Check(home) && PyUnicode_Compare(home, name) == 0
                && rl_stage_new_object(txn, v) < 0) {
                return -1;
            }
            if (rl_stage_mapped(txn, RL_SWAP_DICT, d, k, v) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* Functions made by the new code still see the shadow globals: point them
 * at the live module's dict. */
static int
stage_retarget(rl_txn *txn)
{
    PyObject *funcs = NULL;
#if RL_PY312
    if (rl_st.func_watcher >= 0 || PyList_GET_SIZE(txn->created) > 0) {
        funcs = Py_NewRef(txn->created);
    }
#endif
    if (funcs == NULL) {
        PyObject *dicts = PyList_New(0);
        if (dicts == NULL) {
            return -1;
        }
        for (Py_ssize_t i = 0; i < txn->n; i++) {
            if (txn->entries[i].shadow != NULL
                && PyList_Append(dicts, PyModule_GetDict(txn->entries[i].shadow)) < 0) {
                Py_DECREF(dicts);
                return -1;
            }
        }
        funcs = rl_find_functions_with_globals(dicts);
        Py_DECREF(dicts);
        if (funcs == NULL) {
            return -1;
        }
    }
    for (Py_ssize_t i = 0; i < txn->n; i++) {
        rl_entry *e = &txn->entries[i];
        PyObject *shadow = e->shadow ? PyModule_GetDict(e->shadow) : NULL;
        PyObject *mine = shadow ? PyList_New(0) : NULL;
        if (shadow != NULL && mine == NULL) {
            Py_DECREF(funcs);
            return -1;
        }
        for (Py_ssize_t j = 0; mine != NULL && j < PyList_GET_SIZE(funcs); j++) {
            PyObject *f = PyList_GET_ITEM(funcs, j);
            if (PyFunction_Check(f)
                && ((PyFunctionObject *)f)->func_globals == shadow
                && PyList_Append(mine, f) < 0) {
                Py_CLEAR(mine);
                Py_DECREF(funcs);
                return -1;
            }
        }
        if (mine != NULL && PyList_GET_SIZE(mine) > 0) {
            rl_swap *s = rl_txn_add(txn, RL_SWAP_GLOBALS, mine, NULL,
                                    PyModule_GetDict(e->module));
            if (s == NULL) {
                Py_DECREF(mine);
                Py_DECREF(funcs);
                return -1;
            }
            s->old[0] = Py_NewRef(shadow);
        }
        Py_XDECREF(mine);
    }
    Py_DECREF(funcs);
    return 0;
}

static PyObject *
as_tuple(PyObject *list)
{
    return PyList_AsTuple(list);
}

static PyObject *
Txn_plan(rl_txn *txn, PyObject *Py_UNUSED(ignored))
{
    if (txn->phase != RL_PHASE_EXECUTED) {
        PyErr_SetString(PyExc_RuntimeError, "plan() needs an executed batch");
        return NULL;
    }
    Py_ssize_t norder = PyList_GET_SIZE(txn->order);
    {
        /* about one map entry per definition the new code made */
        size_t n = (size_t)PyList_GET_SIZE(txn->created);
        for (Py_ssize_t i = 0; i < txn->n; i++) {
            if (txn->entries[i].shadow != NULL) {
                n += (size_t)PyDict_GET_SIZE(PyModule_GetDict(txn->entries[i].shadow));
            }
        }
        if (rl_ptrmap_reserve(&txn->map, n) < 0) {
            goto error;
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        for (Py_ssize_t i = 0; i < norder; i++) {
            rl_entry *e = rl_txn_entry(txn, PyList_GET_ITEM(txn->order, i));
            if (e == NULL || e->shadow == NULL) {
                continue;
            }
            if (rl_policy_plan_module(txn, e, pass) < 0) {
                goto error;
            }
        }
        if (pass == 0 && stage_pairs(txn) < 0) {
            goto error;
        }
    }
    if (stage_fresh(txn) < 0 || stage_retarget(txn) < 0) {
        goto error;
    }
    txn->phase = RL_PHASE_PLANNED;
    return Py_BuildValue("{s:N,s:N,s:N,s:N,s:N}",
                         "updated", as_tuple(txn->updated),
                         "added", as_tuple(txn->added),
                         "removed", as_tuple(txn->removed),
                         "data_replaced", as_tuple(txn->data_replaced),
                         "restart_required", as_tuple(txn->restart));
error:
    {
        rl_exc exc;
        rl_exc_save(&exc);
        txn_release_all(txn);
        rl_exc_restore(&exc);
    }
    return NULL;
}

/* commit, rollback, release **********************************************/

/* Append (obj, a copy of its dict) to list; a function without a dict
 * gets an empty one. 0 or -1. */
static int
snap_one(PyObject *list, PyObject *obj)
{
    PyObject *d = PyType_Check(obj) ? ((PyTypeObject *)obj)->tp_dict
                                    : ((PyFunctionObject *)obj)->func_dict;
    PyObject *copy = d != NULL ? PyDict_Copy(d) : PyDict_New();
    PyObject *item = copy != NULL ? PyTuple_Pack(2, obj, copy) : NULL;
    int r = item != NULL ? PyList_Append(list, item) : -1;
    Py_XDECREF(copy);
    Py_XDECREF(item);
    return r;
}

/* Before a commit whose hooks run module code: the dicts of the batch's
 * kept classes and of its modules' functions and methods, which a hook may
 * change in place (Cls.level = 50, f.tag = 1), where the swaps and the
 * module snapshots do not look. A rollback puts them back. */
static PyObject *
snapshot_definitions(rl_txn *txn)
{
    PyObject *list = PyList_New(0);
    for (Py_ssize_t i = 0; list != NULL && i < PyList_GET_SIZE(txn->classes); i++) {
        PyObject *c = PyList_GET_ITEM(txn->classes, i), *k, *v;
        Py_ssize_t pos = 0;
        if (snap_one(list, c) < 0) {
            Py_CLEAR(list);
            break;
        }
        while (PyDict_Next(((PyTypeObject *)c)->tp_dict, &pos, &k, &v)) {
            if (PyFunction_Check(v) && snap_one(list, v) < 0) {
                Py_CLEAR(list);
                break;
            }
        }
    }
    for (Py_ssize_t i = 0; list != NULL && i < txn->n; i++) {
        PyObject *d = PyModule_GetDict(txn->entries[i].module), *k, *v;
        Py_ssize_t pos = 0;
        while (PyDict_Next(d, &pos, &k, &v)) {
            PyObject *home = PyFunction_Check(v) ? rl_module_of(v) : NULL;
            if (home != NULL && PyUnicode_Compare(home, txn->entries[i].name) == 0
                && snap_one(list, v) < 0) {
                Py_CLEAR(list);
                break;
            }
        }
    }
    return list;
}

/* Make obj's dict hold exactly what snap holds again (rollback after hooks),
 * through the setters: type's own for a class (it updates the slots and
 * the caches, past a metaclass's __setattr__), the generic one for a
 * function. */
static void
restore_dict(PyObject *obj, PyObject *snap)
{
    setattrofunc set = PyType_Check(obj) ? PyType_Type.tp_setattro
                                         : PyObject_GenericSetAttr;
    PyObject *d = PyType_Check(obj) ? ((PyTypeObject *)obj)->tp_dict
                                    : ((PyFunctionObject *)obj)->func_dict;
    PyObject *keys = d != NULL ? PyDict_Keys(d) : NULL, *k, *v;
    Py_ssize_t pos = 0;
    for (Py_ssize_t j = 0; keys != NULL && j < PyList_GET_SIZE(keys); j++) {
        k = PyList_GET_ITEM(keys, j);
        if (PyDict_Contains(snap, k) == 0 && set(obj, k, NULL) < 0) {
            PyErr_WriteUnraisable(obj);
        }
    }
    Py_XDECREF(keys);
    PyErr_Clear();
    while (PyDict_Next(snap, &pos, &k, &v)) {
        /* the dict as it is now: a function's may have been made above */
        d = PyType_Check(obj) ? ((PyTypeObject *)obj)->tp_dict
                              : ((PyFunctionObject *)obj)->func_dict;
        if ((d == NULL || PyDict_GetItemWithError(d, k) != v) && set(obj, k, v) < 0) {
            PyErr_WriteUnraisable(obj);
        }
    }
    PyErr_Clear();
}

static PyObject *
Txn_commit(rl_txn *txn, PyObject *args)
{
    int snapshot = 0;
    if (!PyArg_ParseTuple(args, "|p:commit", &snapshot)) {
        return NULL;
    }
    if (txn->phase != RL_PHASE_PLANNED) {
        PyErr_SetString(PyExc_RuntimeError, "commit() needs a planned batch");
        return NULL;
    }
    for (Py_ssize_t i = 0; snapshot && i < txn->n; i++) {
        rl_entry *e = &txn->entries[i];
        e->snapshot = PyDict_Copy(PyModule_GetDict(e->module));
        if (e->snapshot == NULL) {
            return NULL;
        }
    }
    if (snapshot) {
        Py_XSETREF(txn->hook_snap, snapshot_definitions(txn));
        if (txn->hook_snap == NULL) {
            return NULL;
        }
    }
    /* No Python code from here to the end: the collector could run
     * finalizers on 3.10/3.11 allocations (NOTES §6.1), so pause it; every
     * old value is held by its swap, so no setter frees anything. */
    int was = PyGC_Disable();
    for (Py_ssize_t i = 0; i < txn->nswaps; i++) {
        rl_swap *s = &txn->swaps[i];
        if (swap_apply(s, 0) < 0) {
            s->applied = 1;  /* partly: undo puts back what it captured */
            undo_applied(txn);
            if (was) {
                PyGC_Enable();
            }
            rl_exc exc;
            rl_exc_save(&exc);
            txn_release_all(txn);
            rl_exc_restore(&exc);
            return NULL;
        }
        s->applied = 1;
    }
    if (was) {
        PyGC_Enable();
    }
    txn->phase = RL_PHASE_COMMITTED;
    Py_RETURN_NONE;
}

/* Put every module of the batch back as it was at the commit. */
static PyObject *
Txn_rollback(rl_txn *txn, PyObject *Py_UNUSED(ignored))
{
    if (txn->phase != RL_PHASE_COMMITTED) {
        PyErr_SetString(PyExc_RuntimeError, "rollback() needs a committed "
                                            "batch");
        return NULL;
    }
    int was = PyGC_Disable();
    undo_applied(txn);
    /* hooks may have rebound names the swaps do not know of */
    for (Py_ssize_t i = 0; i < txn->n; i++) {
        rl_entry *e = &txn->entries[i];
        PyObject *d = PyModule_GetDict(e->module), *keys, *k, *v;
        Py_ssize_t pos = 0;
        if (e->snapshot == NULL) {
            continue;
        }
        keys = PyDict_Keys(d);
        for (Py_ssize_t j = 0; keys != NULL && j < PyList_GET_SIZE(keys); j++) {
            k = PyList_GET_ITEM(keys, j);
            if (PyDict_Contains(e->snapshot, k) == 0 && PyDict_DelItem(d, k) < 0) {
                PyErr_WriteUnraisable(e->name);
            }
        }
        Py_XDECREF(keys);
        while (PyDict_Next(e->snapshot, &pos, &k, &v)) {
            if (PyDict_GetItemWithError(d, k) != v && PyDict_SetItem(d, k, v) < 0) {
                PyErr_WriteUnraisable(e->name);
            }
        }
        PyErr_Clear();
    }
    for (Py_ssize_t i = 0; txn->hook_snap && i < PyList_GET_SIZE(txn->hook_snap); i++) {
        PyObject *item = PyList_GET_ITEM(txn->hook_snap, i);
        restore_dict(PyTuple_GET_ITEM(item, 0), PyTuple_GET_ITEM(item, 1));
    }
    if (was) {
        PyGC_Enable();
    }
    txn->phase = RL_PHASE_PLANNED;  /* undone: no copy follows anything */
    txn_release_all(txn);
    Py_RETURN_NONE;
}

static PyObject *
Txn_release(rl_txn *txn, PyObject *Py_UNUSED(ignored))
{
    PyObject *post = txn->post;
    txn->post = PyList_New(0);
    if (txn->post == NULL) {
        txn->post = post;
        return NULL;
    }
    int committed = txn->phase == RL_PHASE_COMMITTED;
    txn_release_all(txn);
    /* caches of updated lru_cache wrappers and ABCs, and registrations on
     * ABCs, once the new code is in: a callable, or (callable, args...) */
    for (Py_ssize_t i = 0; committed && i < PyList_GET_SIZE(post); i++) {
        PyObject *job = PyList_GET_ITEM(post, i);
        PyObject *r = NULL;
        if (PyTuple_Check(job)) {
            PyObject *args = PyTuple_GetSlice(job, 1, PyTuple_GET_SIZE(job));
            r = args != NULL ? PyObject_Call(PyTuple_GET_ITEM(job, 0), args, NULL)
                             : NULL;
            Py_XDECREF(args);
        }
        else {
            r = PyObject_CallNoArgs(job);
        }
        if (r == NULL) {
            PyErr_WriteUnraisable(job);
        }
        Py_XDECREF(r);
    }
    Py_DECREF(post);
    Py_RETURN_NONE;
}

static PyObject *
Txn_defines(rl_txn *txn, PyObject *args)
{
    PyObject *module, *name;
    if (!PyArg_ParseTuple(args, "UU:defines", &module, &name)) {
        return NULL;
    }
    rl_entry *e = rl_txn_entry(txn, module);
    if (e == NULL || e->shadow == NULL) {
        Py_RETURN_FALSE;
    }
    int r = PyDict_Contains(PyModule_GetDict(e->shadow), name);
    if (r < 0) {
        return NULL;
    }
    return PyBool_FromLong(r);
}

static PyObject *
Txn_classes(rl_txn *txn, PyObject *Py_UNUSED(ignored))
{
    return PyList_GetSlice(txn->classes, 0, PY_SSIZE_T_MAX);
}

static PyObject *
Txn_get_order(rl_txn *txn, void *Py_UNUSED(closure))
{
    return PyList_AsTuple(txn->order);
}

static PyObject *
Txn_get_failed(rl_txn *txn, void *Py_UNUSED(closure))
{
    return Py_NewRef(txn->failed ? txn->failed : Py_None);
}

static PyMethodDef Txn_methods[] = {
    {"execute", (PyCFunction)Txn_execute, METH_NOARGS,
     "Run each module's new code in a shadow module, in import order."},
    {"plan", (PyCFunction)Txn_plan, METH_NOARGS,
     "Pair old and new objects and stage every change; return the report."},
    {"commit", (PyCFunction)Txn_commit, METH_VARARGS,
     "Apply the staged changes; runs no Python code."},
    {"rollback", (PyCFunction)Txn_rollback, METH_NOARGS,
     "Undo a committed batch."},
    {"release", (PyCFunction)Txn_release, METH_NOARGS,
     "Drop the old values and the shadow namespaces."},
    {"defines", (PyCFunction)Txn_defines, METH_VARARGS,
     "Whether the new code of a module binds a name."},
    {"classes", (PyCFunction)Txn_classes, METH_NOARGS,
     "The kept classes of the batch."},
    {NULL}
};

static PyGetSetDef Txn_getset[] = {
    {"order", (getter)Txn_get_order, NULL, "modules in execution order", NULL},
    {"failed", (getter)Txn_get_failed, NULL, "the module at fault, or None",
     NULL},
    {NULL}
};

static PyType_Slot Txn_slots[] = {
    {Py_tp_new, Txn_new},
    {Py_tp_dealloc, Txn_dealloc},
    {Py_tp_traverse, Txn_traverse},
    {Py_tp_methods, Txn_methods},
    {Py_tp_getset, Txn_getset},
    {Py_tp_doc, "Transaction(entries): one reload batch."},
    {0, NULL}
};

static PyType_Spec Txn_spec = {
    .name = "reloader._core.Transaction",
    .basicsize = sizeof(rl_txn),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = Txn_slots,
};

int
rl_txn_init_type(PyObject *module)
{
    PyObject *t = PyType_FromModuleAndSpec(module, &Txn_spec, NULL);
    if (t == NULL) {
        return -1;
    }
    rl_st.TxnType = (PyTypeObject *)t;
    return PyModule_AddObjectRef(module, "Transaction", t);
}
