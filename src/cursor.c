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
