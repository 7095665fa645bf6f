/* klass.c: make a kept class object match its new definition. Pass 0
 * (rl_class_pair) decides whether the class can be patched at all and pairs
 * its methods, nested classes and enum members; pass 1 (rl_class_stage)
 * stages the class-dict changes, bases and enum members as swaps. */
#include "reloader.h"

int
rl_add_restart(rl_txn *txn, PyObject *path, const char *reason)
{
    if (path == NULL) {
        return -1;
    }
    PyObject *t = Py_BuildValue("(ONs)", txn->cur_module, path, reason);
    if (t == NULL) {
        return -1;
    }
    int r = PyList_Append(txn->restart, t);
    Py_DECREF(t);
    return r;
}

/* helpers ****************************************************************/

static PyObject *
dict_get(PyObject *d, PyObject *k)  /* borrowed; NULL without exception */
{
    PyObject *v = PyDict_GetItemWithError(d, k);
    if (v == NULL && PyErr_Occurred()) {
        PyErr_Clear();
    }
    return v;
}

/* The old value of key through cursor c (borrowed); NULL when absent, for a
 * key that is not a str, or on error (cleared), as dict_get. */
static PyObject *
cursor_get(rl_cursor *c, PyObject *key)
{
    PyObject *v = PyUnicode_Check(key) ? rl_cursor_get(c, key) : NULL;
    if (v == NULL && PyErr_Occurred()) {
        PyErr_Clear();
    }
    return v;
}

static PyObject *
mapped_or_self(rl_txn *txn, PyObject *v)  /* borrowed */
{
    PyObject *k = rl_map_lookup(txn, v);
    return k != NULL ? k : v;
}

/* __slots__ names as a tuple (new reference), or None when absent. */
static PyObject *
slots_of(PyTypeObject *t)
{
    PyObject *s = dict_get(t->tp_dict, rl_st.str_slots);
    if (s == NULL) {
        return Py_NewRef(Py_None);
    }
    if (PyUnicode_Check(s)) {
        return PyTuple_Pack(1, s);
    }
    return PySequence_Tuple(s);
}

#ifndef Py_TPFLAGS_MANAGED_DICT
#define Py_TPFLAGS_MANAGED_DICT 0
#endif
#ifndef Py_TPFLAGS_MANAGED_WEAKREF
#define Py_TPFLAGS_MANAGED_WEAKREF 0
#endif
#ifndef Py_TPFLAGS_INLINE_VALUES
#define Py_TPFLAGS_INLINE_VALUES 0
#endif
#define RL_LAYOUT_FLAGS                                                       \
    (Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_MANAGED_DICT | Py_TPFLAGS_MANAGED_WEAKREF \
     | Py_TPFLAGS_INLINE_VALUES)

static int
same_layout(PyTypeObject *a, PyTypeObject *b)
{
    return a->tp_basicsize == b->tp_basicsize
           && a->tp_itemsize == b->tp_itemsize
           && a->tp_dictoffset == b->tp_dictoffset
           && a->tp_weaklistoffset == b->tp_weaklistoffset
           && (a->tp_flags & RL_LAYOUT_FLAGS) == (b->tp_flags & RL_LAYOUT_FLAGS)
           && a->tp_free == b->tp_free;
}

/* The first base that is not a Python class: what the instances really are. */
static PyTypeObject *
builtin_base(PyTypeObject *t)
{
    while (t != NULL && (t->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
        t = t->tp_base;
    }
    return t;
}

/* CPython's rule for __bases__ assignment (typeobject.c,
 * compatible_for_assignment): walk each side up while the layout is
 * inherited unchanged; the two must meet, or be siblings with the same
 * layout. */
static PyTypeObject *
layout_root(PyTypeObject *t)
{
    while (t->tp_base != NULL && same_layout(t, t->tp_base)
           && (t->tp_dealloc == t->tp_base->tp_dealloc)) {
        t = t->tp_base;
    }
    return t;
}

static int
bases_compatible(PyTypeObject *oldbase, PyTypeObject *newbase)
{
    if (oldbase->tp_free != newbase->tp_free) {
        return 0;
    }
    PyTypeObject *a = layout_root(oldbase), *b = layout_root(newbase);
    return a == b || (a->tp_base == b->tp_base && same_layout(a, b));
}

/* Whether new's bases, kept objects in place of new ones, are old's. */
static int
bases_unchanged(rl_txn *txn, PyTypeObject *old, PyTypeObject *new)
{
    Py_ssize_t n = PyTuple_GET_SIZE(new->tp_bases);
    if (n != PyTuple_GET_SIZE(old->tp_bases)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (mapped_or_self(txn, PyTuple_GET_ITEM(new->tp_bases, i))
            != PyTuple_GET_ITEM(old->tp_bases, i)) {
            return 0;
        }
    }
    return 1;
}

/* The bases the class should have, kept objects in place of new ones
 * (new reference). */
static PyObject *
mapped_bases(rl_txn *txn, PyTypeObject *new)
{
    Py_ssize_t n = PyTuple_GET_SIZE(new->tp_bases);
    PyObject *out = PyTuple_New(n);
    if (out == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *b = mapped_or_self(txn, PyTuple_GET_ITEM(new->tp_bases, i));
        PyTuple_SET_ITEM(out, i, Py_NewRef(b));
    }
    return out;
}

static int
same_items(PyObject *a, PyObject *b)
{
    Py_ssize_t n = PyTuple_GET_SIZE(a);
    if (n != PyTuple_GET_SIZE(b)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyTuple_GET_ITEM(a, i) != PyTuple_GET_ITEM(b, i)) {
            return 0;
        }
    }
    return 1;
}

/* Why the class cannot be patched in place, or NULL. *raw_bases is set when
 * the bases change in a way CPython's own setter refuses but the layout
 * allows (a mixin added to or removed from a class based on object). */
static const char *
layout_problem(rl_txn *txn, PyTypeObject *old, PyTypeObject *new,
               int *raw_bases)
{
    PyObject *so = NULL, *sn = NULL, *bases = NULL;
    const char *why = NULL;

    *raw_bases = 0;
    if ((PyObject *)Py_TYPE(old) != mapped_or_self(txn, (PyObject *)Py_TYPE(new))) {
        return "its metaclass changed";
    }
    if (!(old->tp_flags & Py_TPFLAGS_HEAPTYPE)
        || (old->tp_flags & Py_TPFLAGS_IMMUTABLETYPE)) {
        return "it is not a mutable Python class";
    }
    if (builtin_base(old) != builtin_base(new)) {
        return "its builtin base changed";
    }
    if (!same_layout(old, new)) {
        return "its instance layout changed (__slots__, __dict__ or "
               "__weakref__)";
    }
    so = slots_of(old);
    sn = slots_of(new);
    if (so == NULL || sn == NULL) {
        PyErr_Clear();
        why = "its __slots__ cannot be read";
        goto done;
    }
    if (!rl_same_value(so, sn)) {
        why = "its __slots__ changed";
        goto done;
    }
    if (PyType_IsSubtype(old, &PyTuple_Type)) {
        /* a named tuple's instances are tuples of its fields: old ones
         * cannot take a new field (repr and _asdict would fail on them) */
        PyObject *fo = dict_get(old->tp_dict, rl_st.str_fields);
        PyObject *fn = dict_get(new->tp_dict, rl_st.str_fields);
        if (fo != NULL && fn != NULL && !rl_same_value(fo, fn)) {
            why = "its named tuple fields changed (the instances' layout)";
            goto done;
        }
    }
    if (bases_unchanged(txn, old, new)) {
        goto done;
    }
    bases = mapped_bases(txn, new);
    if (bases == NULL) {
        PyErr_Clear();
        why = "its bases cannot be read";
        goto done;
    }
    if (!same_items(bases, old->tp_bases)) {
        PyTypeObject *nb = new->tp_base;  /* CPython's best base */
        nb = (PyTypeObject *)mapped_or_self(txn, (PyObject *)nb);
        if (bases_compatible(old->tp_base, nb)) {
            goto done;
        }
        /* object <-> a dict-only mixin: same instances, but CPython's
         * setter compares deallocators and refuses */
        PyTypeObject *heap = old->tp_base == &PyBaseObject_Type ? nb
                             : nb == &PyBaseObject_Type ? old->tp_base : NULL;
        if (heap != NULL && (heap->tp_flags & Py_TPFLAGS_HEAPTYPE)
            && same_layout(heap, old) && dict_get(heap->tp_dict, rl_st.str_slots) == NULL) {
            *raw_bases = 1;
            goto done;
        }
        why = "its new bases have another instance layout";
    }
done:
    Py_XDECREF(so);
    Py_XDECREF(sn);
    Py_XDECREF(bases);
    return why;
}

/* member kinds */
enum { M_OTHER, M_FUNC, M_CLASSMETHOD, M_STATICMETHOD, M_PROPERTY, M_CACHED,
       M_CLASS, M_WRAPPER, M_DISPATCH, M_PARTIAL };

static int
member_kind(PyObject *v)
{
    if (PyFunction_Check(v)) {
        return M_FUNC;
    }
    if (Py_TYPE(v) == &PyClassMethod_Type) {
        return M_CLASSMETHOD;
    }
    if (Py_TYPE(v) == &PyStaticMethod_Type) {
        return M_STATICMETHOD;
    }
    if (Py_TYPE(v) == &PyProperty_Type) {
        return M_PROPERTY;
    }
    if (rl_st.cached_property_type != NULL
        && Py_TYPE(v) == rl_st.cached_property_type) {
        return M_CACHED;
    }
    if (PyType_Check(v)) {
        return M_CLASS;
    }
    if (Py_TYPE(v) == rl_st.lru_wrapper_type) {
        return M_WRAPPER;
    }
    if (Py_TYPE(v) == rl_st.sdm_type) {
        return M_DISPATCH;
    }
    if (Py_TYPE(v) == rl_st.partialmethod_type) {
        return M_PARTIAL;
    }
    return M_OTHER;
}

/* The function inside a member descriptor (new reference) or NULL. */
static PyObject *
member_func(PyObject *v, PyObject *attr)
{
    if (attr == NULL) {
        return NULL;
    }
    PyObject *f = PyObject_GetAttr(v, attr);
    if (f == NULL) {
        PyErr_Clear();
        return NULL;
    }
    if (!PyFunction_Check(f)) {
        Py_DECREF(f);
        return NULL;
    }
    return f;
}

/* The lru_cache wrapper a descriptor holds under attr (new reference) or
 * NULL. */
static PyObject *
lru_inside(PyObject *v, PyObject *attr)
{
    PyObject *f = PyObject_GetAttr(v, attr);
    if (f == NULL) {
        PyErr_Clear();
        return NULL;
    }
    if (Py_TYPE(f) != rl_st.lru_wrapper_type) {
        Py_CLEAR(f);
    }
    return f;
}

static PyObject *
inner_attr(int kind)
{
    switch (kind) {
    case M_CLASSMETHOD:
    case M_STATICMETHOD:
        return rl_st.str_dunder_func;
    case M_CACHED:
    case M_DISPATCH:
    case M_PARTIAL:
        return rl_st.str_func;
    default:
        return NULL;
    }
}

/* The attributes under which a descriptor of this kind holds functions
 * (fget, fset, fdel of a property; __func__ and the like), NULL-terminated
 * in out[4]. Their number. */
static int
held_attrs(int kind, PyObject *out[4])
{
    int n = 0;
    if (kind == M_PROPERTY) {
        out[n++] = rl_st.str_fget;
        out[n++] = rl_st.str_fset;
        out[n++] = rl_st.str_fdel;
    }
    else if (inner_attr(kind) != NULL) {
        out[n++] = inner_attr(kind);
    }
    out[n] = NULL;
    return n;
}

/* Whether qn is exactly prefix + "." + key (no allocation). */
static int
qual_is(PyObject *qn, PyObject *prefix, PyObject *key)
{
    Py_ssize_t np = PyUnicode_GET_LENGTH(prefix);
    Py_ssize_t nk = PyUnicode_GET_LENGTH(key);
    if (PyUnicode_GET_LENGTH(qn) != np + 1 + nk
        || PyUnicode_READ_CHAR(qn, np) != '.') {
        return 0;
    }
    int kind = PyUnicode_KIND(qn);
    if (PyUnicode_KIND(prefix) == kind && PyUnicode_KIND(key) == kind) {
        /* the usual case: compare the bytes */
        const char *q = PyUnicode_DATA(qn);
        return memcmp(q, PyUnicode_DATA(prefix), (size_t)np * kind) == 0
               && memcmp(q + (np + 1) * kind, PyUnicode_DATA(key),
                         (size_t)nk * kind) == 0;
    }
    return PyUnicode_Tailmatch(qn, prefix, 0, np, -1) == 1
           && PyUnicode_Tailmatch(qn, key, np + 1, np + 1 + nk, 1) == 1;
}

/* Whether v (a function or class) is cls's own definition under key. */
static int
own_member(PyTypeObject *cls, PyObject *key, PyObject *v)
{
    PyObject *qn = rl_qualname_of(v), *cq = rl_qualname_of((PyObject *)cls);
    return qn != NULL && cq != NULL && qual_is(qn, cq, key);
}

/* Whether fn, found in cls's dict under key, is an alias of another member
 * (on_tick = tick) rather than that key's own definition. */
static int
is_class_alias(PyTypeObject *cls, PyObject *key, PyObject *fn)
{
    PyObject *qn = rl_qualname_of(fn), *cq = rl_qualname_of((PyObject *)cls);
    if (qn == NULL || cq == NULL || qual_is(qn, cq, key)) {
        return 0;
    }
    /* "Cls.other": an alias if Cls.other is this very function */
    Py_ssize_t n = PyUnicode_GET_LENGTH(cq), len = PyUnicode_GET_LENGTH(qn);
    if (len <= n + 1 || PyUnicode_Tailmatch(qn, cq, 0, n, -1) != 1
        || PyUnicode_READ_CHAR(qn, n) != '.') {
        return 0;
    }
    PyObject *other = PyUnicode_Substring(qn, n + 1, len);
    if (other == NULL) {
        PyErr_Clear();
        return 0;
    }
    PyObject *v = dict_get(cls->tp_dict, other);
    Py_DECREF(other);
    return v == fn;
}

static int
pair_funcs(rl_txn *txn, PyObject *of, PyObject *nf, PyObject *key,
           Py_ssize_t idx)
{
    if (of == NULL || nf == NULL || of == nf
        || !rl_funcs_match(of, nf, txn->cur_module)) {
        return 0;
    }
    return rl_pair(txn, of, nf, NULL, key, idx);
}

/* Pair two objects that descriptors hold (references stolen; either may be
 * NULL) when they are the same definition. */
static int
pair_held(rl_txn *txn, PyObject *of, PyObject *nf, PyObject *name,
          Py_ssize_t parent)
{
    int rv = 0;
    if (of != NULL && nf != NULL && of != nf && rl_defs_match(of, nf)) {
        rv = rl_pair(txn, of, nf, NULL, name, parent);
    }
    Py_XDECREF(of);
    Py_XDECREF(nf);
    return rv;
}

/* The objects two descriptors hold under attr, when neither is a function:
 * a callable object there is kept, its functions paired (policy.c). */
static int
keep_held(rl_txn *txn, PyObject *ov, PyObject *nv, PyObject *attr,
          PyObject *name, Py_ssize_t parent)
{
    PyObject *a = PyObject_GetAttr(ov, attr);
    PyObject *b = a != NULL ? PyObject_GetAttr(nv, attr) : NULL;
    int rv = 0;
    if (b != NULL && !PyFunction_Check(a) && !PyFunction_Check(b)) {
        rv = rl_policy_keep_object(txn, name, parent, a, b) < 0 ? -1 : 0;
    }
    else {
        PyErr_Clear();
    }
    Py_XDECREF(a);
    Py_XDECREF(b);
    return rv;
}

/* The one function a method member is made of (new reference), or NULL:
 * the function itself, the __func__ of a classmethod or staticmethod, the
 * getter of a property. */
static PyObject *
sole_func(PyObject *v, int kind)
{
    if (kind == M_FUNC) {
        return Py_NewRef(v);
    }
    if (kind == M_PROPERTY) {
        return member_func(v, rl_st.str_fget);
    }
    if (kind == M_CLASSMETHOD || kind == M_STATICMETHOD) {
        return member_func(v, inner_attr(kind));
    }
    return NULL;
}

/* Pair one member of class pair idx, bound under key. */
static int
pair_member(rl_txn *txn, PyTypeObject *old, PyTypeObject *new, PyObject *key,
            PyObject *ov, PyObject *nv, Py_ssize_t idx)
{
    int kind = member_kind(nv);
    if (kind != member_kind(ov)) {
        /* a method whose wrapper changed (plain -> property, classmethod
         * -> staticmethod): the function inside is still the definition;
         * the stage wraps the kept one in the new wrapper */
        PyObject *of = sole_func(ov, member_kind(ov)), *nf = sole_func(nv, kind);
        int rv = 0;
        if (of != NULL && nf != NULL && of != nf && rl_defs_match(of, nf)) {
            /* by qualified name only: staticmethod(helper) under the old
             * method's name is another definition */
            rv = rl_pair(txn, of, nf, NULL, key, idx);
        }
        Py_XDECREF(of);
        Py_XDECREF(nf);
        return rv;
    }
    if (kind == M_OTHER) {
        return 0;
    }
    switch (kind) {
    case M_FUNC: {
        /* the common case: the method's own qualified name, on both sides
         * (pair_funcs checks the qualified names match) */
        PyObject *qn = rl_qualname_of(nv), *cq = rl_qualname_of((PyObject *)new);
        int own = qn != NULL && cq != NULL && qual_is(qn, cq, key);
        /* an old method under its own name is no alias: its __name__ is
         * the key, the same interned string (no qualified name read) */
        int old_own = ((PyFunctionObject *)ov)->func_name == key;
        if ((!own && is_class_alias(new, key, nv))
            || (!old_own && is_class_alias(old, key, ov))) {
            return 0;  /* an alias on either side (a = b) is not a = b's pair */
        }
        return pair_funcs(txn, ov, nv, key, idx);
    }
    case M_CLASS:
    case M_WRAPPER:
        if (!rl_defs_match(ov, nv)) {
            return 0;
        }
        return rl_pair(txn, ov, nv, NULL, key, idx);
    case M_PROPERTY: {
        /* the first paired accessor carries the report name; the others
         * report through it */
        PyObject *parts[] = {rl_st.str_fget, rl_st.str_fset, rl_st.str_fdel};
        Py_ssize_t first = -1;
        int rv = 0;
        for (int i = 0; i < 3 && rv == 0; i++) {
            PyObject *of = member_func(ov, parts[i]);
            PyObject *nf = member_func(nv, parts[i]);
            Py_ssize_t before = txn->npairs;
            rv = pair_funcs(txn, of, nf, first < 0 ? key : NULL,
                            first < 0 ? idx : first);
            if (rv == 0 && of == NULL && nf == NULL) {
                /* @property over @functools.cache */
                rv = pair_held(txn, lru_inside(ov, parts[i]), lru_inside(nv, parts[i]),
                               first < 0 ? key : NULL, first < 0 ? idx : first);
                if (rv == 0) {
                    /* @property over a callable object (@counted) */
                    rv = keep_held(txn, ov, nv, parts[i], first < 0 ? key : NULL,
                                   first < 0 ? idx : first);
                }
            }
            if (first < 0 && txn->npairs > before) {
                first = before;
            }
            Py_XDECREF(of);
            Py_XDECREF(nf);
        }
        return rv;
    }
    default: {
        PyObject *of = member_func(ov, inner_attr(kind));
        PyObject *nf = member_func(nv, inner_attr(kind));
        Py_ssize_t before = txn->npairs;
        int rv = pair_funcs(txn, of, nf, key, idx);
        int kept = rv == 0 && nf != NULL && rl_map_lookup(txn, nf) == of;
        Py_XDECREF(of);
        Py_XDECREF(nf);
        if (kept && kind == M_DISPATCH) {
            /* singledispatchmethod: its dispatcher's registry holds the
             * functions; the dispatcher reports through the base one */
            rv = pair_held(txn, member_func(ov, rl_st.str_dispatcher),
                           member_func(nv, rl_st.str_dispatcher), NULL,
                           txn->npairs > before ? before : idx);
        }
        if (rv == 0 && (kind == M_STATICMETHOD || kind == M_CLASSMETHOD)) {
            /* @staticmethod over @lru_cache: the wrapper is the definition */
            rv = pair_held(txn, lru_inside(ov, rl_st.str_dunder_func),
                           lru_inside(nv, rl_st.str_dunder_func), key, idx);
            if (rv == 0) {
                /* @staticmethod over a callable object (@counted) */
                rv = keep_held(txn, ov, nv, rl_st.str_dunder_func, key, idx);
            }
        }
        return rv;
    }
    }
}

/* enums ******************************************************************/

static int
is_enum(PyTypeObject *t)
{
    return rl_st.enum_meta != NULL
           && PyObject_TypeCheck((PyObject *)t, rl_st.enum_meta);
}

static int
is_sunder(PyObject *name)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(name);
    return n > 2 && PyUnicode_READ_CHAR(name, 0) == '_'
           && PyUnicode_READ_CHAR(name, n - 1) == '_'
           && PyUnicode_READ_CHAR(name, 1) != '_'
           && PyUnicode_READ_CHAR(name, n - 2) != '_';
}

/* Whether a sunder entry of an enum is the user's hook (_missing_,
 * _generate_next_value_, ...), a method like any other, rather than the
 * enum machinery's own state, which stays. */
static int
enum_hook(PyObject *nv, PyObject *ov)
{
    PyObject *v = nv != NULL ? nv : ov;
    int kind = v != NULL ? member_kind(v) : M_OTHER;
    return kind == M_FUNC || kind == M_CLASSMETHOD || kind == M_STATICMETHOD;
}

static PyObject *
member_map(PyTypeObject *t)  /* borrowed dict or NULL */
{
    PyObject *m = dict_get(t->tp_dict, rl_st.str_member_map);
    return (m != NULL && PyDict_Check(m)) ? m : NULL;
}

static PyObject *
member_value(PyObject *member)  /* new reference or NULL (cleared) */
{
    PyObject *v = PyObject_GetAttr(member, rl_st.str_value_);
    if (v == NULL) {
        PyErr_Clear();
    }
    return v;
}

/* Members keep their identity: each new member stands for the old one of the
 * same name and value. A removed or re-valued member needs a restart. */
static int
pair_enum_members(rl_txn *txn, PyTypeObject *old, PyTypeObject *new,
                  Py_ssize_t idx)
{
    PyObject *om = member_map(old), *nm = member_map(new), *k, *ov;
    Py_ssize_t pos = 0;
    if (om == NULL || nm == NULL) {
        return 0;
    }
    while (PyDict_Next(om, &pos, &k, &ov)) {
        PyObject *nv = dict_get(nm, k);
        int r = 0;
        if (nv == NULL) {
            r = rl_add_restart(txn, rl_pair_subpath(txn, idx, k),
                               "enum member removed");
        }
        else {
            PyObject *a = member_value(ov), *b = member_value(nv);
            if (a == NULL || b == NULL || !rl_same_value(a, b)) {
                r = rl_add_restart(txn, rl_pair_subpath(txn, idx, k),
                                   "enum member value changed");
            }
            else {
                r = rl_map_put(txn, nv, ov);
            }
            Py_XDECREF(a);
            Py_XDECREF(b);
        }
        if (r < 0) {
            return -1;
        }
    }
    return 0;
}

/* An added member, re-classed: in the kept class's member map, names and
 * value map (copies, installed together), and its class attribute. */
static int
add_member(rl_txn *txn, PyTypeObject *new, PyTypeObject *old, PyObject *k,
           PyObject *nv, PyObject *map, PyObject *names, PyObject *v2m)
{
    if (rl_map_put(txn, nv, nv) < 0 || PyDict_SetItem(map, k, nv) < 0
        || PyList_Append(names, k) < 0) {
        return -1;
    }
    PyObject *value = member_value(nv);
    if (value != NULL) {
        if (PyDict_SetItem(v2m, value, nv) < 0) {
            PyErr_Clear();  /* unhashable: found by the linear search */
        }
        Py_DECREF(value);
    }
    PyObject *attr = dict_get(new->tp_dict, k);
    if (attr != NULL
        && rl_txn_add(txn, RL_SWAP_TYPEATTR, (PyObject *)old, k, attr) == NULL) {
        return -1;
    }
    return 0;
}

/* A Flag's masks (_flag_mask_, _all_bits_, _singles_mask_) follow its
 * members: ~, | and the value check read them. Plain ints: the new class's
 * are right for the kept one. */
static int
flag_masks(rl_txn *txn, PyTypeObject *old, PyTypeObject *new)
{
    static const char *names[] = {"_flag_mask_", "_all_bits_", "_singles_mask_",
                                  NULL};
    for (int i = 0; names[i] != NULL; i++) {
        PyObject *key = PyUnicode_InternFromString(names[i]);
        if (key == NULL) {
            return -1;
        }
        PyObject *nv = dict_get(new->tp_dict, key), *ov = dict_get(old->tp_dict, key);
        int r = 0;
        if (nv != NULL && ov != NULL && !rl_same_value(nv, ov)
            && rl_txn_add(txn, RL_SWAP_TYPEATTR, (PyObject *)old, key, nv) == NULL) {
            r = -1;
        }
        Py_DECREF(key);
        if (r < 0) {
            return -1;
        }
    }
    return 0;
}

/* Whether the members both classes have come in another order in the new
 * one (moved in the source). 1, 0, or -1 with an exception. */
static int
names_reordered(PyObject *old_names, PyObject *new_names)
{
    PyObject *in_old = PySet_New(old_names), *in_new = PySet_New(new_names);
    Py_ssize_t i = 0, j = 0, n = PyList_GET_SIZE(old_names);
    Py_ssize_t m = PyList_GET_SIZE(new_names);
    int rv = -1;
    if (in_old == NULL || in_new == NULL) {
        goto done;
    }
    for (;;) {
        int has = 0;
        while (i < n && (has = PySet_Contains(in_new, PyList_GET_ITEM(old_names, i))) == 0) {
            i++;
        }
        if (has < 0) {
            goto done;
        }
        while (j < m && (has = PySet_Contains(in_old, PyList_GET_ITEM(new_names, j))) == 0) {
            j++;
        }
        if (has < 0) {
            goto done;
        }
        if (i == n || j == m) {
            rv = 0;
            break;
        }
        int same = PyUnicode_Compare(PyList_GET_ITEM(old_names, i),
                                     PyList_GET_ITEM(new_names, j));
        if (same == -1 && PyErr_Occurred()) {
            goto done;
        }
        if (same != 0) {
            rv = 1;
            break;
        }
        i++;
        j++;
    }
done:
    Py_XDECREF(in_old);
    Py_XDECREF(in_new);
    return rv;
}

/* Member names and map in the new source's order (as a fresh import would
 * list them), then what only the kept class has (a removed member stays).
 * Replaces *names and *map with new lists and dicts. Names are strings:
 * set and dict operations on them run no user code. */
static int
order_members(PyObject *new_names, PyObject *nm, PyObject **names, PyObject **map)
{
    PyObject *seen = PySet_New(new_names), *have = PySet_New(*names);
    PyObject *out = PyList_New(0), *omap = PyDict_New();
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    int rv = -1;
    if (seen == NULL || have == NULL || out == NULL || omap == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(new_names); i++) {
        PyObject *n = PyList_GET_ITEM(new_names, i);
        int has = PySet_Contains(have, n);
        if (has < 0 || (has && PyList_Append(out, n) < 0)) {
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(*names); i++) {
        PyObject *n = PyList_GET_ITEM(*names, i);
        int has = PySet_Contains(seen, n);
        if (has < 0 || (!has && PyList_Append(out, n) < 0)) {
            goto done;
        }
    }
    while (PyDict_Next(nm, &pos, &k, &v)) {
        PyObject *kept = PyDict_GetItemWithError(*map, k);
        if (kept == NULL) {
            if (PyErr_Occurred()) {
                goto done;
            }
            continue;
        }
        if (PyDict_SetItem(omap, k, kept) < 0) {
            goto done;
        }
    }
    pos = 0;
    while (PyDict_Next(*map, &pos, &k, &v)) {
        if (PyDict_SetDefault(omap, k, v) == NULL) {
            goto done;
        }
    }
    Py_SETREF(*names, Py_NewRef(out));
    Py_SETREF(*map, Py_NewRef(omap));
    rv = 0;
done:
    Py_XDECREF(seen);
    Py_XDECREF(have);
    Py_XDECREF(out);
    Py_XDECREF(omap);
    return rv;
}

/* Copies of the kept enum's member map, names and value map, to change
 * and install together. 0, or -1 with an exception (the caller frees what
 * was made). */
static int
copy_member_tables(PyTypeObject *old, PyObject *om, PyObject **map,
                   PyObject **names, PyObject **v2m)
{
    PyObject *on = dict_get(old->tp_dict, rl_st.str_member_names);
    PyObject *ov2m = dict_get(old->tp_dict, rl_st.str_value2member);
    *map = PyDict_Copy(om);
    *names = on != NULL ? PySequence_List(on) : PyList_New(0);
    *v2m = ov2m != NULL && PyDict_Check(ov2m) ? PyDict_Copy(ov2m) : PyDict_New();
    return (*map == NULL || *names == NULL || *v2m == NULL) ? -1 : 0;
}

/* Added members become real members of the kept class; an added alias
 * names a kept member. */
static int
stage_enum_added(rl_txn *txn, PyTypeObject *old, PyTypeObject *new,
                 Py_ssize_t idx, int *changed)
{
    PyObject *om = member_map(old), *nm = member_map(new), *k, *nv;
    PyObject *map = NULL, *names = NULL, *v2m = NULL;
    Py_ssize_t pos = 0;
    int rv = -1;

    if (om == NULL || nm == NULL) {
        return 0;
    }
    while (PyDict_Next(nm, &pos, &k, &nv)) {
        if (dict_get(om, k) != NULL) {
            continue;
        }
        if (map == NULL && copy_member_tables(old, om, &map, &names, &v2m) < 0) {
            goto done;
        }
        PyObject *canon = PyObject_GetAttr(nv, rl_st.str_name_);
        if (canon == NULL) {
            goto done;
        }
        int alias = PyUnicode_Check(canon) && PyUnicode_Compare(canon, k) != 0;
        Py_DECREF(canon);
        if (alias) {
            /* CRIMSON = 1 beside RED = 1: another name for a member */
            PyObject *target = rl_map_lookup(txn, nv);
            target = target != NULL ? target : nv;
            if (PyDict_SetItem(map, k, target) < 0) {
                goto done;
            }
            PyObject *attr = dict_get(new->tp_dict, k);
            if (attr != NULL) {
                PyObject *kept = rl_map_value(txn, attr);
                if (kept == NULL || rl_txn_add(txn, RL_SWAP_TYPEATTR,
                                               (PyObject *)old, k, kept) == NULL) {
                    Py_XDECREF(kept);
                    goto done;
                }
                Py_DECREF(kept);
            }
        }
        else {
            /* the member is an instance of the throwaway class: re-class it */
            if (PyObject_GenericSetAttr(nv, rl_st.str_class, (PyObject *)old) < 0) {
                goto done;
            }
            if (add_member(txn, new, old, k, nv, map, names, v2m) < 0) {
                goto done;
            }
        }
        PyObject *mpath = rl_pair_subpath(txn, idx, k);
        if (mpath == NULL || PyList_Append(txn->added, mpath) < 0) {
            Py_XDECREF(mpath);
            goto done;
        }
        Py_DECREF(mpath);
        *changed = 1;
    }
    PyObject *new_names = dict_get(new->tp_dict, rl_st.str_member_names);
    PyObject *old_names = dict_get(old->tp_dict, rl_st.str_member_names);
    if (new_names != NULL && PyList_Check(new_names) && old_names != NULL
        && PyList_Check(old_names)) {
        int moved = map == NULL ? names_reordered(old_names, new_names) : 0;
        if (moved < 0) {
            goto done;
        }
        if (moved) {
            /* members moved in the source, none added */
            if (copy_member_tables(old, om, &map, &names, &v2m) < 0) {
                goto done;
            }
            *changed = 1;
        }
        if (map != NULL && order_members(new_names, nm, &names, &map) < 0) {
            goto done;
        }
    }
    if (map != NULL && flag_masks(txn, old, new) < 0) {
        goto done;
    }
    if (map != NULL
        && (rl_txn_add(txn, RL_SWAP_TYPEATTR, (PyObject *)old,
                       rl_st.str_member_map, map) == NULL
            || rl_txn_add(txn, RL_SWAP_TYPEATTR, (PyObject *)old,
                          rl_st.str_member_names, names) == NULL
            || rl_txn_add(txn, RL_SWAP_TYPEATTR, (PyObject *)old,
                          rl_st.str_value2member, v2m) == NULL)) {
        goto done;
    }
    rv = 0;
done:
    Py_XDECREF(map);
    Py_XDECREF(names);
    Py_XDECREF(v2m);
    return rv;
}

/* pass 0 *****************************************************************/

/* A base the class statement made in place (class Point(namedtuple("Point",
 * "x y"))) is bound to no name, so nothing else pairs it: it is paired with
 * the kept class's base in the same position when it is the same
 * definition of this module, and reports under the class's name. Without
 * this the kept class would be re-based on the throwaway base at every
 * reload. 1 when such a base needs a restart (the class is left as it was
 * with it), 0, or -1. */
static int
pair_inline_bases(rl_txn *txn, PyTypeObject *old, PyTypeObject *new, Py_ssize_t idx)
{
    PyObject *nb = new->tp_bases, *ob = old->tp_bases;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(nb) && i < PyTuple_GET_SIZE(ob); i++) {
        PyObject *n = PyTuple_GET_ITEM(nb, i), *o = PyTuple_GET_ITEM(ob, i);
        if (n == o || rl_map_lookup(txn, n) != NULL
            || !(((PyTypeObject *)n)->tp_flags & Py_TPFLAGS_HEAPTYPE)
            || !(((PyTypeObject *)o)->tp_flags & Py_TPFLAGS_HEAPTYPE)
            || !rl_defs_match(o, n) || rl_module_of(n) == NULL
            || PyUnicode_Compare(rl_module_of(n), txn->cur_module) != 0) {
            if (PyErr_Occurred()) {
                return -1;
            }
            continue;
        }
        Py_ssize_t at = txn->npairs;
        if (rl_pair(txn, o, n, NULL, NULL, idx) < 0) {
            return -1;
        }
        if (txn->npairs > at && txn->pairs[at].restart) {
            return 1;
        }
    }
    return 0;
}

int
rl_class_pair(rl_txn *txn, Py_ssize_t idx)
{
    PyObject *oldobj = txn->pairs[idx].old, *newobj = txn->pairs[idx].new;
    PyTypeObject *old = (PyTypeObject *)oldobj, *new = (PyTypeObject *)newobj;
    PyObject *key, *nv;
    Py_ssize_t pos = 0;
    int raw = 0;

    if (PyList_Append(txn->classes, oldobj) < 0) {
        return -1;
    }
    int base_restart = pair_inline_bases(txn, old, new, idx);
    if (base_restart != 0) {
        /* the base reported it, under this class's name */
        txn->pairs[idx].restart = 1;
        return base_restart < 0 ? -1 : 0;
    }
    const char *why = layout_problem(txn, old, new, &raw);
    if (why != NULL) {
        txn->pairs[idx].restart = 1;
        return rl_add_restart(txn, rl_pair_path(txn, idx), why);
    }
    if (is_enum(old) && pair_enum_members(txn, old, new, idx) < 0) {
        return -1;
    }
    /* pairing reads the class dicts and changes neither; it keeps for
     * staging the entries that are not kept definitions */
    rl_walk walk = {0};
    Py_ssize_t at = 0;
    rl_cursor cur;
    rl_cursor_init(&cur, old->tp_dict);
    for (; PyDict_Next(new->tp_dict, &pos, &key, &nv); at = pos) {
        PyObject *ov = cursor_get(&cur, key);
        int kept = 0;
        if (ov != NULL && ov != nv) {
            if (pair_member(txn, old, new, key, ov, nv, idx) < 0) {
                rl_walk_clear(&walk);
                return -1;
            }
            kept = rl_map_lookup(txn, nv) == ov;
        }
        if (!kept && rl_walk_keep(&walk, at, key) < 0) {
            rl_walk_clear(&walk);
            return -1;
        }
    }
    rl_walk_finish(&walk, new->tp_dict, &cur);
    rl_walk_clear(&txn->pairs[idx].walk);  /* pairing may have moved pairs */
    txn->pairs[idx].walk = walk;
    return 0;
}

/* pass 1 *****************************************************************/

/* Class data that describes the class statement rather than holding state:
 * dunders, and a named tuple's _field_defaults (its fields' defaults as the
 * source gives them; __new__ takes them from the source too). */
static int
follows_source(PyTypeObject *old, PyObject *key)
{
    return rl_is_dunder(key)
           || (PyType_IsSubtype(old, &PyTuple_Type)
               && PyUnicode_CompareWithASCIIString(key, "_field_defaults") == 0);
}

/* Class attributes CPython manages itself, or that are bound to the layout. */
static int
skip_key(PyObject *key, PyObject *value)
{
    if (!PyUnicode_Check(key)) {
        return 1;
    }
    if (value != NULL && Py_TYPE(value) == rl_st.member_descr_type) {
        return 1;  /* a __slots__ member: layout, compared in pass 0 */
    }
    if (PyUnicode_GET_LENGTH(key) == 0 || PyUnicode_READ_CHAR(key, 0) != '_') {
        return 0;  /* every name in class_skip starts with "_" */
    }
    int r = PySet_Contains(rl_st.class_skip, key);
    if (r < 0) {
        PyErr_Clear();
        return 0;
    }
    return r;
}

static int
is_definition(PyObject *v)
{
    return member_kind(v) != M_OTHER;
}

/* shadow resolution (after the module's code ran) **************************/

#define RESOLVE_DEPTH 8  /* nested classes followed */

/* Whether the data of new may stand in for old's: the same kind of class,
 * so that its data means the same. Enum members and a named tuple's
 * _fields describe the class, and a class that changed layout or
 * metaclass is left as it was (restart required). */
static int
resolvable(PyTypeObject *old, PyTypeObject *new)
{
    return old != new
           && (old->tp_flags & new->tp_flags & Py_TPFLAGS_HEAPTYPE)
           && rl_defs_match((PyObject *)old, (PyObject *)new)
           && (Py_TYPE(old) == Py_TYPE(new)
               || rl_defs_match((PyObject *)Py_TYPE(old), (PyObject *)Py_TYPE(new)))
           && same_layout(old, new)
           && !is_enum(old) && !is_enum(new)
           && !PyType_IsSubtype(old, &PyTuple_Type);
}

static int
resolve_class(rl_txn *txn, PyTypeObject *old, PyTypeObject *new, int depth)
{
    if (depth == 0 || !resolvable(old, new)
        || rl_ptrmap_get(&txn->resolved, (PyObject *)new) != NULL) {
        return 0;  /* an alias of a class done already, or not ours */
    }
    PyObject *source = NULL;  /* made for the first data entry */
    rl_optin opt = {0, NULL};
    int have_opt = 0, modified = 0, rv = -1;
    PyObject *key, *nv;
    Py_ssize_t pos = 0;
    while (PyDict_Next(new->tp_dict, &pos, &key, &nv)) {
        int kind = member_kind(nv);
        if (kind != M_OTHER) {
            /* definitions (most entries: the old dict is not read for
             * them); a nested class has data of its own */
            PyObject *ov = kind == M_CLASS ? dict_get(old->tp_dict, key) : NULL;
            if (ov != NULL && member_kind(ov) == M_CLASS
                && resolve_class(txn, (PyTypeObject *)ov, (PyTypeObject *)nv,
                                 depth - 1) < 0) {
                goto done;
            }
            continue;
        }
        /* dunders follow the source (no named tuple gets here), and so
         * does _reload_data */
        if (skip_key(key, nv) || rl_is_dunder(key) || rl_is_declaration(key)) {
            continue;
        }
        PyObject *ov = dict_get(old->tp_dict, key);
        if (ov == NULL || ov == nv || is_definition(ov)) {
            /* the same object (KIND = 3): any other value the stage finds
             * there was written since, as for a key the source lacks */
            continue;
        }
        if (!have_opt) {
            if (rl_optin_read(new->tp_dict, &opt) < 0) {
                goto done;
            }
            have_opt = 1;
        }
        int opted = rl_optin_has(&opt, key);
        if (opted != 0) {
            if (opted < 0) {
                goto done;
            }
            continue;  /* replaced: the new value is what the batch installs */
        }
        /* source holds nv from here; setting an existing key never
         * resizes, so the walk goes on */
        if ((source == NULL && (source = PyDict_New()) == NULL)
            || PyDict_SetItem(source, key, nv) < 0
            || PyDict_SetItem(new->tp_dict, key, ov) < 0) {
            goto done;
        }
        modified = 1;
    }
    /* None: resolved, with no data of the source's to show */
    rv = rl_ptrmap_put(&txn->resolved, (PyObject *)new, source ? source : Py_None);
done:
    if (modified) {
        PyType_Modified(new);  /* on error too: no cache may hold what went */
    }
    Py_XDECREF(source);
    rl_optin_clear(&opt);
    return rv;
}

int
rl_class_resolve(rl_txn *txn, PyObject *old, PyObject *new)
{
    if (!PyType_Check(old) || !PyType_Check(new)) {
        return 0;
    }
    return resolve_class(txn, (PyTypeObject *)old, (PyTypeObject *)new, RESOLVE_DEPTH);
}

/* wrappers' copies *********************************************************/

int
rl_stage_wrapper_copies(rl_txn *txn, PyObject *ov, PyObject *nv)
{
    int kind = member_kind(nv);
    if (kind != member_kind(ov)) {
        return 0;
    }
    if (kind == M_PROPERTY) {
        /* property keeps its getter's docstring in a slot of its own */
        PyObject *a = PyObject_GetAttr(ov, rl_st.str_doc);
        PyObject *b = a != NULL ? PyObject_GetAttr(nv, rl_st.str_doc) : NULL;
        int rv = b == NULL ? -1 : 0;
        if (b != NULL && !rl_same_value(a, b)
            && rl_txn_add(txn, RL_SWAP_ATTR, ov, rl_st.str_doc, b) == NULL) {
            rv = -1;
        }
        Py_XDECREF(a);
        Py_XDECREF(b);
        return rv;
    }
    if (kind != M_CACHED && kind != M_CLASSMETHOD && kind != M_STATICMETHOD
        && kind != M_WRAPPER) {
        return 0;
    }
    /* the others copied them into their __dict__ (functools.update_wrapper
     * and its C twin); the builtin types' dict getter runs no user code */
    PyObject *od = PyObject_GenericGetDict(ov, NULL);
    PyObject *nd = od != NULL ? PyObject_GenericGetDict(nv, NULL) : NULL;
    PyObject *names[] = {rl_st.str_doc, rl_st.str_annotations, rl_st.str_type_params};
    int rv = nd == NULL ? -1 : 0;
    for (size_t i = 0; rv == 0 && i < sizeof names / sizeof names[0]; i++) {
        PyObject *b = dict_get(nd, names[i]), *a = dict_get(od, names[i]);
        if (b == NULL || a == b || (a != NULL && rl_same_value(a, b))) {
            continue;
        }
        PyObject *m = rl_map_value(txn, b);  /* annotations name kept classes */
        if (m == NULL || rl_txn_add(txn, RL_SWAP_DICT, od, names[i], m) == NULL) {
            rv = -1;
        }
        Py_XDECREF(m);
    }
    Py_XDECREF(od);
    Py_XDECREF(nd);
    return rv;
}

/* What the new source gave key in class new, where resolve_class put the
 * kept value in its place (borrowed), or NULL. */
static PyObject *
source_value(PyObject *source, PyObject *key)
{
    return source != NULL && source != Py_None ? dict_get(source, key) : NULL;
}

/* Whether two partialmethods bind the same arguments (compared as the
 * reload compares values: by identity, or by value for builtin immutables). */
static int
partial_args_same(PyObject *ov, PyObject *nv)
{
    PyObject *oa = PyObject_GetAttr(ov, rl_st.str_args);
    PyObject *na = PyObject_GetAttr(nv, rl_st.str_args);
    PyObject *ok = PyObject_GetAttr(ov, rl_st.str_keywords);
    PyObject *nk = PyObject_GetAttr(nv, rl_st.str_keywords);
    int same = oa != NULL && na != NULL && ok != NULL && nk != NULL
               && rl_same_value(oa, na) && PyDict_Check(ok) && PyDict_Check(nk)
               && PyDict_GET_SIZE(ok) == PyDict_GET_SIZE(nk);
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (same && PyDict_Next(nk, &pos, &k, &v)) {
        PyObject *w = PyUnicode_CheckExact(k) ? PyDict_GetItemWithError(ok, k) : NULL;
        same = w != NULL && rl_same_value(w, v);
    }
    PyErr_Clear();
    Py_XDECREF(oa);
    Py_XDECREF(na);
    Py_XDECREF(ok);
    Py_XDECREF(nk);
    return same;
}

/* Whether the old descriptor stays: same kind, and each function inside it
 * is kept (paired with the new one's, or the very same). */
static int
descriptor_kept(rl_txn *txn, PyObject *ov, PyObject *nv)
{
    int kind = member_kind(nv);
    if (kind != member_kind(ov)) {
        return 0;
    }
    PyObject *attrs[4];
    if (held_attrs(kind, attrs) == 0) {
        return 0;
    }
    if (kind == M_PARTIAL && !partial_args_same(ov, nv)) {
        return 0;
    }
    for (int i = 0; attrs[i] != NULL; i++) {
        PyObject *a = PyObject_GetAttr(ov, attrs[i]);
        PyObject *b = PyObject_GetAttr(nv, attrs[i]);
        int same = a != NULL && b != NULL && mapped_or_self(txn, b) == a;
        Py_XDECREF(a);
        Py_XDECREF(b);
        if (!same) {
            PyErr_Clear();
            return 0;
        }
    }
    return 1;
}

static int
add_path(PyObject *list, rl_txn *txn, Py_ssize_t idx, PyObject *key)
{
    PyObject *p = rl_pair_subpath(txn, idx, key);
    if (p == NULL) {
        return -1;
    }
    int r = PyList_Append(list, p);
    Py_DECREF(p);
    return r;
}

/* A property whose accessors changed shape (a setter added, say): a new
 * property of the same type over the kept accessor functions (new ref). */
static PyObject *
remap_property(rl_txn *txn, PyObject *nv)
{
    PyObject *parts[4] = {NULL}, *out = NULL;
    PyObject *names[4] = {rl_st.str_fget, rl_st.str_fset, rl_st.str_fdel,
                          rl_st.str_doc};
    for (int i = 0; i < 4; i++) {
        PyObject *v = PyObject_GetAttr(nv, names[i]);
        if (v == NULL) {
            goto done;
        }
        parts[i] = rl_map_value(txn, v);
        Py_DECREF(v);
        if (parts[i] == NULL) {
            goto done;
        }
    }
    out = PyObject_CallFunctionObjArgs((PyObject *)Py_TYPE(nv), parts[0],
                                       parts[1], parts[2], parts[3], NULL);
done:
    for (int i = 0; i < 4; i++) {
        Py_XDECREF(parts[i]);
    }
    return out;
}

/* Whether the function inside ov and the one inside nv, members of
 * different kinds, were paired (pair_member): the method stays, rewrapped. */
static int
rewrapped_kept(rl_txn *txn, PyObject *ov, PyObject *nv)
{
    PyObject *of = sole_func(ov, member_kind(ov));
    PyObject *nf = sole_func(nv, member_kind(nv));
    int kept = of != NULL && nf != NULL && rl_map_lookup(txn, nf) == of;
    Py_XDECREF(of);
    Py_XDECREF(nf);
    return kept;
}

/* A new classmethod or staticmethod over the kept function (new ref). */
static PyObject *
rewrap(rl_txn *txn, PyObject *nv, int kind)
{
    PyObject *nf = sole_func(nv, kind);
    PyObject *kept = nf != NULL ? rl_map_value(txn, nf) : NULL;
    PyObject *out = kept != NULL
                    ? PyObject_CallOneArg((PyObject *)Py_TYPE(nv), kept) : NULL;
    Py_XDECREF(nf);
    Py_XDECREF(kept);
    return out;
}

/* A method whose wrapper changed is listed as updated, once: through its
 * function's pair when that changed too, here when only the wrapper did. */
static int
report_rewrapped(rl_txn *txn, Py_ssize_t idx, PyObject *key, PyObject *nv,
                 int kind)
{
    PyObject *nf = sole_func(nv, kind);
    int paired = 0;
    for (Py_ssize_t i = 0; nf != NULL && i < txn->npairs && !paired; i++) {
        paired = txn->pairs[i].new == nf;
    }
    Py_XDECREF(nf);
    return paired ? 0 : add_path(txn->updated, txn, idx, key);
}

/* The __class__ cell the new class body made (borrowed), or NULL: methods
 * using super() or __class__ share it, and it points at the throwaway
 * class. Added methods keep using it, so it must point at the kept one. */
static PyObject *
class_cell(PyTypeObject *new)
{
    PyObject *key, *v;
    Py_ssize_t pos = 0;
    PyObject *name = rl_st.str_class;
    while (PyDict_Next(new->tp_dict, &pos, &key, &v)) {
        int kind = member_kind(v);
        if (kind == M_OTHER) {
            continue;
        }
        PyObject *f = kind == M_FUNC ? Py_NewRef(v)
                      : kind == M_PROPERTY ? member_func(v, rl_st.str_fget)
                                           : member_func(v, inner_attr(kind));
        if (f == NULL) {
            continue;
        }
        PyFunctionObject *fn = (PyFunctionObject *)f;
        if (fn->func_closure == NULL) {
            Py_DECREF(f);
            continue;
        }
        PyObject *free = rl_code_freevars((PyCodeObject *)fn->func_code);
        PyObject *cell = NULL;
        for (Py_ssize_t i = 0; free != NULL && i < PyTuple_GET_SIZE(free); i++) {
            if (PyUnicode_Compare(PyTuple_GET_ITEM(free, i), name) == 0
                && i < PyTuple_GET_SIZE(fn->func_closure)) {
                cell = PyTuple_GET_ITEM(fn->func_closure, i);
                break;
            }
        }
        Py_XDECREF(free);
        Py_DECREF(f);
        PyErr_Clear();
        if (cell != NULL && PyCell_GET(cell) == (PyObject *)new) {
            return cell;
        }
    }
    return NULL;
}

/* The functions a class attribute holds: itself, or the ones inside a
 * staticmethod, classmethod or property. */
static int
fixup_member(rl_txn *txn, PyObject *v)
{
    int kind = member_kind(v);
    if (kind == M_FUNC) {
        return rl_function_fixup(txn, v);
    }
    PyObject *attrs[4];
    held_attrs(kind, attrs);
    for (int i = 0; attrs[i] != NULL; i++) {
        PyObject *f = member_func(v, attrs[i]);
        int r = f != NULL ? rl_function_fixup(txn, f) : 0;
        Py_XDECREF(f);
        if (r < 0) {
            return -1;
        }
    }
    return 0;
}

/* A class the new code added (to a batch module, or in a module it imported
 * for the first time): its methods' defaults, cells and annotations, and
 * the class attributes that name this batch's classes (kind = Item,
 * __orig_bases__ = (Box[Item],), a dataclass's fields), name the kept
 * objects, as for a kept class. Nested classes of its own too. */
static int
stage_added_class_dict(rl_txn *txn, PyTypeObject *t)
{
    PyObject *items = PyDict_Items(t->tp_dict);  /* staging allocates */
    PyObject *qn = rl_qualname_of((PyObject *)t);
    int rv = -1;
    if (items == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *k = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 0);
        PyObject *x = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 1);
        if (skip_key(k, x)) {
            continue;
        }
        if (member_kind(x) == M_CLASS && rl_map_lookup(txn, x) == NULL) {
            /* a nested class of its own (not one it names) */
            PyObject *nq = rl_qualname_of(x);
            if (qn != NULL && nq != NULL && qual_is(nq, qn, k)
                && rl_stage_new_object(txn, x) < 0) {
                goto done;
            }
            continue;
        }
        if (fixup_member(txn, x) < 0
            || rl_stage_mapped(txn, RL_SWAP_TYPEATTR, (PyObject *)t, k, x) < 0) {
            goto done;
        }
    }
    rv = 0;
done:
    Py_DECREF(items);
    return rv;
}

int
rl_stage_new_object(rl_txn *txn, PyObject *v)
{
    if (rl_map_lookup(txn, v) != NULL) {
        return 0;  /* a kept object stands for it */
    }
    if (PyFunction_Check(v)) {
        return rl_function_fixup(txn, v);
    }
    if (PyType_Check(v) && (((PyTypeObject *)v)->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
        /* an added class derived from a kept class: from its throwaway copy */
        PyTypeObject *t = (PyTypeObject *)v;
        PyObject *bases = mapped_bases(txn, t);
        if (bases == NULL) {
            return -1;
        }
        int r = 0;
        if (!same_items(bases, t->tp_bases)) {
            r = rl_txn_add(txn, RL_SWAP_BASES, v, NULL, bases) ? 0 : -1;
        }
        Py_DECREF(bases);
        return r < 0 ? -1 : stage_added_class_dict(txn, t);
    }
    int kind = member_kind(v);
    if (kind == M_PROPERTY || kind == M_CLASSMETHOD || kind == M_STATICMETHOD) {
        /* a method the class gains in a wrapper: its function's cells and
         * defaults name the kept classes (a class decorator's closure) */
        return fixup_member(txn, v);
    }
    if (PyDict_CheckExact(v)) {
        PyObject *k, *x;
        Py_ssize_t pos = 0;
        while (PyDict_Next(v, &pos, &k, &x)) {
            PyObject *kept = rl_map_lookup(txn, x);
            if (kept != NULL && kept != x
                && rl_txn_add(txn, RL_SWAP_DICT, v, k, kept) == NULL) {
                return -1;
            }
        }
    }
    return 0;
}

/* The __dict__ and __weakref__ descriptors a class body makes when no base
 * gives them. A class that loses the mixin it inherited them from needs its
 * own: the new body's getter and setter, bound to the kept class. */
static int
stage_layout_descriptors(rl_txn *txn, PyTypeObject *old, PyTypeObject *new)
{
    PyObject *keys[] = {rl_st.str_dict, rl_st.str_weakref};
    for (int i = 0; i < 2; i++) {
        PyObject *nd = dict_get(new->tp_dict, keys[i]);
        if (nd == NULL || Py_TYPE(nd) != &PyGetSetDescr_Type
            || dict_get(old->tp_dict, keys[i]) != NULL) {
            continue;
        }
        PyObject *d = PyDescr_NewGetSet(old, ((PyGetSetDescrObject *)nd)->d_getset);
        if (d == NULL) {
            return -1;
        }
        rl_swap *s = rl_txn_add(txn, RL_SWAP_TYPEATTR, (PyObject *)old, keys[i], d);
        Py_DECREF(d);
        if (s == NULL) {
            return -1;
        }
    }
    return 0;
}

static int
stage_bases(rl_txn *txn, PyTypeObject *old, PyTypeObject *new, int *changed)
{
    int raw = 0;
    if (bases_unchanged(txn, old, new)) {
        return 0;
    }
    PyObject *bases = mapped_bases(txn, new);
    if (bases == NULL) {
        return -1;
    }
    if (!same_items(bases, old->tp_bases)) {
        (void)layout_problem(txn, old, new, &raw);
        rl_swap *s = rl_txn_add(txn, RL_SWAP_BASES, (PyObject *)old, NULL,
                                bases);
        if (s == NULL) {
            Py_DECREF(bases);
            return -1;
        }
        s->mask = raw;
        *changed = 1;
    }
    Py_DECREF(bases);
    return 0;
}

int
rl_class_stage(rl_txn *txn, Py_ssize_t idx, int *changed)
{
    PyObject *oldobj = txn->pairs[idx].old, *newobj = txn->pairs[idx].new;
    PyTypeObject *old = (PyTypeObject *)oldobj, *new = (PyTypeObject *)newobj;
    PyObject *target = NULL;
    rl_optin opt = {0, NULL};
    int enumcls = is_enum(old), rv = -1, have_opt = 0;

    if (stage_bases(txn, old, new, changed) < 0) {
        goto done;
    }
    if (enumcls && stage_enum_added(txn, old, new, idx, changed) < 0) {
        goto done;
    }
    if (stage_layout_descriptors(txn, old, new) < 0) {
        goto done;
    }
    PyObject *nmap = enumcls ? member_map(new) : NULL;
    PyObject *omap = enumcls ? member_map(old) : NULL;
    PyObject *source = rl_ptrmap_get(&txn->resolved, newobj);  /* borrowed */
    /* staging changes no class dict: iterate in place */
    PyObject *key, *nv, *ov;
    rl_rewalk walk;
    int more;
    rl_rewalk_init(&walk, &txn->pairs[idx].walk, new->tp_dict, old->tp_dict);
    while ((more = rl_rewalk_next(&walk, &key, &nv, &ov)) != 0) {
        if (more < 0) {
            goto done;
        }
        if (skip_key(key, nv)) {
            continue;
        }
        if (enumcls && ((is_sunder(key) && !enum_hook(nv, ov))
                        || (nmap && dict_get(nmap, key))
                        || (omap && dict_get(omap, key)))) {
            continue;  /* members and the enum machinery: see above */
        }
        /* Data of a class that resolve_class showed with its kept values:
         * a value it did not put there was set since by module code of
         * the batch (b.Conf.level = 12 in a), as at run time. */
        int later = 0;
        if (source != NULL && ov != NULL) {
            PyObject *was = source_value(source, key);
            if (was == NULL) {
                later = 1;  /* not the source's data (unless opted in) */
            }
            else if (nv == ov) {
                nv = was;  /* untouched since: what the source gave counts */
            }
            else {
                later = 1;
            }
        }
        if (ov != NULL && rl_map_lookup(txn, nv) == ov) {
            continue;  /* kept object, patched in place */
        }
        if (ov != NULL && descriptor_kept(txn, ov, nv)) {
            if (rl_stage_wrapper_copies(txn, ov, nv) < 0) {
                goto done;
            }
            continue;  /* its functions are patched in place */
        }
        int nkind = member_kind(nv), okind = ov != NULL ? member_kind(ov) : M_OTHER;
        /* a method whose wrapper changed, its function kept (pair_member) */
        int rewrapped = ov != NULL && nkind != okind && rewrapped_kept(txn, ov, nv);
        if (ov != NULL && nkind == M_PROPERTY && (okind == M_PROPERTY || rewrapped)) {
            target = remap_property(txn, nv);
        }
        else if (rewrapped && (nkind == M_CLASSMETHOD || nkind == M_STATICMETHOD)) {
            target = rewrap(txn, nv, nkind);
        }
        else {
            target = rl_map_value(txn, nv);
        }
        if (target == NULL) {
            goto done;
        }
        if (target == ov) {
            Py_CLEAR(target);
            continue;
        }
        if (!is_definition(nv) && (follows_source(old, key) || rl_is_declaration(key))) {
            /* dunders and the opt-in switches follow the source; only a
             * new docstring is news */
            if (rl_same_value(target, ov)) {
                Py_CLEAR(target);
                continue;
            }
            if (PyUnicode_CompareWithASCIIString(key, "__doc__") == 0) {
                *changed = 1;
            }
        }
        else if (ov == NULL) {
            if (add_path(txn->added, txn, idx, key) < 0) {
                goto done;
            }
            *changed = 1;
        }
        else if (is_definition(nv) != is_definition(ov)) {
            if (add_path(txn->removed, txn, idx, key) < 0
                || add_path(txn->added, txn, idx, key) < 0) {
                goto done;
            }
            *changed = 1;
        }
        else if (!is_definition(nv)) {
            if (!have_opt) {  /* read when first needed: most classes never do */
                if (rl_optin_read(new->tp_dict, &opt) < 0) {
                    goto done;
                }
                have_opt = 1;
            }
            int opted = rl_optin_has(&opt, key);
            if (opted < 0) {
                goto done;
            }
            later = later && !opted;
            if ((!opted && !later) || rl_same_value(target, ov)) {
                /* class data keeps its runtime value; the methods' defaults
                 * that held the new object get the kept one */
                if (!opted && !later && !rl_is_plain_immutable(nv)
                    && (rl_policy_pair_kept_data(txn, key, idx, ov, nv) < 0
                        || rl_map_put(txn, nv, ov) < 0)) {
                    goto done;
                }
                Py_CLEAR(target);
                continue;
            }
            /* data replaced is reported as such, not as an update; a
             * later module's write is not the reload's doing */
            if (!later && add_path(txn->data_replaced, txn, idx, key) < 0) {
                goto done;
            }
        }
        else {
            *changed = 1;  /* a definition replaced by another */
            if (nkind != okind
                && (rewrapped ? report_rewrapped(txn, idx, key, nv, nkind)
                              : (add_path(txn->removed, txn, idx, key) < 0
                                 || add_path(txn->added, txn, idx, key) < 0)) < 0) {
                goto done;
            }
            /* a = b: the old method a is gone, its name now an alias; and
             * back, a new definition under the alias's name */
            if (nkind == okind && own_member(old, key, ov) != own_member(new, key, nv)
                && add_path(own_member(old, key, ov) ? txn->removed : txn->added,
                            txn, idx, key) < 0) {
                goto done;
            }
        }
        if (rl_stage_new_object(txn, target) < 0
            || rl_txn_add(txn, RL_SWAP_TYPEATTR, oldobj, key, target) == NULL) {
            goto done;
        }
        Py_CLEAR(target);
    }
    {
        PyObject *cell = class_cell(new);
        if (cell != NULL
            && rl_txn_add(txn, RL_SWAP_CELL, cell, NULL, oldobj) == NULL) {
            goto done;
        }
    }
    /* what the new source no longer defines (staging changes no class
     * dict: iterate in place) */
    Py_ssize_t pos = 0;
    while (!rl_rewalk_saw_all(&walk) && PyDict_Next(old->tp_dict, &pos, &key, &ov)) {
        if (skip_key(key, ov) || dict_get(new->tp_dict, key) != NULL) {
            continue;
        }
        if (enumcls && ((is_sunder(key) && !enum_hook(NULL, ov))
                        || (omap && dict_get(omap, key)))) {
            continue;
        }
        if (is_definition(ov)) {
            if (member_kind(ov) == M_CLASS
                && rl_module_of(ov) != NULL
                && PyUnicode_Compare(rl_module_of(ov), txn->cur_module) != 0) {
                continue;  /* a class from elsewhere held as an attribute */
            }
            if (add_path(txn->removed, txn, idx, key) < 0) {
                goto done;
            }
        }
        else if (!rl_is_dunder(key)) {
            continue;  /* state is never dropped silently */
        }
        *changed = 1;
        if (rl_txn_add(txn, RL_SWAP_TYPEATTR, oldobj, key, NULL) == NULL) {
            goto done;
        }
    }
    rv = 0;
done:
    Py_XDECREF(target);
    rl_optin_clear(&opt);
    return rv;
}
