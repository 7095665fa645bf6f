/* cursor.c: look the keys of one dict up in another that was filled in the
 * same order. A module or class body run again binds its names in the order
 * it did before, so the entry under the cursor is almost always the very key
 * asked for (interned names: the same object), and no hash lookup is needed.
 * Any other key falls back to a lookup; the answers are those of
 * PyDict_GetItemWithError either way. */
#include "reloader.h"

static void
step(rl_cursor *c)
{
    if (!PyDict_Next(c->dict, &c->pos, &c->key, &c->value)) {
        c->key = c->value = NULL;
    }
}

void
rl_cursor_init(rl_cursor *c, PyObject *dict)
{
    c->dict = dict;
    c->pos = 0;
    c->found = 0;
    c->wait = c->backoff = 0;
    step(c);
}

PyObject *
rl_cursor_get(rl_cursor *c, PyObject *key)
{
    PyObject *v;
    if (key == c->key) {
        v = c->value;
        c->found++;
        step(c);
        return v;
    }
    v = PyDict_GetItemWithError(c->dict, key);
    if (v == NULL) {
        return NULL;
    }
    c->found++;
    if (c->wait > 0) {
        c->wait--;
        return v;
    }
    /* the cursor may have fallen behind (entries only this dict has, or
     * the import attributes in another order): catch up a few entries, else
     * stay where it was and try again less often */
    Py_ssize_t pos = c->pos;
    PyObject *k = c->key, *val = c->value;
    for (int i = 0; i < 16 && c->key != NULL; i++) {
        step(c);
        if (c->key == key) {
            step(c);
            c->backoff = 0;
            return v;
        }
    }
    c->pos = pos;
    c->key = k;
    c->value = val;
    c->backoff = c->backoff ? c->backoff * 2 : 1;
    c->wait = c->backoff;
    return v;
}

int
rl_cursor_saw_all(const rl_cursor *c)
{
    return c->found == PyDict_GET_SIZE(c->dict);
}

/* walks: pass 0 keeps what pass 1 must see ********************************/

int
rl_walk_keep(rl_walk *w, Py_ssize_t pos, PyObject *key)
{
    if (w->n == w->cap) {
        Py_ssize_t cap = w->cap ? w->cap * 2 : 8;
        rl_todo *items = PyMem_Realloc(w->items, cap * sizeof *items);
        if (items == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        w->items = items;
        w->cap = cap;
    }
    w->items[w->n].pos = pos;
    w->items[w->n].key = key;
    w->n++;
    return 0;
}

void
rl_walk_finish(rl_walk *w, PyObject *ndict, const rl_cursor *old)
{
    w->nsize = PyDict_GET_SIZE(ndict);
    w->osize = PyDict_GET_SIZE(old->dict);
    w->saw_all = rl_cursor_saw_all(old);
    w->done = 1;
}

void
rl_walk_clear(rl_walk *w)
{
    PyMem_Free(w->items);
    memset(w, 0, sizeof *w);
}

/* Whether the dicts are as the walk left them: same sizes, and each kept
 * position still yields its key. No code should change them between the
 * passes; if some did, pass 1 sees every entry, as it would without w. */
static int
walk_holds(const rl_walk *w, PyObject *ndict, PyObject *odict)
{
    if (!w->done || PyDict_GET_SIZE(ndict) != w->nsize
        || PyDict_GET_SIZE(odict) != w->osize) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < w->n; i++) {
        Py_ssize_t pos = w->items[i].pos;
        PyObject *k, *v;
        if (!PyDict_Next(ndict, &pos, &k, &v) || k != w->items[i].key) {
            return 0;
        }
    }
    return 1;
}

void
rl_rewalk_init(rl_rewalk *r, const rl_walk *w, PyObject *ndict,
               PyObject *odict)
{
    r->ndict = ndict;
    r->odict = odict;
    r->i = r->pos = 0;
    if (w != NULL && walk_holds(w, ndict, odict)) {
        r->items = w->items;
        r->n = w->n;
        r->saw_all = w->saw_all;
    }
    else {
        r->items = NULL;
        r->n = 0;
        r->saw_all = 0;
        rl_cursor_init(&r->cur, odict);
    }
}

int
rl_rewalk_next(rl_rewalk *r, PyObject **key, PyObject **nv, PyObject **ov)
{
    if (r->items != NULL) {
        if (r->i == r->n) {
            return 0;
        }
        Py_ssize_t pos = r->items[r->i++].pos;
        if (!PyDict_Next(r->ndict, &pos, key, nv)) {
            PyErr_SetString(PyExc_RuntimeError, "namespace changed during "
                                                "the plan");
            return -1;
        }
        *ov = PyUnicode_Check(*key) ? PyDict_GetItemWithError(r->odict, *key)
                                    : NULL;
    }
    else {
        if (!PyDict_Next(r->ndict, &r->pos, key, nv)) {
            r->saw_all = rl_cursor_saw_all(&r->cur);
            return 0;
        }
        *ov = PyUnicode_Check(*key) ? rl_cursor_get(&r->cur, *key) : NULL;
    }
    return *ov == NULL && PyErr_Occurred() ? -1 : 1;
}

int
rl_rewalk_saw_all(const rl_rewalk *r)
{
    return r->saw_all;
}
