/* reloader.h: the core's shared state, types and cross-file prototypes. */
#ifndef RL_RELOADER_H
#define RL_RELOADER_H

#include "compat.h"

/* Interpreter-wide state of the core (single-phase init: one interpreter). */
typedef struct {
    /* interned names */
    PyObject *str_name;          /* "__name__" */
    PyObject *str_name_attr;     /* "name" (ModuleSpec.name) */
    PyObject *str_qualname;      /* "__qualname__" */
    PyObject *str_module;        /* "__module__" */
    PyObject *str_doc;           /* "__doc__" */
    PyObject *str_type_params;   /* "__type_params__" */
    PyObject *empty_tuple;       /* () */
    PyObject *str_class;         /* "__class__" */
    PyObject *str_bases;         /* "__bases__" */
    PyObject *str_slots;         /* "__slots__" */
    PyObject *str_dict;          /* "__dict__" */
    PyObject *str_weakref;       /* "__weakref__" */
    PyObject *str_wrapped;       /* "__wrapped__" */
    PyObject *str_init;          /* "__init__" */
    PyObject *str_builtins;      /* "__builtins__" */
    PyObject *str_path;          /* "__path__" */
    PyObject *str_reload_data;   /* "__reload_data__" */
    PyObject *str_reload_data1;  /* "_reload_data" */
    PyObject *str_reload_all;    /* "__reload_all_data__" */
    PyObject *str_reload_all1;   /* "_reload_all_data" */
    PyObject *str_member_map;    /* "_member_map_" */
    PyObject *str_member_names;  /* "_member_names_" */
    PyObject *str_value2member;  /* "_value2member_map_" */
    PyObject *str_value_;        /* "_value_" */
    PyObject *str_name_;         /* "_name_" (enum members) */
    PyObject *str_new;           /* "__new__" */
    PyObject *str_func;          /* "func" (cached_property) */
    PyObject *str_dispatcher;    /* "dispatcher" (singledispatchmethod) */
    PyObject *str_spec;          /* "__spec__" */
    PyObject *str_initializing;  /* "_initializing" (ModuleSpec) */
    PyObject *str_all;           /* "__all__" */
    PyObject *str_cache_clear;   /* "cache_clear" */
    PyObject *str_cache_params;  /* "cache_parameters" */
    PyObject *str_lambda;        /* "<lambda>" */
    PyObject *str_locals;        /* "<locals>" */
    PyObject *str_has_location;  /* "has_location" */
    PyObject *str_search_locs;   /* "submodule_search_locations" */
    PyObject *import_dunders;    /* frozenset: names the import system (or
                                  * warnings) owns: never touched */
    PyObject *class_skip;        /* frozenset: class keys CPython manages */
    PyObject *str_annotations;   /* "__annotations__" */
    PyObject *str_dunder_func;   /* "__func__" */
    PyObject *str_abc_impl;      /* "_abc_impl" */
    PyObject *str_fields;        /* "_fields" (named tuples) */
    PyObject *str_args, *str_keywords;  /* partialmethod's */
    PyObject *str_fget, *str_fset, *str_fdel;
    PyObject *str_instrumented;  /* "INSTRUMENTED_" */
    /* types and callables resolved once at import */
    PyObject *ModuleSpec;            /* importlib.machinery.ModuleSpec */
    PyTypeObject *lru_wrapper_type;  /* functools._lru_cache_wrapper */
    PyTypeObject *sdm_type;          /* functools.singledispatchmethod */
    PyTypeObject *partialmethod_type;
    PyTypeObject *union_type;      /* types.UnionType (K | None) */
    PyObject *dataclass_field;     /* dataclasses.Field, found when first needed */
    PyObject *typing_alias;        /* typing._GenericAlias, likewise */
    /* _abc's helpers: a changed ABC's caches and registrations */
    PyObject *abc_reset_caches, *abc_get_dump, *abc_register;
    PyTypeObject *cached_property_type;
    PyTypeObject *enum_meta;         /* enum.EnumType / EnumMeta */
    PyTypeObject *member_descr_type; /* type of a __slots__ member */
    PyTypeObject *TxnType;
    PyTypeObject *FinderType;
    PyTypeObject *FpsType;           /* CodeFingerprints */
    int op_store_deref, op_delete_deref, op_extended_arg;
    /* the thread running a batch, and how deep */
    unsigned long reloading_thread;
    int reloading_depth;
    /* shadow globals dicts of finished batches, emptied and kept: frames of
     * generators made while a batch ran may still borrow them (NOTES §1.6) */
    PyObject *retired;
    PyObject *followers;  /* weakref(kept function) -> [weakref(copy), ...] */
#if RL_PY312
    int func_watcher;            /* -1 when not added */
#endif
    struct rl_txn *collecting;   /* the batch whose new functions we note */
} rl_state;

extern rl_state rl_st;

/* Fields of a function that one RL_SWAP_FUNC may replace. */
enum {
    RL_F_CODE,
    RL_F_CLOSURE,
    RL_F_DEFAULTS,
    RL_F_KWDEFAULTS,
    RL_F_ANNOTATIONS,
    RL_F_DOC,
    RL_F_TYPEPARAMS,  /* __type_params__ (3.12+) */
    RL_F_COUNT
};

typedef enum {
    RL_SWAP_FUNC,     /* fields of a function (mask says which) */
    RL_SWAP_GLOBALS,  /* a function's __globals__ */
    RL_SWAP_TYPEATTR, /* a class attribute; val NULL deletes */
    RL_SWAP_DICT,     /* a dict item; val NULL deletes */
    RL_SWAP_CELL,     /* a cell's contents */
    RL_SWAP_BASES,    /* a class's __bases__ */
    RL_SWAP_TOUCH,    /* PyType_Modified on a class whose method changed */
    RL_SWAP_ATTR      /* an attribute of a builtin descriptor (no user code) */
} rl_swap_kind;

typedef struct {
    rl_swap_kind kind;
    unsigned mask;                 /* RL_SWAP_FUNC: 1 << RL_F_* to write */
    PyObject *target;              /* strong */
    PyObject *key;                 /* strong or NULL */
    PyObject *val[RL_F_COUNT];     /* new values, strong or NULL */
    PyObject *old[RL_F_COUNT];     /* values before the commit, strong */
    int applied;
} rl_swap;

/* Identity map (ptrmap.c): object -> object, both held strongly. */
typedef struct {
    PyObject *key, *value;
} rl_ptrmap_slot;

typedef struct {
    rl_ptrmap_slot *slots;
    size_t mask;  /* capacity - 1, or 0 when empty */
    size_t used;
} rl_ptrmap;

/* A table slot for an object's address. Objects made one after another
 * sit close together and are looked up in that order: keeping nearby
 * addresses in nearby slots makes those lookups walk the table instead of
 * missing the cache on each. Higher bits are folded in so that objects a
 * table's span apart do not pile up in one run. */
static inline size_t
rl_addr_slot(const void *key, size_t mask, int shift)
{
    uintptr_t p = (uintptr_t)key >> shift;
    return (size_t)(p ^ (p >> 15) ^ (p >> 30)) & mask;
}

/* Open-addressing tables whose slots start with the key, with a capacity
 * mask (ptrmap.c): a zeroed table of cap slots of size bytes holding old's
 * entries, *mask set to cap - 1 and old freed, or NULL + MemoryError (old
 * and *mask kept); and the capacity to grow to so that n more entries fit
 * at half load, or 0 when they already do. */
void *rl_table_resize(void *old, size_t *mask, size_t cap, size_t size, int shift);
size_t rl_table_want(const void *slots, size_t mask, size_t used, size_t n);

PyObject *rl_ptrmap_get(const rl_ptrmap *m, PyObject *key);  /* borrowed */
int rl_ptrmap_put(rl_ptrmap *m, PyObject *key, PyObject *value);
/* Room for n more entries without growing. 0 or -1. */
int rl_ptrmap_reserve(rl_ptrmap *m, size_t n);
void rl_ptrmap_clear(rl_ptrmap *m);  /* may run __del__ */

/* Fingerprints of code (code.c, fingerprint.c): 128 bits over what a
 * reload compares (rl_code_compare), positions included. {0, 0} is none. */
typedef struct {
    uint64_t a, b;
} rl_fp;

typedef struct {
    PyObject *key;
    rl_fp fp;
} rl_fpslot;

/* code object -> fingerprint; keys strong when owns is set */
typedef struct {
    rl_fpslot *slots;
    size_t mask;  /* capacity - 1, or 0 when empty */
    size_t used;
    int owns;
} rl_fpmap;

/* What pass 0 learnt walking a new namespace (module or class dict) against
 * the old one, for pass 1 (cursor.c): the entries pass 1 must look at, since
 * every other one is a kept definition that pass 1 passes over, and whether
 * every old name is bound again. */
typedef struct {
    Py_ssize_t pos;   /* the PyDict_Next position that yields the entry */
    PyObject *key;    /* borrowed, checked against the dict before use */
} rl_todo;

typedef struct {
    rl_todo *items;   /* PyMem */
    Py_ssize_t n, cap;
    Py_ssize_t nsize, osize;  /* the dicts' sizes when the walk ended */
    int done;         /* the walk ran to its end */
    int saw_all;
} rl_walk;

/* Two definitions found to be one: new's definition goes into old. */
typedef struct {
    PyObject *old, *new;  /* strong */
    PyObject *name;       /* strong: the name it is bound to, or NULL when
                           * it is reported through its parent */
    PyObject *prefix;     /* strong: module name for a top-level pair */
    Py_ssize_t parent;    /* index of the enclosing pair, or -1 */
    int kind;             /* RL_K_FUNC, RL_K_CLASS or RL_K_WRAPPER */
    int changed;
    int restart;          /* class left as it was (restart required) */
    rl_walk walk;         /* a class's dict walk in pass 0 */
} rl_pairrec;

/* One module of a batch. */
typedef struct {
    PyObject *name;    /* str */
    PyObject *module;  /* the live module, kept */
    PyObject *code;    /* compiled new source */
    PyObject *path;    /* str */
    PyObject *shadow;  /* module the new code ran in, or NULL */
    PyObject *snapshot; /* copy of the live dict at commit, or NULL */
    PyObject *fps;     /* CodeFingerprints of code, or NULL */
    PyObject *lock;    /* the module's import lock while held, or NULL */
    PyObject *spec;    /* the live __spec__ marked initializing, or NULL */
    PyObject *spec_was; /* its _initializing before that, or NULL (none) */
    int state;         /* 0 pending, 1 executing, 2 executed */
    int same_source;   /* the source is the one the module runs */
    rl_walk walk;      /* the module dict's walk in pass 0 */
} rl_entry;

typedef struct rl_txn {
    PyObject_HEAD
    Py_ssize_t n;
    rl_entry *entries;
    PyObject *by_name;   /* dict: name -> index */
    PyObject *order;     /* list of names in execution order */
    PyObject *failed;    /* str or NULL */
    PyObject *failure;   /* the first exception of module code, or NULL */
    rl_ptrmap map;       /* new object -> kept object */
    PyObject *created;   /* list: functions made while executing */
    PyObject *classes;   /* list: kept and added classes of the batch */
    rl_ptrmap cellmap;   /* new cell -> fresh cell */
    rl_ptrmap opted;     /* new values of opted-in names -> themselves */
    rl_ptrmap copies;    /* tuple or frozenset -> its copy holding kept objects */
    rl_ptrmap resolved;  /* new class -> dict: the new source's values of the
                          * data that shows the kept values, or None when
                          * it has none (klass.c) */
    PyObject *hook;      /* our builtins.__import__ while it is installed */
    PyObject *hook_orig; /* the __import__ it wraps */
    PyObject *hook_on;   /* [True]: the hook's switch, shared with it */
    rl_ptrmap code_parents; /* new code -> the code that defines it */
    int have_parents;
    int mon_tools;       /* sys.monitoring tools in use, bit per id, + 1 << 6
                          * once looked up (function.c) */
    PyObject *post;      /* list: callables to run after the commit */
    PyObject *hook_snap; /* list of (class or function, copy of its dict)
                          * before a commit with hooks, or NULL */
    PyObject *handed;    /* list: paired new functions that are not methods:
                          * what module code may hand out (followers) */
    PyObject *fresh;     /* list: names, then modules, first imported by the
                          * batch's module code (finder.c, txn.c) */
    /* the plan's report */
    PyObject *updated, *added, *removed, *data_replaced, *restart;
    rl_swap *swaps;
    Py_ssize_t nswaps, capswaps;
    rl_pairrec *pairs;
    Py_ssize_t npairs, cappairs;
    PyObject *cur_module;  /* borrowed: the module being planned */
    PyObject *cur_fps;     /* borrowed: its CodeFingerprints, or NULL */
    int phase;           /* RL_PHASE_* */
} rl_txn;

enum {
    RL_PHASE_NEW,
    RL_PHASE_EXECUTED,
    RL_PHASE_PLANNED,
    RL_PHASE_COMMITTED,
    RL_PHASE_DONE
};

/* txn.c */
int rl_txn_init_type(PyObject *module);
/* Append a swap; steals nothing. Returns the swap or NULL + exception. */
rl_swap *rl_txn_add(rl_txn *txn, rl_swap_kind kind, PyObject *target,
                    PyObject *key, PyObject *val);
/* Stage a swap of kind on target (key) to what value maps to, when that
 * differs from value. 0 or -1. */
int rl_stage_mapped(rl_txn *txn, rl_swap_kind kind, PyObject *target,
                    PyObject *key, PyObject *value);
/* The kept object a new one stands for (borrowed), or NULL: no exception. */
PyObject *rl_map_lookup(rl_txn *txn, PyObject *newobj);
/* Note that newobj stands for kept. 0 or -1. */
int rl_map_put(rl_txn *txn, PyObject *newobj, PyObject *kept);
/* The value to install for a new value (new reference): kept objects for
 * new functions/classes/modules, instances re-classed. NULL on error. */
PyObject *rl_map_value(rl_txn *txn, PyObject *value);
/* Whether hashing v (and comparing it) runs no user code: a class whose
 * metaclass keeps object's hash, a function, an enum member. */
int rl_hash_is_safe(PyObject *v);
rl_entry *rl_txn_entry(rl_txn *txn, PyObject *name);

/* finder.c */
int rl_finder_init_type(PyObject *module);
PyObject *rl_finder_new(rl_txn *txn);  /* new reference */

/* importhook.c: other threads' imports of batch modules wait while the
 * batch's new code runs; released whatever happened (keeps the error). */
int rl_imports_hold(rl_txn *txn);
void rl_imports_release(rl_txn *txn);

/* code.c */
/* Build the tables that compare bytecode that ran with fresh bytecode
 * (once; without them CPython's comparison form is used). Never fails. */
void rl_code_tables_init(void);
/* Compare two code objects: *differs if behaviour may differ, *moved if
 * only positions differ. 0 or -1. */
int rl_code_compare(PyObject *a, PyObject *b, int *differs, int *moved);
/* The fingerprint of code, with nested code taken from memo where it has
 * them: 1 with *out set, 0 when code has none (a constant or an opcode the
 * fingerprint does not cover), -1 + exception. Equal fingerprints mean
 * rl_code_compare finds neither a difference nor a move. */
int rl_code_fingerprint(PyObject *code, const rl_fpmap *memo, rl_fp *out);

/* fingerprint.c */
int rl_fingerprint_init_type(PyObject *module);
const rl_fp *rl_fpmap_get(const rl_fpmap *m, PyObject *key);
/* The root code of a CodeFingerprints (borrowed). */
PyObject *rl_fps_code(PyObject *fps);
/* The fingerprint fps (a CodeFingerprints, or NULL) has for code, or NULL. */
const rl_fp *rl_fp_offered(PyObject *fps, PyObject *code);
/* The fingerprint known for a live code object, or NULL. */
const rl_fp *rl_fp_known(PyObject *code);
/* Remember code's fingerprint (holds code). Failing to is no error: the
 * next reload compares in full. */
void rl_fp_learn(PyObject *code, const rl_fp *fp);
/* Forget every known fingerprint (for tests and reloader's own reset). */
void rl_fp_forget_all(void);

/* function.c */
/* Whether new is old's definition unchanged, needing nothing staged: 1, 0
 * or -1. */
int rl_function_unchanged(rl_txn *txn, PyObject *old, PyObject *new);
/* Stage new's definition into old. *changed set to 1 when it differs. */
int rl_function_stage(rl_txn *txn, PyObject *old, PyObject *new,
                      int *changed);
/* Stage kept objects into the defaults and cells of a function the new code
 * made and that is bound as it is. 0 or -1. */
int rl_function_fixup(rl_txn *txn, PyObject *f);
/* After a commit: the paired new functions (txn->handed) that are held
 * from outside the batch follow their kept function from now on. Never
 * fails (what cannot be noted is reported as unraisable). */
void rl_followers_note(rl_txn *txn);
/* Stage for kept's followers the patch staged for kept (mask, val). */
int rl_followers_stage(rl_txn *txn, PyObject *kept, unsigned mask,
                       PyObject *const *val);
/* Compare two values without running user code: 1 same, 0 not. */
int rl_same_value(PyObject *a, PyObject *b);
/* int, str, bytes, float, None, ...: values without identity of their own. */
int rl_is_plain_immutable(PyObject *v);

/* klass.c */
/* Stage what an object the new code made needs before it goes live: an
 * added class its kept bases, an added function its kept defaults, a dict
 * its kept values. 0 or -1. */
int rl_stage_new_object(rl_txn *txn, PyObject *v);
/* Pass 1 for class pair idx: stage its dict, bases and enum members. */
int rl_class_stage(rl_txn *txn, Py_ssize_t idx, int *changed);
/* Pass 0 for class pair idx: layout check and member pairing. */
int rl_class_pair(rl_txn *txn, Py_ssize_t idx);
/* After a module's new code ran: its class new, which stands for old, shows
 * old's data (runtime values) to the batch's later modules; what the new
 * source gave goes to txn->resolved for the stage. 0 or -1. */
int rl_class_resolve(rl_txn *txn, PyObject *old, PyObject *new);
/* A kept wrapper (property, cached_property, classmethod, staticmethod, an
 * lru_cache wrapper) takes the new one's copies of its function's __doc__
 * and annotations. 0 or -1. */
int rl_stage_wrapper_copies(rl_txn *txn, PyObject *old, PyObject *new);
/* Report that path (stolen) cannot be applied in place. */
int rl_add_restart(rl_txn *txn, PyObject *path, const char *reason);

/* reap.c */
/* Take objects off the end of stack (a list) and drop them, until their
 * cost (objects touched) reaches budget; strict stops before the object
 * that would pass it, else at least one goes. Code that only the stack
 * holds first puts the code objects among its constants on the stack, so
 * that dropping it frees one code object, not a tree. Returns how many
 * were taken; cannot fail. */
Py_ssize_t rl_reap(PyObject *stack, Py_ssize_t budget, int strict);

/* policy.c */
typedef struct {
    int all;          /* replace all data */
    PyObject *names;  /* set of names to replace, or NULL */
} rl_optin;

/* __reload_data__ and the other opt-in switches, any spelling */
int rl_is_declaration(PyObject *name);
int rl_optin_read(PyObject *ns, rl_optin *out);
void rl_optin_clear(rl_optin *o);
int rl_optin_has(rl_optin *o, PyObject *name);

enum { RL_K_DATA, RL_K_FUNC, RL_K_CLASS, RL_K_MODULE, RL_K_WRAPPER,
       RL_K_BUILTIN };
int rl_kind(PyObject *v);
int rl_is_dunder(PyObject *name);
/* Record that old and new are one definition, and find the definitions
 * inside them (methods, cells, __wrapped__). 0 or -1. */
int rl_pair(rl_txn *txn, PyObject *old, PyObject *new, PyObject *prefix,
            PyObject *name, Py_ssize_t parent);
/* "module.Qual.name" of a pair (new reference), NULL + exception. */
PyObject *rl_pair_path(rl_txn *txn, Py_ssize_t idx);
/* path of pair idx + "." + key (new reference). */
PyObject *rl_pair_subpath(rl_txn *txn, Py_ssize_t idx, PyObject *key);
/* Whether two functions, classes or lru wrappers are the same definition
 * (same module and qualified name). */
int rl_defs_match(PyObject *old, PyObject *new);
/* rl_defs_match, or two functions that both claim module modname (a plain
 * and a functools.wraps wrapper of one definition). */
int rl_funcs_match(PyObject *old, PyObject *new, PyObject *modname);
/* The qualified name of a function or class (borrowed) or NULL. */
PyObject *rl_qualname_of(PyObject *v);
/* The __module__ of a function or class (borrowed) or NULL. */
PyObject *rl_module_of(PyObject *v);
/* After a module's new code ran: data names take their kept values. */
int rl_policy_resolve_shadow(rl_txn *txn, rl_entry *e);
/* Plan one module: pair definitions (pass 0) or bind names (pass 1). */
int rl_policy_plan_module(rl_txn *txn, rl_entry *e, int pass);
/* Kept data of a class (name, in class pair parent) and the value the new
 * code made for it: this module's functions that both hold at the same
 * place are paired, as for module data. 0 or -1. */
int rl_policy_pair_kept_data(rl_txn *txn, PyObject *name, Py_ssize_t parent,
                             PyObject *ov, PyObject *nv);
/* A callable object inside a class's staticmethod, classmethod or property
 * (@staticmethod over @counted): a plain instance of the same class (or
 * definition) on both sides is kept, with its functions paired. 1 kept,
 * 0 not such an object, -1 error. */
int rl_policy_keep_object(rl_txn *txn, PyObject *name, Py_ssize_t parent,
                          PyObject *ov, PyObject *nv);
PyObject *rl_qualify(PyObject *prefix, PyObject *name);  /* "p.n" */

/* cursor.c: lookups in a dict filled in the same order as the one walked */
typedef struct {
    PyObject *dict;         /* borrowed; not changed while the cursor lives */
    Py_ssize_t pos;         /* PyDict_Next position after the current entry */
    PyObject *key, *value;  /* the entry under the cursor, or NULL */
    Py_ssize_t found;       /* keys asked for that the dict has */
    Py_ssize_t wait, backoff; /* catch-up attempts to skip after failures */
} rl_cursor;

void rl_cursor_init(rl_cursor *c, PyObject *dict);
/* dict[key] (borrowed); NULL when absent, NULL + exception on error. Ask
 * for each key once. */
PyObject *rl_cursor_get(rl_cursor *c, PyObject *key);
/* Whether every key of the dict was asked for (none is left over). */
int rl_cursor_saw_all(const rl_cursor *c);

/* Pass 0 walks a new dict with a cursor on the old one and keeps the
 * entries pass 1 must see (0 or -1 + MemoryError); at the end, finish. */
int rl_walk_keep(rl_walk *w, Py_ssize_t pos, PyObject *key);
void rl_walk_finish(rl_walk *w, PyObject *ndict, const rl_cursor *old);
void rl_walk_clear(rl_walk *w);

/* Pass 1 walks the entries pass 0 kept when both dicts are as pass 0 left
 * them, else every entry of the new dict. */
typedef struct {
    PyObject *ndict, *odict;  /* borrowed */
    const rl_todo *items;     /* NULL: every entry */
    Py_ssize_t n, i, pos;
    int saw_all;
    rl_cursor cur;
} rl_rewalk;

void rl_rewalk_init(rl_rewalk *r, const rl_walk *w, PyObject *ndict,
                    PyObject *odict);
/* The next entry: 1 with *key, *nv and *ov (borrowed; *ov NULL when the old
 * dict lacks the key or it is not a str), 0 at the end, -1 + exception. The
 * walk must not outlive w's items. */
int rl_rewalk_next(rl_rewalk *r, PyObject **key, PyObject **nv, PyObject **ov);
/* After the last entry: whether every old name is bound again. */
int rl_rewalk_saw_all(const rl_rewalk *r);

/* heapwalk.c */
PyObject *rl_find_instances(PyObject *classes);  /* new list */
/* the classes (a tuple of them) that define or inherit a non-None
 * attribute name, or have a subclass that does: a new tuple */
PyObject *rl_with_hook(PyObject *classes, PyObject *name);
/* Functions whose __globals__ is one of dicts (new list). */
PyObject *rl_find_functions_with_globals(PyObject *dicts);

#endif /* RL_RELOADER_H */
