/* fingerprint.c: tell an unchanged definition without reading its old code.
 *
 * Comparing an old function's code with the new one reads about ten objects
 * on each side; for a module of thousands of definitions that working set
 * does not fit in the cache, and the plan spends about half its time on
 * those reads (bench/RESULTS.md). Two tables replace them with two lookups:
 *
 * - CodeFingerprints: the fingerprints of one offered code tree (a module's
 *   code and every code object inside it), made where the code was compiled
 *   (precompiled(), or the watcher's helper process, which ships them with
 *   the code), so never on the reload's path.
 * - the known fingerprints: live code object -> its fingerprint, the code
 *   held so that its address cannot be reused. An entry is a fact about an
 *   immutable object: it never goes stale and a rollback need not undo it.
 *   The plan adds one when a full comparison finds an old code object equal
 *   to fingerprinted new code; the next reload then compares numbers. */
#include "reloader.h"

/* code object -> fingerprint *********************************************/

/* Code objects take a few hundred bytes each: at this granularity the codes
 * of a module, made one after another, land in consecutive slots, and the
 * plan's lookups in definition order read the table front to back. */
#define FP_SLOT_SHIFT 6

static inline size_t
fp_slot(PyObject *key, size_t mask)
{
    return rl_addr_slot(key, mask, FP_SLOT_SHIFT);
}

const rl_fp *
rl_fpmap_get(const rl_fpmap *m, PyObject *key)
{
    if (m->slots == NULL) {
        return NULL;
    }
    for (size_t j = fp_slot(key, m->mask);; j = (j + 1) & m->mask) {
        if (m->slots[j].key == key) {
            return &m->slots[j].fp;
        }
        if (m->slots[j].key == NULL) {
            return NULL;
        }
    }
}

static int
fpmap_resize(rl_fpmap *m, size_t cap)
{
    rl_fpslot *slots = rl_table_resize(m->slots, &m->mask, cap, sizeof *slots,
                                       FP_SLOT_SHIFT);
    if (slots == NULL) {
        return -1;
    }
    m->slots = slots;
    return 0;
}

/* Room for n more entries at half load at most. 0 or -1. */
static int
fpmap_reserve(rl_fpmap *m, size_t n)
{
    size_t want = rl_table_want(m->slots, m->mask, m->used, n);
    return want ? fpmap_resize(m, want) : 0;
}

/* Insert or overwrite; the caller made room. */
static void
fpmap_set(rl_fpmap *m, PyObject *key, const rl_fp *fp)
{
    size_t j = fp_slot(key, m->mask);
    while (m->slots[j].key != NULL && m->slots[j].key != key) {
        j = (j + 1) & m->mask;
    }
    if (m->slots[j].key == NULL) {
        m->slots[j].key = m->owns ? Py_NewRef(key) : key;
        m->used++;
    }
    m->slots[j].fp = *fp;
}

static void
fpmap_clear(rl_fpmap *m)
{
    rl_fpslot *slots = m->slots;
    size_t cap = slots ? m->mask + 1 : 0;
    m->slots = NULL;
    m->mask = 0;
    m->used = 0;
    if (m->owns) {
        for (size_t i = 0; i < cap; i++) {
            Py_XDECREF(slots[i].key);
        }
    }
    PyMem_Free(slots);
}

/* known fingerprints *****************************************************/

static rl_fpmap known = {NULL, 0, 0, 1};

const rl_fp *
rl_fp_known(PyObject *code)
{
    return rl_fpmap_get(&known, code);
}

/* Drop the entries only the table keeps alive (code that no function runs
 * any more), rebuilding the table; 0 or -1 (the table is left as it was). */
static int
known_sweep(size_t cap)
{
    rl_fpmap kept = {NULL, 0, 0, 1};
    if (fpmap_resize(&kept, cap) < 0) {
        return -1;
    }
    rl_fpslot *slots = known.slots;
    size_t oldcap = slots ? known.mask + 1 : 0, ndead = 0;
    for (size_t i = 0; i < oldcap; i++) {
        PyObject *k = slots[i].key;
        if (k == NULL) {
            continue;
        }
        if (Py_REFCNT(k) == 1) {
            slots[ndead++].key = k;  /* a slot already read: freed below */
            continue;
        }
        size_t j = fp_slot(k, kept.mask);
        while (kept.slots[j].key != NULL) {
            j = (j + 1) & kept.mask;
        }
        kept.slots[j] = slots[i];  /* the reference moves */
        kept.used++;
    }
    known = kept;
    /* only now, with the table whole, may deallocation run any code */
    for (size_t i = 0; i < ndead; i++) {
        Py_DECREF(slots[i].key);
    }
    PyMem_Free(slots);
    return 0;
}

void
rl_fp_learn(PyObject *code, const rl_fp *fp)
{
    size_t cap = known.slots ? known.mask + 1 : 0;
    if (rl_fpmap_get(&known, code) == NULL && 2 * (known.used + 1) > cap) {
        /* before growing, drop what no function uses; grow anyway when a
         * quarter of the slots stays taken, so sweeps stay rare (each reads
         * every entry's code) */
        rl_exc exc;
        rl_exc_save(&exc);
        if (cap == 0 || known_sweep(cap) < 0 || 4 * (known.used + 1) > cap) {
            if (fpmap_reserve(&known, 1) < 0) {
                PyErr_Clear();
                rl_exc_restore(&exc);
                return;  /* only a missed shortcut */
            }
        }
        PyErr_Clear();
        rl_exc_restore(&exc);
    }
    fpmap_set(&known, code, fp);
}

void
rl_fp_forget_all(void)
{
    fpmap_clear(&known);
}

/* CodeFingerprints *******************************************************/

typedef struct {
    PyObject_HEAD
    PyObject *code;     /* the root, which holds every code in the tree */
    PyObject **order;   /* the tree's code objects, depth first, pre-order */
    Py_ssize_t n;
    rl_fpmap map;       /* keys borrowed from the tree */
} rl_fps;

static PyTypeObject FpsType;

const rl_fp *
rl_fp_offered(PyObject *fps, PyObject *code)
{
    return fps != NULL ? rl_fpmap_get(&((rl_fps *)fps)->map, code) : NULL;
}

PyObject *
rl_fps_code(PyObject *fps)
{
    return ((rl_fps *)fps)->code;
}

/* Append code and the code inside it to self->order, pre-order. */
static int
collect(rl_fps *self, PyObject *code, Py_ssize_t *cap)
{
    if (self->n == *cap) {
        Py_ssize_t want = *cap ? *cap * 2 : 64;
        PyObject **order = PyMem_Realloc(self->order, want * sizeof *order);
        if (order == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        self->order = order;
        *cap = want;
    }
    self->order[self->n++] = code;
    PyObject *consts = ((PyCodeObject *)code)->co_consts;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts); i++) {
        PyObject *c = PyTuple_GET_ITEM(consts, i);
        if (PyCode_Check(c)) {
            if (Py_EnterRecursiveCall(" while fingerprinting code") < 0) {
                return -1;
            }
            int r = collect(self, c, cap);
            Py_LeaveRecursiveCall();
            if (r < 0) {
                return -1;
            }
        }
    }
    return 0;
}

static int
fps_compute(rl_fps *self)
{
    /* children come after their parent in pre-order: going backwards, a
     * nested code's fingerprint is in the map before its parent needs it */
    for (Py_ssize_t i = self->n - 1; i >= 0; i--) {
        rl_fp fp;
        int r = rl_code_fingerprint(self->order[i], &self->map, &fp);
        if (r < 0) {
            return -1;
        }
        if (r > 0) {
            fpmap_set(&self->map, self->order[i], &fp);
        }
    }
    return 0;
}

/* A blob record: the fingerprint, and the code's shape, which the receiving
 * side checks so that fingerprints of other code (another version of the
 * source, another tree) are refused rather than trusted. */
typedef struct {
    rl_fp fp;
    uint64_t shape;
} rl_fprec;

static uint64_t
code_shape(PyObject *code)
{
    PyCodeObject *co = (PyCodeObject *)code;
#if RL_PY311
    uint64_t units = (uint64_t)Py_SIZE(co);
#else
    uint64_t units = (uint64_t)PyBytes_GET_SIZE(co->co_code) / 2;
#endif
    return (uint64_t)(uint32_t)co->co_firstlineno << 32
           ^ units << 12 ^ (uint64_t)(uint32_t)co->co_flags << 4
           ^ (uint64_t)PyTuple_GET_SIZE(co->co_consts) << 40
           ^ (uint64_t)co->co_argcount;
}

static int
fps_attach(rl_fps *self, PyObject *blob)
{
    if (!PyBytes_Check(blob)) {
        PyErr_Format(PyExc_TypeError, "fingerprints must be bytes, not %.100s",
                     Py_TYPE(blob)->tp_name);
        return -1;
    }
    if (PyBytes_GET_SIZE(blob) != self->n * (Py_ssize_t)sizeof(rl_fprec)) {
        PyErr_Format(PyExc_ValueError, "%zd bytes of fingerprints for %zd "
                     "code objects (%zd bytes each)", PyBytes_GET_SIZE(blob),
                     self->n, (Py_ssize_t)sizeof(rl_fprec));
        return -1;
    }
    const char *p = PyBytes_AS_STRING(blob);
    for (Py_ssize_t i = 0; i < self->n; i++) {
        rl_fprec rec;
        memcpy(&rec, p + i * sizeof rec, sizeof rec);
        if (rec.shape != code_shape(self->order[i])) {
            PyErr_Format(PyExc_ValueError, "the fingerprints are not of this "
                         "code (code object %zd of %zd differs)", i, self->n);
            return -1;
        }
        if (rec.fp.a != 0 || rec.fp.b != 0) {
            fpmap_set(&self->map, self->order[i], &rec.fp);
        }
    }
    return 0;
}

static PyObject *
Fps_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"code", "fingerprints", NULL};
    PyObject *code, *blob = Py_None;
    Py_ssize_t cap = 0;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!|O:CodeFingerprints",
                                     kwlist, &PyCode_Type, &code, &blob)) {
        return NULL;
    }
    rl_fps *self = (rl_fps *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->code = Py_NewRef(code);
    self->map.owns = 0;
    if (collect(self, code, &cap) < 0 || fpmap_reserve(&self->map, self->n) < 0
        || (blob == Py_None ? fps_compute(self) : fps_attach(self, blob)) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void
Fps_dealloc(rl_fps *self)
{
    fpmap_clear(&self->map);
    PyMem_Free(self->order);
    Py_XDECREF(self->code);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
Fps_blob(rl_fps *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *out = PyBytes_FromStringAndSize(NULL, self->n * sizeof(rl_fprec));
    if (out == NULL) {
        return NULL;
    }
    char *p = PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < self->n; i++) {
        const rl_fp *fp = rl_fpmap_get(&self->map, self->order[i]);
        rl_fprec rec = {{0, 0}, code_shape(self->order[i])};
        if (fp != NULL) {
            rec.fp = *fp;
        }
        memcpy(p + i * sizeof rec, &rec, sizeof rec);
    }
    return out;
}

static PyObject *
Fps_get(rl_fps *self, PyObject *code)
{
    const rl_fp *fp = rl_fpmap_get(&self->map, code);
    if (fp == NULL) {
        Py_RETURN_NONE;
    }
    return PyBytes_FromStringAndSize((const char *)fp, sizeof *fp);
}

static Py_ssize_t
Fps_len(rl_fps *self)
{
    return (Py_ssize_t)self->map.used;
}

static PyMethodDef Fps_methods[] = {
    {"blob", (PyCFunction)Fps_blob, METH_NOARGS,
     "The fingerprints in the tree's order, for CodeFingerprints(code, blob) "
     "on an unmarshalled copy of the code."},
    {"get", (PyCFunction)Fps_get, METH_O,
     "The fingerprint of a code object of the tree (bytes), or None."},
    {NULL}
};

static PySequenceMethods Fps_as_sequence = {
    .sq_length = (lenfunc)Fps_len,
};

static PyTypeObject FpsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "reloader._core.CodeFingerprints",
    .tp_doc = "CodeFingerprints(code, fingerprints=None): the fingerprints of "
              "a code object and the code inside it, computed, or taken from "
              "the blob() of an equal tree. A reload given them tells "
              "unchanged definitions without reading their old code.",
    .tp_basicsize = sizeof(rl_fps),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = Fps_new,
    .tp_dealloc = (destructor)Fps_dealloc,
    .tp_methods = Fps_methods,
    .tp_as_sequence = &Fps_as_sequence,
};

int
rl_fingerprint_init_type(PyObject *module)
{
    if (PyType_Ready(&FpsType) < 0) {
        return -1;
    }
    rl_st.FpsType = &FpsType;
    return PyModule_AddObjectRef(module, "CodeFingerprints", (PyObject *)&FpsType);
}
