/* reap.c: free a batch's leftover code a little at a time.
 *
 * A reload compiles the whole module again, but only the definitions that
 * changed take their new code: the rest of the new code tree (the module's
 * code object and every code object inside it) is garbage once the batch is
 * done. For 2,000 definitions, freeing that tree in one go takes 0.55-0.8
 * times as long as executing the module (bench/RESULTS.md, sixth round).
 * reloader/_reap.py frees it in slices through rl_reap, on a thread that
 * lets the GIL go between slices, so no thread is held for a whole tree. */
#include "reloader.h"

/* Push the code objects in code's constants onto stack. 0 or -1. */
static int
push_nested(PyObject *stack, PyObject *code)
{
    PyObject *consts = ((PyCodeObject *)code)->co_consts;  // borrowed
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts); i++) {
        PyObject *c = PyTuple_GET_ITEM(consts, i);  // borrowed
        if (PyCode_Check(c) && PyList_Append(stack, c) < 0) {
            return -1;
        }
    }
    return 0;
}

/* What freeing code costs, in objects it touches: dropping its constants
 * and names reads each one's reference count, and a module's code holds
 * thousands of them (its dealloc takes 0.3 ms, cold, at 2,000 functions). */
static Py_ssize_t
reap_cost(PyObject *code)
{
    PyCodeObject *co = (PyCodeObject *)code;
    return 1 + PyTuple_GET_SIZE(co->co_consts) + PyTuple_GET_SIZE(co->co_names);
}

Py_ssize_t
rl_reap(PyObject *stack, Py_ssize_t budget, int strict)
{
    Py_ssize_t spent = 0, done = 0;
    while (PyList_GET_SIZE(stack) > 0) {
        Py_ssize_t n = PyList_GET_SIZE(stack);
        PyObject *obj = PyList_GET_ITEM(stack, n - 1);  // borrowed
        /* Only a tree nobody else holds is split: code that went into a
         * live function stays whole, and so does everything under it. */
        int split = PyCode_Check(obj) && Py_REFCNT(obj) == 1;
        Py_ssize_t cost = split ? reap_cost(obj) : 1;
        if (spent + cost > budget && (strict || done > 0)) {
            break;
        }
        /* Pop it, the list's reference becoming ours. Not PyList_SetSlice:
         * shrinking the list's storage can fail to allocate, and a batch
         * that was applied must not end in a MemoryError here. */
        PyList_SET_ITEM(stack, n - 1, NULL);
        Py_SET_SIZE(stack, n - 1);
        if (split && push_nested(stack, obj) < 0) {
            /* No room to split it: it goes in one piece below, as it would
             * have without the reaper. Nothing is lost but the slicing. */
            PyErr_Clear();
        }
        Py_DECREF(obj);
        spent += cost;
        done++;
    }
    return done;
}
