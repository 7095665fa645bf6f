/* compat.h: every PY_VERSION_HEX test and every CPython-internals accessor
 * lives here, so the rest of the core reads the same on 3.10 to 3.13. */
#ifndef RL_COMPAT_H
#define RL_COMPAT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if PY_VERSION_HEX < 0x030A0000
#error "reloader needs CPython 3.10 or newer"
#endif

#define RL_PY311 (PY_VERSION_HEX >= 0x030B0000)
#define RL_PY312 (PY_VERSION_HEX >= 0x030C0000)
#define RL_PY313 (PY_VERSION_HEX >= 0x030D0000)
#define RL_PY314 (PY_VERSION_HEX >= 0x030E0000)

#ifndef Py_TPFLAGS_MANAGED_DICT
#define Py_TPFLAGS_MANAGED_DICT 0  /* 3.10: every __dict__ is at tp_dictoffset */
#endif

#ifdef Py_GIL_DISABLED
#error "reloader does not support the free-threaded build yet (see README)"
#endif

/* 3.13 exports this private setter (Include/internal/pycore_function.h).
 * After a __code__ change, 3.13 never gives a function a version again, so
 * it is never specialised again (CPYTHON-NOTES E2, E21); setting the version
 * from the code object is what MAKE_FUNCTION does. 3.13 only. */
#if RL_PY313 && !RL_PY314
PyAPI_FUNC(void) _PyFunction_SetVersion(PyFunctionObject *func,
                                        uint32_t version);
#endif

/* A saved exception, for cleanup that must not clobber the one in flight. */
typedef struct {
#if RL_PY312
    PyObject *exc;
#else
    PyObject *type, *value, *tb;
#endif
} rl_exc;

static inline void
rl_exc_save(rl_exc *e)
{
#if RL_PY312
    e->exc = PyErr_GetRaisedException();
#else
    PyErr_Fetch(&e->type, &e->value, &e->tb);
#endif
}

/* Whether rl_exc_save saved an exception. */
static inline int
rl_exc_pending(const rl_exc *e)
{
#if RL_PY312
    return e->exc != NULL;
#else
    return e->type != NULL;
#endif
}

static inline void
rl_exc_restore(rl_exc *e)
{
#if RL_PY312
    PyErr_SetRaisedException(e->exc);
#else
    PyErr_Restore(e->type, e->value, e->tb);
#endif
}

/* The interpreter caches specialised calls by function version. Any raw
 * write to a function's code, closure or globals must reset it first:
 * without the reset, 3.11-3.13 crash (CPYTHON-NOTES E3, E4). */
static inline void
rl_func_reset_version(PyFunctionObject *f)
{
#if RL_PY312
    PyFunction_SetVectorcall(f, f->vectorcall);
#elif RL_PY311
    f->func_version = 0;
#else
    (void)f;
#endif
}

/* After the last write to a function in a commit: on 3.13 give it its code's
 * version again so that call sites specialise again. */
static inline void
rl_func_respecialise(PyFunctionObject *f)
{
#if RL_PY313 && !RL_PY314
    _PyFunction_SetVersion(f, ((PyCodeObject *)f->func_code)->co_version);
#else
    (void)f;
#endif
}

/* 3.13 caps each class at 1000 version tags (MAX_VERSIONS_PER_CLASS); every
 * reload spends one per patched class, so a class reloaded 1000 times would
 * lose attribute specialisation for good (CPYTHON-NOTES E19). The cap guards
 * against classes modified in a hot loop, which a reload is not. */
static inline void
rl_type_refund_versions(PyTypeObject *t)
{
#if RL_PY313
    t->tp_versions_used = 0;
#else
    (void)t;
#endif
}

/* Bytecode without specialisations, as a new reference. */
static inline PyObject *
rl_code_bytes(PyCodeObject *co)
{
#if RL_PY311
    return PyCode_GetCode(co);
#else
    return Py_NewRef(co->co_code);
#endif
}

/* 3.10/3.11 strings made by the legacy C API may not be "ready" (no kind
 * or data yet); 3.12 removed them. 0 on success, -1 + exception. */
static inline int
rl_str_ready(PyObject *s)
{
#if RL_PY312
    (void)s;
    return 0;
#else
    return PyUnicode_READY(s);
#endif
}

#if RL_PY311
/* Opcode and oparg of code unit i of the adaptive (specialised) bytecode.
 * 3.12+ lays a unit out as {uint8 code; uint8 arg} (3.13 keeps the type
 * internal); 3.11 as a uint16 read through its macros. */
static inline unsigned
rl_unit_op(PyCodeObject *co, Py_ssize_t i)
{
#if RL_PY312
    return (unsigned char)co->co_code_adaptive[2 * i];
#else
    return _Py_OPCODE(((const _Py_CODEUNIT *)co->co_code_adaptive)[i]);
#endif
}

static inline unsigned
rl_unit_arg(PyCodeObject *co, Py_ssize_t i)
{
#if RL_PY312
    return (unsigned char)co->co_code_adaptive[2 * i + 1];
#else
    return _Py_OPARG(((const _Py_CODEUNIT *)co->co_code_adaptive)[i]);
#endif
}
#endif

/* Fast path for comparing bytecode: identical raw (quickened) bytes mean
 * identical bytecode. Code that ran differs here and takes the slow path. */
static inline int
rl_code_raw_equal(PyCodeObject *a, PyCodeObject *b)
{
#if RL_PY311
    /* Py_SIZE of a code object counts 2-byte code units (3.11+) */
    return Py_SIZE(a) == Py_SIZE(b)
           && memcmp(a->co_code_adaptive, b->co_code_adaptive,
                     (size_t)Py_SIZE(a) * 2) == 0;
#else
    (void)a;
    (void)b;
    return 0;
#endif
}

static inline int
rl_code_nfree(PyCodeObject *co)
{
#if RL_PY311
    return co->co_nfreevars;
#else
    return (int)PyTuple_GET_SIZE(co->co_freevars);
#endif
}

/* The object a weak reference points to (new reference), or NULL when it
 * is gone; never an exception. 3.13 deprecates PyWeakref_GetObject. */
static inline PyObject *
rl_weakref_get(PyObject *ref)
{
#if PY_VERSION_HEX >= 0x030D0000
    PyObject *o = NULL;
    if (PyWeakref_GetRef(ref, &o) < 0) {
        PyErr_Clear();
        return NULL;
    }
    return o;
#else
    PyObject *o = PyWeakref_GetObject(ref);  // borrowed
    if (o == NULL) {
        PyErr_Clear();
        return NULL;
    }
    return o == Py_None ? NULL : Py_NewRef(o);
#endif
}

static inline int
rl_weakref_alive(PyObject *ref)
{
    PyObject *o = rl_weakref_get(ref);
    Py_XDECREF(o);
    return o != NULL;
}

/* A function's __type_params__ (PEP 695, 3.12+), borrowed: a tuple, or
 * NULL for none (and always before 3.12). */
static inline PyObject *
rl_func_typeparams(PyFunctionObject *f)
{
#if RL_PY312
    return f->func_typeparams;
#else
    (void)f;
    return NULL;
#endif
}

/* co_freevars as a new reference. */
static inline PyObject *
rl_code_freevars(PyCodeObject *co)
{
#if RL_PY311
    return PyObject_GetAttrString((PyObject *)co, "co_freevars");
#else
    return Py_NewRef(co->co_freevars);
#endif
}

/* The names of all locals, cells and free variables, in the order opargs
 * of *_DEREF index them (new reference). 3.10 indexes cells+frees only. */
static inline PyObject *
rl_code_deref_names(PyCodeObject *co)
{
#if RL_PY311
    return Py_NewRef(co->co_localsplusnames);
#else
    return PySequence_Concat(co->co_cellvars, co->co_freevars);
#endif
}

/* The exception table (3.11+; borrowed), or NULL on 3.10. */
static inline PyObject *
rl_code_exceptiontable(PyCodeObject *co)
{
#if RL_PY311
    return co->co_exceptiontable;
#else
    (void)co;
    return NULL;
#endif
}

#endif /* RL_COMPAT_H */
