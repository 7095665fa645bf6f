/* module.c: PyInit__core, the method table and the core's state. */
#include "reloader.h"

rl_state rl_st;

static PyObject *
core_reloading(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(rl_st.reloading_depth > 0
                           && rl_st.reloading_thread
                                  == PyThread_get_thread_ident());
}

static PyObject *
core_enter_reloading(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored))
{
    unsigned long me = PyThread_get_thread_ident();
    if (rl_st.reloading_depth > 0 && rl_st.reloading_thread != me) {
        PyErr_SetString(PyExc_RuntimeError, "another thread is reloading");
        return NULL;
    }
    rl_st.reloading_thread = me;
    rl_st.reloading_depth++;
    Py_RETURN_NONE;
}

static PyObject *
core_exit_reloading(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored))
{
    if (rl_st.reloading_depth <= 0
        || rl_st.reloading_thread != PyThread_get_thread_ident()) {
        PyErr_SetString(PyExc_RuntimeError, "not reloading in this thread");
        return NULL;
    }
    if (--rl_st.reloading_depth == 0) {
        rl_st.reloading_thread = 0;
    }
    Py_RETURN_NONE;
}

static PyObject *
core_find_instances(PyObject *Py_UNUSED(m), PyObject *classes)
{
    if (!PyTuple_Check(classes)) {
        PyErr_SetString(PyExc_TypeError, "find_instances() takes a tuple of "
                                         "classes");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(classes); i++) {
        if (!PyType_Check(PyTuple_GET_ITEM(classes, i))) {
            PyErr_SetString(PyExc_TypeError, "find_instances() takes a tuple "
                                             "of classes");
            return NULL;
        }
    }
    if (PyTuple_GET_SIZE(classes) == 0) {
        return PyList_New(0);
    }
    return rl_find_instances(classes);
}

static PyObject *
core_with_hook(PyObject *Py_UNUSED(m), PyObject *args)
{
    PyObject *classes, *name;
    if (!PyArg_ParseTuple(args, "O!U:with_hook", &PyTuple_Type, &classes, &name)) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(classes); i++) {
        if (!PyType_Check(PyTuple_GET_ITEM(classes, i))) {
            PyErr_SetString(PyExc_TypeError, "with_hook() takes a tuple of classes");
            return NULL;
        }
    }
    return rl_with_hook(classes, name);
}

/* Runs on the main thread at its next safe point, with the GIL. Errors go
 * to sys.unraisablehook: -1 would raise inside whatever the thread runs. */
static int
pending_trampoline(void *arg)
{
    PyObject *fn = arg;
    PyObject *r = PyObject_CallNoArgs(fn);
    if (r == NULL) {
        PyErr_WriteUnraisable(fn);
    }
    Py_XDECREF(r);
    Py_DECREF(fn);
    return 0;
}

static PyObject *
core_add_pending_call(PyObject *Py_UNUSED(m), PyObject *fn)
{
    if (!PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "add_pending_call() needs a callable");
        return NULL;
    }
    Py_INCREF(fn);
    if (Py_AddPendingCall(pending_trampoline, fn) < 0) {
        Py_DECREF(fn);  /* the queue is full: the caller tries again */
        Py_RETURN_FALSE;
    }
    Py_RETURN_TRUE;
}

static PyObject *
core_compare_code(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *a, *b;
    int differs = 0, moved = 0;
    if (!PyArg_ParseTuple(args, "O!O!:compare_code", &PyCode_Type, &a,
                          &PyCode_Type, &b)) {
        return NULL;
    }
    rl_code_tables_init();
    if (rl_code_compare(a, b, &differs, &moved) < 0) {
        return NULL;
    }
    return Py_BuildValue("(NN)", PyBool_FromLong(differs), PyBool_FromLong(moved));
}

static PyObject *
core_known_fingerprint(PyObject *Py_UNUSED(self), PyObject *code)
{
    const rl_fp *fp = rl_fp_known(code);
    if (fp == NULL) {
        Py_RETURN_NONE;
    }
    return PyBytes_FromStringAndSize((const char *)fp, sizeof *fp);
}

static PyObject *
core_forget_fingerprints(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(args))
{
    rl_fp_forget_all();
    Py_RETURN_NONE;
}

static PyObject *
core_reap(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *stack;
    Py_ssize_t budget;
    int strict = 0;
    if (!PyArg_ParseTuple(args, "O!n|p:reap", &PyList_Type, &stack, &budget,
                          &strict)) {
        return NULL;
    }
    if (budget < 0) {
        PyErr_SetString(PyExc_ValueError, "reap() budget must be >= 0");
        return NULL;
    }
    return PyLong_FromSsize_t(rl_reap(stack, budget, strict));
}

static PyMethodDef core_methods[] = {
    {"reloading", core_reloading, METH_NOARGS,
     "True in the thread running a batch, while its code and hooks run."},
    {"enter_reloading", core_enter_reloading, METH_NOARGS, NULL},
    {"exit_reloading", core_exit_reloading, METH_NOARGS, NULL},
    {"find_instances", core_find_instances, METH_O,
     "Live instances of the given classes and their subclasses."},
    {"with_hook", core_with_hook, METH_VARARGS,
     "with_hook(classes, name): those of the classes (a tuple) that define "
     "or inherit a non-None attribute name, or have a subclass that does."},
    {"compare_code", core_compare_code, METH_VARARGS,
     "(differs, moved) as a reload sees two code objects: behaviour, or "
     "only positions."},
    {"known_fingerprint", core_known_fingerprint, METH_O,
     "The fingerprint the core knows for a live code object (bytes), or "
     "None."},
    {"forget_fingerprints", core_forget_fingerprints, METH_NOARGS,
     "Drop every known fingerprint (the next reload compares in full)."},
    {"reap", core_reap, METH_VARARGS,
     "reap(stack, budget, strict=False): drop objects off the end of stack "
     "until their cost reaches budget, splitting code trees that only the "
     "stack holds; how many it took."},
    {"add_pending_call", core_add_pending_call, METH_O,
     "Call fn() on the main thread at its next safe point; False if "
     "CPython's queue is full."},
    {NULL}
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "reloader._core",
    .m_doc = "The C core of reloader: execute, plan, commit.",
    .m_size = -1,
    .m_methods = core_methods,
};

static int
intern(PyObject **slot, const char *s)
{
    *slot = PyUnicode_InternFromString(s);
    return *slot ? 0 : -1;
}

static PyObject *
import_attr(const char *module, const char *attr)
{
    PyObject *m = PyImport_ImportModule(module);
    if (m == NULL) {
        return NULL;
    }
    PyObject *v = PyObject_GetAttrString(m, attr);
    Py_DECREF(m);
    return v;
}

static int
opcode_of(PyObject *opmap, const char *name)
{
    PyObject *v = PyDict_GetItemString(opmap, name);  // borrowed
    return v ? (int)PyLong_AsLong(v) : -1;
}

static int
init_state(void)
{
    if (intern(&rl_st.str_name, "__name__") < 0
        || intern(&rl_st.str_name_attr, "name") < 0
        || intern(&rl_st.str_qualname, "__qualname__") < 0
        || intern(&rl_st.str_module, "__module__") < 0
        || intern(&rl_st.str_doc, "__doc__") < 0
        || intern(&rl_st.str_type_params, "__type_params__") < 0
        || (rl_st.empty_tuple = PyTuple_New(0)) == NULL
        || intern(&rl_st.str_class, "__class__") < 0
        || intern(&rl_st.str_bases, "__bases__") < 0
        || intern(&rl_st.str_slots, "__slots__") < 0
        || intern(&rl_st.str_dict, "__dict__") < 0
        || intern(&rl_st.str_weakref, "__weakref__") < 0
        || intern(&rl_st.str_wrapped, "__wrapped__") < 0
        || intern(&rl_st.str_init, "__init__") < 0
        || intern(&rl_st.str_builtins, "__builtins__") < 0
        || intern(&rl_st.str_path, "__path__") < 0
        || intern(&rl_st.str_reload_data, "__reload_data__") < 0
        || intern(&rl_st.str_reload_data1, "_reload_data") < 0
        || intern(&rl_st.str_reload_all, "__reload_all_data__") < 0
        || intern(&rl_st.str_reload_all1, "_reload_all_data") < 0
        || intern(&rl_st.str_member_map, "_member_map_") < 0
        || intern(&rl_st.str_member_names, "_member_names_") < 0
        || intern(&rl_st.str_value2member, "_value2member_map_") < 0
        || intern(&rl_st.str_value_, "_value_") < 0
        || intern(&rl_st.str_name_, "_name_") < 0
        || intern(&rl_st.str_new, "__new__") < 0
        || intern(&rl_st.str_func, "func") < 0
        || intern(&rl_st.str_dispatcher, "dispatcher") < 0
        || intern(&rl_st.str_spec, "__spec__") < 0
        || intern(&rl_st.str_initializing, "_initializing") < 0
        || intern(&rl_st.str_all, "__all__") < 0
        || intern(&rl_st.str_cache_clear, "cache_clear") < 0
        || intern(&rl_st.str_cache_params, "cache_parameters") < 0
        || intern(&rl_st.str_lambda, "<lambda>") < 0
        || intern(&rl_st.str_locals, "<locals>") < 0
        || intern(&rl_st.str_has_location, "has_location") < 0
        || intern(&rl_st.str_search_locs, "submodule_search_locations") < 0
        || intern(&rl_st.str_annotations, "__annotations__") < 0
        || intern(&rl_st.str_dunder_func, "__func__") < 0
        || intern(&rl_st.str_abc_impl, "_abc_impl") < 0
        || intern(&rl_st.str_fields, "_fields") < 0
        || intern(&rl_st.str_args, "args") < 0
        || intern(&rl_st.str_keywords, "keywords") < 0
        || intern(&rl_st.str_fget, "fget") < 0
        || intern(&rl_st.str_fset, "fset") < 0
        || intern(&rl_st.str_fdel, "fdel") < 0
        || intern(&rl_st.str_instrumented, "INSTRUMENTED_") < 0) {
        return -1;
    }
    {
        /* and the warnings machinery's registry of what was shown: run
         * time state, which importlib.reload keeps too */
        PyObject *names = Py_BuildValue("(sssssssss)", "__name__", "__file__",
                                        "__spec__", "__loader__",
                                        "__package__", "__path__",
                                        "__cached__", "__builtins__",
                                        "__warningregistry__");
        if (names == NULL) {
            return -1;
        }
        rl_st.import_dunders = PyFrozenSet_New(names);
        Py_DECREF(names);
        if (rl_st.import_dunders == NULL) {
            return -1;
        }
    }
    {
        /* class keys CPython manages or that belong to the layout */
        PyObject *names = Py_BuildValue(
            "(ssssssssss)", "__dict__", "__weakref__", "__module__",
            "__qualname__", "__slots__", "__mro__", "__bases__", "__base__",
            "_abc_impl", "__classcell__");
        if (names == NULL) {
            return -1;
        }
        rl_st.class_skip = PyFrozenSet_New(names);
        Py_DECREF(names);
        if (rl_st.class_skip == NULL) {
            return -1;
        }
    }
    rl_st.ModuleSpec = import_attr("importlib.machinery", "ModuleSpec");
    rl_st.lru_wrapper_type = (PyTypeObject *)import_attr("functools",
                                                        "_lru_cache_wrapper");
    rl_st.cached_property_type = (PyTypeObject *)import_attr("functools",
                                                            "cached_property");
    rl_st.sdm_type = (PyTypeObject *)import_attr("functools", "singledispatchmethod");
    rl_st.partialmethod_type = (PyTypeObject *)import_attr("functools", "partialmethod");
    rl_st.enum_meta = (PyTypeObject *)import_attr("enum", "EnumMeta");
    rl_st.abc_reset_caches = import_attr("_abc", "_reset_caches");
    rl_st.abc_get_dump = import_attr("_abc", "_get_dump");
    rl_st.abc_register = import_attr("_abc", "_abc_register");
    rl_st.member_descr_type = (PyTypeObject *)import_attr("types",
                                                         "MemberDescriptorType");
    rl_st.union_type = (PyTypeObject *)import_attr("types", "UnionType");
    PyObject *opmap = import_attr("opcode", "opmap");
    if (rl_st.ModuleSpec == NULL || rl_st.lru_wrapper_type == NULL
        || rl_st.cached_property_type == NULL || rl_st.enum_meta == NULL
        || rl_st.sdm_type == NULL || rl_st.partialmethod_type == NULL
        || rl_st.member_descr_type == NULL || rl_st.union_type == NULL || opmap == NULL
        || rl_st.abc_reset_caches == NULL || rl_st.abc_get_dump == NULL
        || rl_st.abc_register == NULL) {
        Py_XDECREF(opmap);
        return -1;
    }
    rl_st.op_store_deref = opcode_of(opmap, "STORE_DEREF");
    rl_st.op_delete_deref = opcode_of(opmap, "DELETE_DEREF");
    rl_st.op_extended_arg = opcode_of(opmap, "EXTENDED_ARG");
    Py_DECREF(opmap);
    rl_st.retired = PyList_New(0);
    rl_st.followers = PyDict_New();
    if (rl_st.retired == NULL || rl_st.followers == NULL) {
        return -1;
    }
#if RL_PY312
    rl_st.func_watcher = -1;
#endif
    return 0;
}

PyMODINIT_FUNC
PyInit__core(void)
{
    PyObject *m = PyModule_Create(&core_module);
    if (m == NULL) {
        return NULL;
    }
    if (init_state() < 0 || rl_txn_init_type(m) < 0
        || rl_finder_init_type(m) < 0 || rl_fingerprint_init_type(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
