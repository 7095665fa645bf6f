/* floorwalk.c: the floor for B3, built by the benchmark (bench/driver.py)
 * into bench/out/; not part of reloader.
 *
 * walk()              one PyUnstable_GC_VisitObjects pass that only counts
 * find_exact(types)   the same pass, appending objects whose exact type is
 *                     one of `types` (a tuple) to a list
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* PyUnstable_GC_VisitObjects stops when the callback returns 0. */
static int
count_cb(PyObject *op, void *arg)
{
    (void)op;
    ++*(Py_ssize_t *)arg;
    return 1; /* continue */
}

static PyObject *
fw_walk(PyObject *self, PyObject *noargs)
{
    Py_ssize_t n = 0;

    (void)self;
    (void)noargs;
    PyUnstable_GC_VisitObjects(count_cb, &n);
    return PyLong_FromSsize_t(n);
}

typedef struct {
    PyObject *types; /* borrowed tuple */
    PyObject *out;   /* borrowed list */
    int failed;
} find_state;

static int
find_cb(PyObject *op, void *arg)
{
    find_state *st = arg;
    PyObject *tp = (PyObject *)Py_TYPE(op);
    Py_ssize_t n = PyTuple_GET_SIZE(st->types);

    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyTuple_GET_ITEM(st->types, i) == tp) {
            if (PyList_Append(st->out, op) < 0) {
                st->failed = 1;
                return 0; /* stop */
            }
            break;
        }
    }
    return 1;
}

static PyObject *
fw_find_exact(PyObject *self, PyObject *types)
{
    find_state st = {types, NULL, 0};

    (void)self;
    if (!PyTuple_Check(types)) {
        PyErr_SetString(PyExc_TypeError, "find_exact() takes a tuple of types");
        return NULL;
    }
    st.out = PyList_New(0);
    if (st.out == NULL) {
        return NULL;
    }
    PyUnstable_GC_VisitObjects(find_cb, &st);
    if (st.failed) {
        Py_DECREF(st.out);
        return NULL;
    }
    return st.out;
}

static PyMethodDef fw_methods[] = {
    {"walk", fw_walk, METH_NOARGS, "Count the GC-tracked objects in one pass."},
    {"find_exact", fw_find_exact, METH_O,
     "Objects whose exact type is in the tuple, in one pass."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef fw_module = {
    PyModuleDef_HEAD_INIT, "_floorwalk", NULL, -1, fw_methods,
};

PyMODINIT_FUNC
PyInit__floorwalk(void)
{
    return PyModule_Create(&fw_module);
}
