/* ptrmap.c: a small open-addressing map from object identity to object.
 * The reload maps thousands of new objects to kept ones; a dict keyed by
 * id() would allocate an int per lookup. Keys and values are held strongly,
 * so no address can be freed and reused while the map lives. */
#include "reloader.h"

/* B1, F=2000: the locality-keeping slot (rl_addr_slot) took lookups from
 * 14% of the plan's time to 7.5%, for ~14% more probing. */
#define PTRMAP_SHIFT 4

static inline size_t
slot_of(const rl_ptrmap *m, PyObject *key)
{
    return rl_addr_slot(key, m->mask, PTRMAP_SHIFT);
}

void *
rl_table_resize(void *old, size_t *mask, size_t cap, size_t size, int shift)
{
    size_t oldcap = old != NULL ? *mask + 1 : 0;
    char *slots = PyMem_Calloc(cap, size), *from = old;
    if (slots == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (size_t i = 0; i < oldcap; i++) {
        PyObject *key;
        memcpy(&key, from + i * size, sizeof key);
        if (key != NULL) {
            size_t j = rl_addr_slot(key, cap - 1, shift);
            PyObject *there;
            while (memcpy(&there, slots + j * size, sizeof there), there != NULL) {
                j = (j + 1) & (cap - 1);
            }
            memcpy(slots + j * size, from + i * size, size);
        }
    }
    PyMem_Free(old);
    *mask = cap - 1;
    return slots;
}

size_t
rl_table_want(const void *slots, size_t mask, size_t used, size_t n)
{
    size_t cap = slots != NULL ? mask + 1 : 0, want = 256;
    while (want < 2 * (used + n)) {
        want *= 2;
    }
    return want > cap ? want : 0;
}

static int
grow_to(rl_ptrmap *m, size_t cap)
{
    rl_ptrmap_slot *slots = rl_table_resize(m->slots, &m->mask, cap,
                                            sizeof *slots, PTRMAP_SHIFT);
    if (slots == NULL) {
        return -1;
    }
    m->slots = slots;
    return 0;
}

static int
grow(rl_ptrmap *m)
{
    return grow_to(m, m->mask ? (m->mask + 1) * 2 : 256);
}

int
rl_ptrmap_reserve(rl_ptrmap *m, size_t n)
{
    size_t want = rl_table_want(m->slots, m->mask, m->used, n);
    return want ? grow_to(m, want) : 0;
}

PyObject *
rl_ptrmap_get(const rl_ptrmap *m, PyObject *key)
{
    if (m->slots == NULL) {
        return NULL;
    }
    for (size_t j = slot_of(m, key);; j = (j + 1) & m->mask) {
        if (m->slots[j].key == key) {
            return m->slots[j].value;
        }
        if (m->slots[j].key == NULL) {
            return NULL;
        }
    }
}

int
rl_ptrmap_put(rl_ptrmap *m, PyObject *key, PyObject *value)
{
    if ((m->used + 1) * 2 > (m->mask ? m->mask + 1 : 0) && grow(m) < 0) {
        return -1;
    }
    size_t j = slot_of(m, key);
    while (m->slots[j].key != NULL && m->slots[j].key != key) {
        j = (j + 1) & m->mask;
    }
    if (m->slots[j].key == NULL) {
        m->slots[j].key = Py_NewRef(key);
        m->used++;
    }
    else {
        Py_DECREF(m->slots[j].value);
    }
    m->slots[j].value = Py_NewRef(value);
    return 0;
}

void
rl_ptrmap_clear(rl_ptrmap *m)
{
    rl_ptrmap_slot *slots = m->slots;
    size_t cap = m->mask ? m->mask + 1 : 0;
    m->slots = NULL;
    m->mask = 0;
    m->used = 0;
    for (size_t i = 0; i < cap; i++) {
        Py_XDECREF(slots[i].key);
        Py_XDECREF(slots[i].value);
    }
    PyMem_Free(slots);
}
