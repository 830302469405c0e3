/*
 * _native.c — the CPython extension shardyfusion._native: a thin binding of include/shardy.h.
 *
 * What it owns: Python objects wrapping libshardy handles (Builder, Reader and, when the
 * distributed API is compiled in, AttemptWriter, Run, CelRouter) and the conversions between Python
 * values and shardy_key / shardy_cel_arg / option structs. No business logic lives here: validation,
 * routing, encoding and I/O are the C core's; the Python package above maps NativeError to the
 * spec's error classes.
 *
 * Invariants:
 *   - Every libshardy failure becomes NativeError(status, status_name, message) where message is
 *     shardy_errmsg() read on the same thread right after the failing call.
 *   - The GIL is released around calls that do I/O or loop over many rows (open, finish, get,
 *     multi_get, refresh, Arrow batches). Strings handed to C while the GIL is released are kept
 *     alive by the Python objects the wrapper holds (opt_holder.keep, key keepers).
 *   - Handles are closed once: a close() while another thread is inside a call on the same object
 *     is deferred until that call returns (busy counter, touched only with the GIL held).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "shardy.h"

#if defined(__GNUC__)
#define SY_UNUSED __attribute__((unused))
#else
#define SY_UNUSED
#endif

static PyObject *NativeError;
static PyObject *json_loads; /* json.loads */
static PyObject *json_dumps; /* json.dumps */

/* ---- errors ----------------------------------------------------------------------------------- */

static const char *status_name(shardy_status st) {
    switch (st) {
    case SHARDY_OK: return "SHARDY_OK";
    case SHARDY_EINVAL: return "SHARDY_EINVAL";
    case SHARDY_ENOMEM: return "SHARDY_ENOMEM";
    case SHARDY_ECLOSED: return "SHARDY_ECLOSED";
    case SHARDY_ERANGE: return "SHARDY_ERANGE";
    case SHARDY_ETYPE: return "SHARDY_ETYPE";
    case SHARDY_EUNSUPPORTED: return "SHARDY_EUNSUPPORTED";
    case SHARDY_EINTERNAL: return "SHARDY_EINTERNAL";
    case SHARDY_EIO: return "SHARDY_EIO";
    case SHARDY_ENOTFOUND: return "SHARDY_ENOTFOUND";
    case SHARDY_EEXIST: return "SHARDY_EEXIST";
    case SHARDY_ESTORE: return "SHARDY_ESTORE";
    case SHARDY_EAUTH: return "SHARDY_EAUTH";
    case SHARDY_ETIMEOUT: return "SHARDY_ETIMEOUT";
    case SHARDY_EFORMAT: return "SHARDY_EFORMAT";
    case SHARDY_EVERSION: return "SHARDY_EVERSION";
    case SHARDY_ESQLITE: return "SHARDY_ESQLITE";
    case SHARDY_EROUTE: return "SHARDY_EROUTE";
    }
    return "SHARDY_EUNKNOWN";
}

/* Raises NativeError for st with message msg (NULL → shardy_errmsg(), or the status text). */
static PyObject *raise_status_msg(shardy_status st, const char *msg) {
    if (!msg || !*msg) msg = shardy_errmsg();
    if (!msg || !*msg) msg = shardy_strerror(st);
    PyObject *exc = PyObject_CallFunction(NativeError, "s", msg);
    if (!exc) return NULL;
    PyObject *code = PyLong_FromLong((long)st);
    PyObject *name = PyUnicode_FromString(status_name(st));
    if (code && name) {
        PyObject_SetAttrString(exc, "status", code);
        PyObject_SetAttrString(exc, "status_name", name);
    }
    Py_XDECREF(code);
    Py_XDECREF(name);
    PyErr_SetObject(NativeError, exc);
    Py_DECREF(exc);
    return NULL;
}

/* Copies shardy_errmsg() right after a failing call (it is thread-local and the next libshardy call
 * replaces it), then raises. */
static PyObject *raise_status(shardy_status st) { return raise_status_msg(st, NULL); }

static PyObject *parse_json(const char *text) {
    if (!text) Py_RETURN_NONE;
    return PyObject_CallFunction(json_loads, "s", text);
}

/* ---- keys ------------------------------------------------------------------------------------- */

/* Converts a Python key. *keeper receives a new reference that keeps key->data alive (or NULL).
 * for_hash: integers must fit int64 (ValueError), as hash routing requires. */
static int py_to_key(PyObject *o, shardy_key *key, PyObject **keeper, int for_hash) {
    *keeper = NULL;
    if (PyLong_Check(o)) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (v == -1 && PyErr_Occurred()) return -1;
        if (!overflow) {
            *key = shardy_key_int((int64_t)v);
            return 0;
        }
        if (overflow > 0 && !for_hash) {
            unsigned long long u = PyLong_AsUnsignedLongLong(o);
            if (!(u == (unsigned long long)-1 && PyErr_Occurred())) {
                *key = shardy_key_uint((uint64_t)u);
                return 0;
            }
            PyErr_Clear();
        }
        if (for_hash) {
            PyErr_Format(PyExc_ValueError, "Integer key %R out of range for 64-bit signed hashing "
                         "(must be in [-2^63, 2^63-1])", o);
            return -1;
        }
        PyObject *r = PyObject_Repr(o);
        const char *rs = r ? PyUnicode_AsUTF8(r) : "?";
        char msg[256];
        snprintf(msg, sizeof msg, "Integer key %.200s out of range (must be in [-2^63, 2^64-1])", rs ? rs : "?");
        Py_XDECREF(r);
        raise_status_msg(SHARDY_ERANGE, msg);
        return -1;
    }
    if (PyUnicode_Check(o)) {
        Py_ssize_t n = 0;
        const char *s = PyUnicode_AsUTF8AndSize(o, &n);
        if (!s) return -1;
        *key = shardy_key_str(s, (size_t)n);
        return 0;
    }
    if (PyBytes_Check(o)) {
        *key = shardy_key_bytes(PyBytes_AS_STRING(o), (size_t)PyBytes_GET_SIZE(o));
        return 0;
    }
    if (PyByteArray_Check(o) || PyMemoryView_Check(o)) {
        PyObject *b = PyBytes_FromObject(o); /* a copy: immune to mutation while the GIL is released */
        if (!b) return -1;
        *keeper = b;
        *key = shardy_key_bytes(PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "Unsupported key type for hashing: %s", Py_TYPE(o)->tp_name);
    return -1;
}

/* ---- option structs ----------------------------------------------------------------------------- */

/* Keeps every string handed to an options struct alive, and the pointer arrays. */
typedef struct opt_holder {
    PyObject *keep;              /* list of objects owning the strings */
    const char **s3;             /* s3_options */
    const char **celcols;        /* cel_columns */
    const char **rvals;          /* routing_values */
} opt_holder;

static void holder_clear(opt_holder *h) {
    Py_CLEAR(h->keep);
    PyMem_Free((void *)h->s3);
    PyMem_Free((void *)h->celcols);
    PyMem_Free((void *)h->rvals);
    h->s3 = h->celcols = h->rvals = NULL;
}

static int holder_init(opt_holder *h) {
    memset(h, 0, sizeof *h);
    h->keep = PyList_New(0);
    return h->keep ? 0 : -1;
}

/* UTF-8 of a str option; the str is kept alive by h. */
static int opt_str(opt_holder *h, const char *name, PyObject *v, const char **out) {
    if (!PyUnicode_Check(v)) {
        PyErr_Format(PyExc_TypeError, "option %s must be a str, got %s", name, Py_TYPE(v)->tp_name);
        return -1;
    }
    const char *s = PyUnicode_AsUTF8(v);
    if (!s) return -1;
    if (PyList_Append(h->keep, v) < 0) return -1;
    *out = s;
    return 0;
}

/* A list of str (ints are converted to their decimal text when allow_int; *all_ints reports it). */
static int opt_strlist(opt_holder *h, const char *name, PyObject *v, const char ***arr, size_t *n, int allow_int,
                       int *all_ints) {
    PyObject *seq = PySequence_Fast(v, "");
    if (!seq) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "option %s must be a list of str", name);
        return -1;
    }
    if (PyList_Append(h->keep, seq) < 0) {
        Py_DECREF(seq);
        return -1;
    }
    Py_DECREF(seq); /* h->keep holds it */
    Py_ssize_t len = PySequence_Fast_GET_SIZE(seq);
    const char **a = PyMem_Calloc((size_t)len + 1, sizeof *a);
    if (!a) {
        PyErr_NoMemory();
        return -1;
    }
    *arr = a;
    int ints = len > 0, strs = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        PyObject *it = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *s = NULL;
        if (PyUnicode_Check(it)) {
            s = it;
            Py_INCREF(s);
            strs = 1;
            ints = 0;
        } else if (allow_int && PyLong_Check(it) && !PyBool_Check(it)) {
            s = PyObject_Str(it);
            if (!s) return -1;
        } else {
            PyErr_Format(PyExc_TypeError, "option %s: item %zd must be a str%s, got %s", name, i,
                         allow_int ? " or int" : "", Py_TYPE(it)->tp_name);
            return -1;
        }
        int rc = PyList_Append(h->keep, s);
        Py_DECREF(s);
        if (rc < 0) return -1;
        a[i] = PyUnicode_AsUTF8(s);
        if (!a[i]) return -1;
    }
    if (allow_int && ints && strs) {
        PyErr_Format(PyExc_TypeError, "option %s must be all str or all int", name);
        return -1;
    }
    *n = (size_t)len;
    if (all_ints) *all_ints = ints;
    return 0;
}

static int opt_long(const char *name, PyObject *v, long long lo, long long hi, long long *out) {
    if (!PyLong_Check(v)) {
        PyErr_Format(PyExc_TypeError, "option %s must be an int, got %s", name, Py_TYPE(v)->tp_name);
        return -1;
    }
    long long x = PyLong_AsLongLong(v);
    if (x == -1 && PyErr_Occurred()) return -1;
    if (x < lo || x > hi) {
        PyErr_Format(PyExc_ValueError, "option %s out of range: %lld", name, x);
        return -1;
    }
    *out = x;
    return 0;
}

static int opt_double(const char *name, PyObject *v, double *out) {
    double d = PyFloat_AsDouble(v);
    if (d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "option %s must be a number, got %s", name, Py_TYPE(v)->tp_name);
        return -1;
    }
    *out = d;
    return 0;
}

static int dict_check(PyObject *d, const char *what) {
    if (!PyDict_Check(d)) {
        PyErr_Format(PyExc_TypeError, "%s must be a dict, got %s", what, Py_TYPE(d)->tp_name);
        return -1;
    }
    return 0;
}

static int fill_build_opts(PyObject *d, shardy_build_opts *o, opt_holder *h) {
    shardy_build_opts_init(o);
    if (dict_check(d, "build options") < 0) return -1;
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(d, &pos, &k, &v)) {
        const char *name = PyUnicode_Check(k) ? PyUnicode_AsUTF8(k) : NULL;
        if (!name) {
            PyErr_SetString(PyExc_TypeError, "build option names must be str");
            return -1;
        }
        if (v == Py_None) continue;
        long long x = 0;
        int rc = 0;
        if (!strcmp(name, "prefix")) rc = opt_str(h, name, v, &o->prefix);
        else if (!strcmp(name, "key_col")) rc = opt_str(h, name, v, &o->key_col);
        else if (!strcmp(name, "run_id")) rc = opt_str(h, name, v, &o->run_id);
        else if (!strcmp(name, "shard_prefix")) rc = opt_str(h, name, v, &o->shard_prefix);
        else if (!strcmp(name, "db_path_template")) rc = opt_str(h, name, v, &o->db_path_template);
        else if (!strcmp(name, "run_registry_prefix")) rc = opt_str(h, name, v, &o->run_registry_prefix);
        else if (!strcmp(name, "local_dir")) rc = opt_str(h, name, v, &o->local_dir);
        else if (!strcmp(name, "custom_json")) rc = opt_str(h, name, v, &o->custom_json);
        else if (!strcmp(name, "writer_type")) rc = opt_str(h, name, v, &o->writer_type);
        else if (!strcmp(name, "credentials_file")) rc = opt_str(h, name, v, &o->credentials_file);
        else if (!strcmp(name, "credentials_profile")) rc = opt_str(h, name, v, &o->credentials_profile);
        else if (!strcmp(name, "cel_expr")) rc = opt_str(h, name, v, &o->cel_expr);
        else if (!strcmp(name, "key_encoding")) {
            const char *enc = NULL;
            rc = opt_str(h, name, v, &enc);
            if (!rc) {
                shardy_status st = shardy_key_encoding_parse(enc, &o->key_encoding);
                if (st) {
                    PyErr_Format(PyExc_ValueError, "Unsupported key encoding: %s. Allowed: u64be, u32be, utf8, raw", enc);
                    return -1;
                }
            }
        } else if (!strcmp(name, "num_dbs")) {
            if (!(rc = opt_long(name, v, 0, UINT32_MAX, &x))) o->num_dbs = (uint32_t)x;
        } else if (!strcmp(name, "threads")) {
            if (!(rc = opt_long(name, v, 0, INT_MAX, &x))) o->threads = (int)x;
        } else if (!strcmp(name, "batch_size")) {
            if (!(rc = opt_long(name, v, 0, LLONG_MAX, &x))) o->batch_size = (size_t)x;
        } else if (!strcmp(name, "memory_limit")) {
            if (!(rc = opt_long(name, v, 0, LLONG_MAX, &x))) o->memory_limit = (uint64_t)x;
        } else if (!strcmp(name, "heartbeat_seconds")) {
            if (!(rc = opt_long(name, v, 0, INT_MAX, &x))) o->heartbeat_seconds = (int)x;
        } else if (!strcmp(name, "progress")) {
            o->progress = PyObject_IsTrue(v);
        } else if (!strcmp(name, "page_size")) {
            if (PyUnicode_Check(v) && !strcmp(PyUnicode_AsUTF8(v), "auto")) o->page_size = -1;
            else if (!(rc = opt_long(name, v, -1, INT_MAX, &x))) o->page_size = (int)x;
        } else if (!strcmp(name, "max_writes_per_second")) rc = opt_double(name, v, &o->max_writes_per_second);
        else if (!strcmp(name, "max_write_bytes_per_second")) rc = opt_double(name, v, &o->max_write_bytes_per_second);
        else if (!strcmp(name, "shard_retry_max")) {
            if (!(rc = opt_long(name, v, 0, UINT32_MAX, &x))) o->shard_retry_max = (unsigned)x;
        } else if (!strcmp(name, "shard_retry_backoff_s")) rc = opt_double(name, v, &o->shard_retry_backoff_s);
        else if (!strcmp(name, "shard_retry_multiplier")) rc = opt_double(name, v, &o->shard_retry_multiplier);
        else if (!strcmp(name, "s3_options")) {
            rc = opt_strlist(h, name, v, &h->s3, &o->n_s3_options, 0, NULL);
            o->s3_options = h->s3;
        } else if (!strcmp(name, "cel_columns")) {
            rc = opt_strlist(h, name, v, &h->celcols, &o->n_cel_columns, 0, NULL);
            o->cel_columns = h->celcols;
        } else if (!strcmp(name, "routing_values")) {
            rc = opt_strlist(h, name, v, &h->rvals, &o->n_routing_values, 1, &o->routing_values_are_ints);
            o->routing_values = h->rvals;
        } else {
            PyErr_Format(PyExc_ValueError, "unknown build option: %s", name);
            return -1;
        }
        if (rc) return -1;
    }
    return 0;
}

static int fill_reader_opts(PyObject *d, shardy_reader_opts *o, opt_holder *h) {
    shardy_reader_opts_init(o);
    if (dict_check(d, "reader options") < 0) return -1;
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(d, &pos, &k, &v)) {
        const char *name = PyUnicode_Check(k) ? PyUnicode_AsUTF8(k) : NULL;
        if (!name) {
            PyErr_SetString(PyExc_TypeError, "reader option names must be str");
            return -1;
        }
        if (v == Py_None) continue;
        long long x = 0;
        int rc = 0;
        if (!strcmp(name, "current_url")) rc = opt_str(h, name, v, &o->current_url);
        else if (!strcmp(name, "ref")) rc = opt_str(h, name, v, &o->ref);
        else if (!strcmp(name, "local_root")) rc = opt_str(h, name, v, &o->local_root);
        else if (!strcmp(name, "credentials_file")) rc = opt_str(h, name, v, &o->credentials_file);
        else if (!strcmp(name, "credentials_profile")) rc = opt_str(h, name, v, &o->credentials_profile);
        else if (!strcmp(name, "offset")) {
            if (!(rc = opt_long(name, v, -1, INT_MAX, &x))) o->offset = (int)x;
        } else if (!strcmp(name, "max_fallback_attempts")) {
            if (!(rc = opt_long(name, v, 0, INT_MAX, &x))) o->max_fallback_attempts = (int)x;
        } else if (!strcmp(name, "s3_options")) {
            rc = opt_strlist(h, name, v, &h->s3, &o->n_s3_options, 0, NULL);
            o->s3_options = h->s3;
        } else {
            PyErr_Format(PyExc_ValueError, "unknown reader option: %s", name);
            return -1;
        }
        if (rc) return -1;
    }
    return 0;
}

/* ---- CEL arguments and routing contexts --------------------------------------------------------- */

/* args[] from a dict name → value; strings stay owned by the dict's objects (kept by the caller). */
static int ctx_to_cel_args(PyObject *ctx, shardy_cel_arg **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (dict_check(ctx, "routing context") < 0) return -1;
    Py_ssize_t len = PyDict_Size(ctx);
    shardy_cel_arg *a = PyMem_Calloc((size_t)len + 1, sizeof *a);
    if (!a) {
        PyErr_NoMemory();
        return -1;
    }
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    size_t i = 0;
    while (PyDict_Next(ctx, &pos, &k, &v)) {
        shardy_cel_arg *x = &a[i++];
        x->name = PyUnicode_Check(k) ? PyUnicode_AsUTF8(k) : NULL;
        if (!x->name) {
            PyErr_SetString(PyExc_TypeError, "routing context names must be str");
            goto fail;
        }
        if (v == Py_None) x->type = SHARDY_CEL_NULL;
        else if (PyBool_Check(v)) {
            x->type = SHARDY_CEL_BOOL;
            x->b = v == Py_True;
        } else if (PyLong_Check(v)) {
            int overflow = 0;
            long long iv = PyLong_AsLongLongAndOverflow(v, &overflow);
            if (iv == -1 && PyErr_Occurred()) goto fail;
            if (!overflow) {
                x->type = SHARDY_CEL_INT;
                x->i = iv;
            } else {
                unsigned long long u = PyLong_AsUnsignedLongLong(v);
                if (u == (unsigned long long)-1 && PyErr_Occurred()) goto fail;
                x->type = SHARDY_CEL_UINT;
                x->u = u;
            }
        } else if (PyFloat_Check(v)) {
            x->type = SHARDY_CEL_DOUBLE;
            x->d = PyFloat_AS_DOUBLE(v);
        } else if (PyUnicode_Check(v)) {
            Py_ssize_t sl = 0;
            x->data = PyUnicode_AsUTF8AndSize(v, &sl);
            if (!x->data) goto fail;
            x->len = (size_t)sl;
            x->type = SHARDY_CEL_STRING;
        } else if (PyBytes_Check(v)) {
            x->type = SHARDY_CEL_BYTES;
            x->data = PyBytes_AS_STRING(v);
            x->len = (size_t)PyBytes_GET_SIZE(v);
        } else {
            PyErr_Format(PyExc_TypeError, "routing context value for %s has unsupported type %s", x->name,
                         Py_TYPE(v)->tp_name);
            goto fail;
        }
    }
    *out = a;
    *n = i;
    return 0;
fail:
    PyMem_Free(a);
    return -1;
}

/* Reader routing context: dict name → str (the Python layer converts values to text). */
typedef struct text_ctx {
    shardy_routing_ctx ctx;
    const char **names;
    const char **values;
} text_ctx;

static int dict_to_text_ctx(PyObject *d, text_ctx *t) {
    memset(t, 0, sizeof *t);
    if (dict_check(d, "routing_context") < 0) return -1;
    Py_ssize_t len = PyDict_Size(d);
    t->names = PyMem_Calloc((size_t)len + 1, sizeof *t->names);
    t->values = PyMem_Calloc((size_t)len + 1, sizeof *t->values);
    if (!t->names || !t->values) {
        PyErr_NoMemory();
        return -1;
    }
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    size_t i = 0;
    while (PyDict_Next(d, &pos, &k, &v)) {
        if (!PyUnicode_Check(k) || !PyUnicode_Check(v)) {
            PyErr_SetString(PyExc_TypeError, "routing_context must map str to str");
            return -1;
        }
        t->names[i] = PyUnicode_AsUTF8(k);
        t->values[i] = PyUnicode_AsUTF8(v);
        if (!t->names[i] || !t->values[i]) return -1;
        i++;
    }
    t->ctx.names = t->names;
    t->ctx.values = t->values;
    t->ctx.n = i;
    return 0;
}

static void text_ctx_free(text_ctx *t) {
    PyMem_Free((void *)t->names);
    PyMem_Free((void *)t->values);
    memset(t, 0, sizeof *t);
}

/* Value argument: any bytes-like object (buffer protocol). */
static int get_value(PyObject *v, Py_buffer *buf) {
    if (PyUnicode_Check(v)) {
        PyErr_SetString(PyExc_TypeError, "value must be bytes, not str");
        return -1;
    }
    return PyObject_GetBuffer(v, buf, PyBUF_SIMPLE);
}

/* ---- handle objects ----------------------------------------------------------------------------
 *
 * Every type below wraps one libshardy handle and shares one layout and one lifecycle: open with the
 * GIL released, calls guarded by a busy counter (touched only with the GIL held), close once with the
 * GIL released. What differs per type is in its handle_kind. */

/* C cannot call shardy_builder_open through a pointer typed for void **, so each handle type gets a
 * pair of untyped adapters; the macro keeps them identical. open_call is the typed call, written in
 * terms of the adapter's opts, arg and &h. */
#define HANDLE_ADAPTERS(name, T, open_call, close_fn)                                                     \
    static shardy_status name##_open_any(const void *opts, const void *arg, void **out) {               \
        T *h = NULL;                                                                                     \
        shardy_status st = (open_call);                                                                  \
        (void)opts;                                                                                      \
        (void)arg;                                                                                       \
        *out = h;                                                                                        \
        return st;                                                                                       \
    }                                                                                                    \
    static void name##_close_any(void *p) {                                                              \
        T *h = p;                                                                                        \
        close_fn(&h);                                                                                    \
    }

typedef struct handle_kind {
    shardy_status (*open)(const void *opts, const void *arg, void **out);
    void (*close)(void *handle);
    /* 1: the handle is thread-safe (Reader, CelRouter): calls may overlap and a close() meanwhile is
     * deferred to the last call out. 0: one call at a time; a call or close() from another thread
     * while one runs with the GIL released is a RuntimeError. */
    int shared;
} handle_kind;

typedef struct {
    PyObject_HEAD
    void *handle;             /* the libshardy object; NULL before open and after close */
    const handle_kind *kind;  /* set with handle */
    opt_holder h;             /* strings the open handle's options still point at */
    int busy;                 /* calls in flight with the GIL released */
    int close_pending;        /* shared kinds: close() came while busy, the last call out closes */
} HandleObject;

/* "Builder" from "shardyfusion._native.Builder": the name every message uses. */
static const char *handle_name(HandleObject *self) {
    const char *dot = strrchr(Py_TYPE(self)->tp_name, '.');
    return dot ? dot + 1 : Py_TYPE(self)->tp_name;
}

static PyObject *raise_closed(HandleObject *self) {
    char msg[64];
    snprintf(msg, sizeof msg, "%s is closed", handle_name(self));
    return raise_status_msg(SHARDY_ECLOSED, msg);
}

static PyObject *raise_in_use(HandleObject *self) {
    return PyErr_Format(PyExc_RuntimeError, "%s is in use by another thread", handle_name(self));
}

/* Exclusive kinds: the handle is open and no other thread is inside a call. */
static int handle_check(HandleObject *self) {
    if (!self->handle) {
        raise_closed(self);
        return -1;
    }
    if (self->busy) {
        raise_in_use(self);
        return -1;
    }
    return 0;
}

/* The handle is taken out of the object before the GIL is released, so no other thread can start a
 * call on it while it is being closed. */
static void handle_close_now(HandleObject *self) {
    void *handle = self->handle;
    const handle_kind *kind = self->kind;
    self->handle = NULL;
    if (!handle) return;
    Py_BEGIN_ALLOW_THREADS
    kind->close(handle);
    Py_END_ALLOW_THREADS
}

/* Shared kinds: enter before a call, leave after it (both with the GIL held). */
static int handle_enter(HandleObject *self) {
    if (!self->handle || self->close_pending) {
        raise_closed(self);
        return -1;
    }
    self->busy++;
    return 0;
}

static void handle_leave(HandleObject *self) {
    if (--self->busy == 0 && self->close_pending) {
        self->close_pending = 0;
        handle_close_now(self);
    }
}

static int handle_fresh(HandleObject *self) {
    if (self->handle) {
        PyErr_Format(PyExc_RuntimeError, "%s already initialised", handle_name(self));
        return -1;
    }
    return 0;
}

/* Opens with the GIL released (opening reads manifests and lists the store). shardy_errmsg() is
 * copied before the GIL is retaken because it is per thread and the next libshardy call replaces it. */
static int handle_open(HandleObject *self, const handle_kind *kind, const void *opts, const void *arg) {
    shardy_status st;
    void *handle = NULL;
    char *msg = PyMem_RawMalloc(8192);
    if (!msg) {
        PyErr_NoMemory();
        return -1;
    }
    msg[0] = 0;
    Py_BEGIN_ALLOW_THREADS
    st = kind->open(opts, arg, &handle);
    if (st) snprintf(msg, 8192, "%s", shardy_errmsg());
    Py_END_ALLOW_THREADS
    if (st) raise_status_msg(st, msg);
    PyMem_RawFree(msg);
    if (st) return -1;
    self->handle = handle;
    self->kind = kind;
    return 0;
}

/* Fills build options into self->h (kept for the handle's lifetime: it may read them later) and
 * opens. */
static int handle_open_build(HandleObject *self, const handle_kind *kind, PyObject *d, const void *arg) {
    shardy_build_opts o;
    holder_clear(&self->h); /* a failed earlier __init__ may have left strings */
    if (holder_init(&self->h) < 0 || fill_build_opts(d, &o, &self->h) < 0) return -1;
    return handle_open(self, kind, &o, arg);
}

/* __init__(opts) of the kinds opened from build options alone. */
static int handle_init_build(HandleObject *self, const handle_kind *kind, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"opts", NULL};
    char fmt[64];
    PyObject *d;
    snprintf(fmt, sizeof fmt, "O:%s", handle_name(self));
    if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, kwlist, &d)) return -1;
    if (handle_fresh(self) < 0) return -1;
    return handle_open_build(self, kind, d, NULL);
}

static void handle_dealloc(HandleObject *self) {
    handle_close_now(self);
    holder_clear(&self->h);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* close() — idempotent. */
static PyObject *handle_close(HandleObject *self, PyObject *Py_UNUSED(ignored)) {
    if (self->busy && self->kind->shared) self->close_pending = 1; /* the last call in flight closes */
    else if (self->busy) return raise_in_use(self);
    else handle_close_now(self);
    Py_RETURN_NONE;
}

static PyObject *handle_enter_cm(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    Py_INCREF(self);
    return self;
}

/* __exit__ closes and never suppresses the exception. */
static PyObject *handle_exit(HandleObject *self, PyObject *Py_UNUSED(args)) {
    PyObject *r = handle_close(self, NULL);
    if (!r) return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

#define HANDLE_METHODS(close_doc)                                                                        \
    {"close", (PyCFunction)handle_close, METH_NOARGS, close_doc},                                        \
        {"__enter__", (PyCFunction)handle_enter_cm, METH_NOARGS, NULL},                                  \
        {"__exit__", (PyCFunction)handle_exit, METH_VARARGS, NULL}, {NULL, NULL, 0, NULL}

/* The type object of a handle kind; name is the class name inside shardyfusion._native. */
#define HANDLE_TYPE(name, doc, init, methods)                                                            \
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shardyfusion._native." name,                               \
    .tp_basicsize = sizeof(HandleObject), .tp_flags = Py_TPFLAGS_DEFAULT, .tp_doc = doc,                 \
    .tp_new = PyType_GenericNew, .tp_init = (initproc)(init), .tp_dealloc = (destructor)handle_dealloc,   \
    .tp_methods = methods

/* ---- Builder ---------------------------------------------------------------------------------- */

HANDLE_ADAPTERS(builder, shardy_builder, shardy_builder_open(opts, &h), shardy_builder_close)
static const handle_kind builder_kind = {builder_open_any, builder_close_any, 0};

static int Builder_init(HandleObject *self, PyObject *args, PyObject *kw) {
    return handle_init_build(self, &builder_kind, args, kw);
}

/* add(key, value) of Builder and AttemptWriter: convert the pair, call the handle's add. */
typedef shardy_status (*add_row_fn)(void *handle, const shardy_key *key, const void *value, size_t len);

static PyObject *handle_add(HandleObject *self, PyObject *args, add_row_fn add) {
    PyObject *ko, *vo, *keeper = NULL;
    if (!PyArg_ParseTuple(args, "OO:add", &ko, &vo)) return NULL;
    if (handle_check(self) < 0) return NULL;
    shardy_key key;
    Py_buffer vb;
    if (py_to_key(ko, &key, &keeper, 0) < 0) return NULL;
    if (get_value(vo, &vb) < 0) {
        Py_XDECREF(keeper);
        return NULL;
    }
    shardy_status st = add(self->handle, &key, vb.buf, (size_t)vb.len);
    PyBuffer_Release(&vb);
    Py_XDECREF(keeper);
    if (st) return raise_status(st);
    Py_RETURN_NONE;
}

static shardy_status builder_add_row(void *h, const shardy_key *key, const void *value, size_t len) {
    return shardy_builder_add(h, key, value, len);
}

static PyObject *Builder_add(HandleObject *self, PyObject *args) { return handle_add(self, args, builder_add_row); }

/* add_many(keys, values): the per-row loop in C (one Python call per batch). */
static PyObject *Builder_add_many(HandleObject *self, PyObject *args) {
    PyObject *ks, *vs;
    if (!PyArg_ParseTuple(args, "OO:add_many", &ks, &vs)) return NULL;
    if (handle_check(self) < 0) return NULL;
    PyObject *kf = PySequence_Fast(ks, "keys must be a sequence");
    if (!kf) return NULL;
    PyObject *vf = PySequence_Fast(vs, "values must be a sequence");
    if (!vf) {
        Py_DECREF(kf);
        return NULL;
    }
    PyObject *ret = NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(kf);
    if (PySequence_Fast_GET_SIZE(vf) != n) {
        PyErr_SetString(PyExc_ValueError, "keys and values must have the same length");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *keeper = NULL;
        shardy_key key;
        Py_buffer vb;
        if (py_to_key(PySequence_Fast_GET_ITEM(kf, i), &key, &keeper, 0) < 0) goto done;
        if (get_value(PySequence_Fast_GET_ITEM(vf, i), &vb) < 0) {
            Py_XDECREF(keeper);
            goto done;
        }
        shardy_status st = shardy_builder_add(self->handle, &key, vb.buf, (size_t)vb.len);
        PyBuffer_Release(&vb);
        Py_XDECREF(keeper);
        if (st) {
            raise_status(st);
            goto done;
        }
    }
    ret = Py_None;
    Py_INCREF(ret);
done:
    Py_DECREF(kf);
    Py_DECREF(vf);
    return ret;
}

static PyObject *Builder_add_cel(HandleObject *self, PyObject *args) {
    PyObject *ko, *ctx, *vo, *keeper = NULL;
    if (!PyArg_ParseTuple(args, "OOO:add_cel", &ko, &ctx, &vo)) return NULL;
    if (handle_check(self) < 0) return NULL;
    shardy_key key;
    Py_buffer vb;
    shardy_cel_arg *a = NULL;
    size_t na = 0;
    if (py_to_key(ko, &key, &keeper, 0) < 0) return NULL;
    if (ctx_to_cel_args(ctx, &a, &na) < 0) {
        Py_XDECREF(keeper);
        return NULL;
    }
    if (get_value(vo, &vb) < 0) {
        PyMem_Free(a);
        Py_XDECREF(keeper);
        return NULL;
    }
    shardy_status st = shardy_builder_add_cel(self->handle, &key, a, na, vb.buf, (size_t)vb.len);
    PyBuffer_Release(&vb);
    PyMem_Free(a);
    Py_XDECREF(keeper);
    if (st) return raise_status(st);
    Py_RETURN_NONE;
}

static PyObject *Builder_rows(HandleObject *self, PyObject *Py_UNUSED(ignored)) {
    if (handle_check(self) < 0) return NULL;
    return PyLong_FromUnsignedLongLong(shardy_builder_rows(self->handle));
}

static PyObject *Builder_finish(HandleObject *self, PyObject *Py_UNUSED(ignored)) {
    if (handle_check(self) < 0) return NULL;
    shardy_build_result *res = NULL;
    shardy_status st;
    char *msg = PyMem_RawMalloc(8192);
    if (!msg) return PyErr_NoMemory();
    msg[0] = 0;
    self->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    st = shardy_builder_finish(self->handle, &res);
    if (st) snprintf(msg, 8192, "%s", shardy_errmsg());
    Py_END_ALLOW_THREADS
    self->busy = 0;
    if (st) {
        raise_status_msg(st, msg);
        PyMem_RawFree(msg);
        return NULL;
    }
    PyMem_RawFree(msg);
    PyObject *out = parse_json(shardy_build_result_json(res));
    shardy_build_result_free(&res);
    return out;
}

static PyMethodDef Builder_methods[] = {
    {"add", (PyCFunction)Builder_add, METH_VARARGS, "add(key, value: bytes) — adds one row"},
    {"add_many", (PyCFunction)Builder_add_many, METH_VARARGS, "add_many(keys, values) — adds rows in one call"},
    {"add_cel", (PyCFunction)Builder_add_cel, METH_VARARGS,
     "add_cel(key, ctx: dict, value: bytes) — adds one row routed by CEL with ctx bound to the columns"},
    {"rows", (PyCFunction)Builder_rows, METH_NOARGS, "rows() — rows added so far"},
    {"finish", (PyCFunction)Builder_finish, METH_NOARGS, "finish() -> dict — writes, publishes, returns the result"},
    HANDLE_METHODS("close() — releases the builder (unfinished: nothing published)")};

static PyTypeObject BuilderType = {
    HANDLE_TYPE("Builder", "Builder(opts: dict) — single-host snapshot build over shardy_builder_*", Builder_init,
                Builder_methods),
};

/* ---- Reader ----------------------------------------------------------------------------------- */

HANDLE_ADAPTERS(reader, shardy_reader, shardy_reader_open(opts, &h), shardy_reader_close)
static const handle_kind reader_kind = {reader_open_any, reader_close_any, 1};

static int Reader_init(HandleObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"opts", NULL};
    PyObject *d;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:Reader", kwlist, &d)) return -1;
    if (handle_fresh(self) < 0) return -1;
    /* libshardy copies reader options at open: the strings need to live only until then. */
    shardy_reader_opts o;
    opt_holder h;
    if (holder_init(&h) < 0) return -1;
    int rc = fill_reader_opts(d, &o, &h) < 0 ? -1 : handle_open(self, &reader_kind, &o, NULL);
    holder_clear(&h);
    return rc;
}

/* One lookup with the GIL released: copy into a stack buffer, or allocate when it does not fit. */
static PyObject *Reader_get(HandleObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"key", "routing_context", NULL};
    PyObject *ko, *ctxo = Py_None, *keeper = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:get", kwlist, &ko, &ctxo)) return NULL;
    shardy_key key;
    text_ctx tc;
    memset(&tc, 0, sizeof tc);
    if (py_to_key(ko, &key, &keeper, 0) < 0) return NULL;
    if (ctxo != Py_None && dict_to_text_ctx(ctxo, &tc) < 0) {
        text_ctx_free(&tc);
        Py_XDECREF(keeper);
        return NULL;
    }
    if (handle_enter(self) < 0) {
        text_ctx_free(&tc);
        Py_XDECREF(keeper);
        return NULL;
    }
    char stackbuf[4096];
    void *heap = NULL;
    size_t vlen = 0;
    int found = 0;
    shardy_status st;
    char msg[2048] = "";
    const int use_ctx = ctxo != Py_None;
    Py_BEGIN_ALLOW_THREADS
    if (use_ctx) {
        st = shardy_reader_get_ctx(self->handle, &key, &tc.ctx, &heap, &vlen, &found);
    } else {
        st = shardy_reader_get(self->handle, &key, stackbuf, sizeof stackbuf, &vlen, &found);
        if (st == SHARDY_ERANGE && vlen > sizeof stackbuf) st = shardy_reader_get_alloc(self->handle, &key, &heap, &vlen, &found);
    }
    if (st) snprintf(msg, sizeof msg, "%s", shardy_errmsg());
    Py_END_ALLOW_THREADS
    handle_leave(self);
    text_ctx_free(&tc);
    Py_XDECREF(keeper);
    if (st) {
        shardy_free(heap);
        return raise_status_msg(st, msg);
    }
    if (!found) {
        shardy_free(heap);
        Py_RETURN_NONE;
    }
    PyObject *out = PyBytes_FromStringAndSize(heap ? (const char *)heap : stackbuf, (Py_ssize_t)vlen);
    shardy_free(heap);
    return out;
}

static PyObject *Reader_multi_get(HandleObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"keys", "routing_context", NULL};
    PyObject *ks, *ctxo = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:multi_get", kwlist, &ks, &ctxo)) return NULL;
    PyObject *kf = PySequence_Fast(ks, "keys must be a sequence");
    if (!kf) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(kf);
    shardy_key *keys = PyMem_Calloc((size_t)n + 1, sizeof *keys);
    PyObject *keepers = PyList_New(0), *out = NULL;
    text_ctx tc;
    memset(&tc, 0, sizeof tc);
    shardy_values *vals = NULL;
    if (!keys || !keepers) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *keeper = NULL;
        if (py_to_key(PySequence_Fast_GET_ITEM(kf, i), &keys[i], &keeper, 0) < 0) goto done;
        if (keeper) {
            int rc = PyList_Append(keepers, keeper);
            Py_DECREF(keeper);
            if (rc < 0) goto done;
        }
    }
    if (ctxo != Py_None && dict_to_text_ctx(ctxo, &tc) < 0) goto done;
    if (handle_enter(self) < 0) goto done;
    shardy_status st;
    char msg[2048] = "";
    const int use_ctx = ctxo != Py_None;
    Py_BEGIN_ALLOW_THREADS
    st = use_ctx ? shardy_reader_multi_get_ctx(self->handle, keys, (size_t)n, &tc.ctx, &vals)
                 : shardy_reader_multi_get(self->handle, keys, (size_t)n, &vals);
    if (st) snprintf(msg, sizeof msg, "%s", shardy_errmsg());
    Py_END_ALLOW_THREADS
    handle_leave(self);
    if (st) {
        raise_status_msg(st, msg);
        goto done;
    }
    out = PyList_New(n);
    if (!out) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        const void *p = NULL;
        size_t len = 0;
        PyObject *item;
        if (shardy_values_get(vals, (size_t)i, &p, &len)) {
            item = PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)len);
            if (!item) {
                Py_CLEAR(out);
                goto done;
            }
        } else {
            item = Py_None;
            Py_INCREF(item);
        }
        PyList_SET_ITEM(out, i, item);
    }
done:
    shardy_values_free(&vals);
    text_ctx_free(&tc);
    PyMem_Free(keys);
    Py_XDECREF(keepers);
    Py_DECREF(kf);
    return out;
}

static PyObject *Reader_refresh(HandleObject *self, PyObject *Py_UNUSED(ignored)) {
    if (handle_enter(self) < 0) return NULL;
    int changed = 0;
    shardy_status st;
    char msg[2048] = "";
    Py_BEGIN_ALLOW_THREADS
    st = shardy_reader_refresh(self->handle, &changed);
    if (st) snprintf(msg, sizeof msg, "%s", shardy_errmsg());
    Py_END_ALLOW_THREADS
    handle_leave(self);
    if (st) return raise_status_msg(st, msg);
    return PyBool_FromLong(changed);
}

static PyObject *Reader_route(HandleObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"key", "routing_context", NULL};
    PyObject *ko = Py_None, *ctxo = Py_None, *keeper = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO:route", kwlist, &ko, &ctxo)) return NULL;
    shardy_key key;
    text_ctx tc;
    memset(&tc, 0, sizeof tc);
    if (ctxo == Py_None && py_to_key(ko, &key, &keeper, 0) < 0) return NULL;
    if (ctxo != Py_None && dict_to_text_ctx(ctxo, &tc) < 0) {
        text_ctx_free(&tc);
        return NULL;
    }
    if (handle_enter(self) < 0) {
        text_ctx_free(&tc);
        Py_XDECREF(keeper);
        return NULL;
    }
    uint32_t db = 0;
    shardy_status st = ctxo != Py_None ? shardy_reader_route_ctx(self->handle, &tc.ctx, &db)
                                       : shardy_reader_route(self->handle, &key, &db);
    handle_leave(self);
    text_ctx_free(&tc);
    Py_XDECREF(keeper);
    if (st) return raise_status(st);
    return PyLong_FromUnsignedLong(db);
}

static int set_str(PyObject *d, const char *k, const char *v) {
    PyObject *o = v ? PyUnicode_FromString(v) : (Py_INCREF(Py_None), Py_None);
    if (!o) return -1;
    int rc = PyDict_SetItemString(d, k, o);
    Py_DECREF(o);
    return rc;
}

static int set_u64(PyObject *d, const char *k, unsigned long long v) {
    PyObject *o = PyLong_FromUnsignedLongLong(v);
    if (!o) return -1;
    int rc = PyDict_SetItemString(d, k, o);
    Py_DECREF(o);
    return rc;
}

static int set_json(PyObject *d, const char *k, const char *text) {
    PyObject *o = parse_json(text);
    if (!o) return -1;
    int rc = PyDict_SetItemString(d, k, o);
    Py_DECREF(o);
    return rc;
}

static PyObject *Reader_info(HandleObject *self, PyObject *Py_UNUSED(ignored)) {
    if (handle_enter(self) < 0) return NULL;
    shardy_snapshot_info *info = NULL;
    shardy_status st = shardy_reader_info(self->handle, &info);
    handle_leave(self);
    if (st) return raise_status(st);
    PyObject *d = PyDict_New();
    if (!d || set_str(d, "run_id", info->run_id) || set_str(d, "manifest_ref", info->manifest_ref) ||
        set_str(d, "created_at", info->created_at) || set_str(d, "sharding", info->sharding) ||
        set_str(d, "hash_algorithm", info->hash_algorithm) || set_u64(d, "num_dbs", info->num_dbs) ||
        set_u64(d, "row_count", info->row_count) ||
        set_str(d, "key_encoding", shardy_key_encoding_name(info->key_encoding)) ||
        set_u64(d, "num_nonempty_shards", info->num_nonempty_shards))
        Py_CLEAR(d);
    shardy_snapshot_info_free(&info);
    return d;
}

static PyObject *Reader_shards(HandleObject *self, PyObject *Py_UNUSED(ignored)) {
    if (handle_enter(self) < 0) return NULL;
    shardy_shard_info *infos = NULL;
    size_t n = 0;
    shardy_status st = shardy_reader_shards(self->handle, &infos, &n);
    handle_leave(self);
    if (st) return raise_status(st);
    PyObject *out = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; out && i < n; i++) {
        const shardy_shard_info *s = &infos[i];
        PyObject *d = PyDict_New();
        if (!d || set_u64(d, "db_id", s->db_id) || set_u64(d, "attempt", s->attempt) ||
            set_u64(d, "row_count", s->row_count) || set_u64(d, "db_bytes", s->db_bytes) ||
            set_str(d, "db_url", s->db_url) || set_json(d, "min_key", s->min_key) ||
            set_json(d, "max_key", s->max_key) || set_str(d, "checkpoint_id", s->checkpoint_id)) {
            Py_XDECREF(d);
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)i, d);
    }
    shardy_shard_infos_free(&infos, n);
    return out;
}

static PyObject *Reader_closed(HandleObject *self, void *Py_UNUSED(closure)) {
    return PyBool_FromLong(!self->handle || self->close_pending);
}

static PyMethodDef Reader_methods[] = {
    {"get", (PyCFunction)(void (*)(void))Reader_get, METH_VARARGS | METH_KEYWORDS,
     "get(key, routing_context=None) -> bytes | None"},
    {"multi_get", (PyCFunction)(void (*)(void))Reader_multi_get, METH_VARARGS | METH_KEYWORDS,
     "multi_get(keys, routing_context=None) -> list[bytes | None] in input order"},
    {"refresh", (PyCFunction)Reader_refresh, METH_NOARGS, "refresh() -> bool (True if the manifest changed)"},
    {"route", (PyCFunction)(void (*)(void))Reader_route, METH_VARARGS | METH_KEYWORDS,
     "route(key=None, routing_context=None) -> db_id"},
    {"info", (PyCFunction)Reader_info, METH_NOARGS, "info() -> dict (snapshot info)"},
    {"shards", (PyCFunction)Reader_shards, METH_NOARGS, "shards() -> list[dict], every db_id in order"},
    HANDLE_METHODS("close() — idempotent")};

static PyGetSetDef Reader_getset[] = {{"closed", (getter)Reader_closed, NULL, "True after close()", NULL},
                                      {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject ReaderType = {
    HANDLE_TYPE("Reader", "Reader(opts: dict) — snapshot reader over shardy_reader_*", Reader_init, Reader_methods),
    .tp_getset = Reader_getset,
};

/* ---- module functions --------------------------------------------------------------------------- */

static PyObject *mod_route_hash(PyObject *Py_UNUSED(m), PyObject *args) {
    PyObject *ko, *keeper = NULL;
    long long num_dbs;
    if (!PyArg_ParseTuple(args, "OL:route_hash", &ko, &num_dbs)) return NULL;
    if (num_dbs <= 0) {
        PyErr_Format(PyExc_ValueError, "num_dbs must be > 0, got %lld", num_dbs);
        return NULL;
    }
    shardy_key key;
    if (py_to_key(ko, &key, &keeper, 1) < 0) return NULL;
    uint64_t db = 0;
    shardy_status st = shardy_route_hash(&key, (uint64_t)num_dbs, &db, NULL);
    Py_XDECREF(keeper);
    if (st) return raise_status(st);
    return PyLong_FromUnsignedLongLong(db);
}

static PyObject *mod_version(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored)) {
    return PyUnicode_FromString(shardy_version());
}

static int add_type(PyObject *m, PyTypeObject *t, const char *name) {
    if (PyType_Ready(t) < 0) return -1;
    Py_INCREF(t);
    if (PyModule_AddObject(m, name, (PyObject *)t) < 0) {
        Py_DECREF(t);
        return -1;
    }
    return 0;
}

/* Distributed-build wrappers (AttemptWriter, Run, CelRouter, route_hash_arrow) live in
 * _native_distributed.h so they can be compiled in once libshardy has them. */
#ifdef SHARDY_HAVE_DISTRIBUTED
#include "_native_distributed.h"
#endif

static PyMethodDef module_methods[] = {
    {"route_hash", mod_route_hash, METH_VARARGS,
     "route_hash(key, num_dbs) -> int — xxh3_64 of the key's canonical bytes mod num_dbs"},
    {"version", mod_version, METH_NOARGS, "version() -> str — libshardy version"},
#ifdef SHARDY_HAVE_DISTRIBUTED
    DISTRIBUTED_METHODS
#endif
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "shardyfusion._native",
                                       "CPython binding of libshardy (include/shardy.h).", -1, module_methods,
                                       NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__native(void);
PyMODINIT_FUNC PyInit__native(void) {
    PyObject *m = PyModule_Create(&moduledef);
    if (!m) return NULL;
    PyObject *json = PyImport_ImportModule("json");
    if (!json) goto fail;
    json_loads = PyObject_GetAttrString(json, "loads");
    json_dumps = PyObject_GetAttrString(json, "dumps");
    Py_DECREF(json);
    if (!json_loads || !json_dumps) goto fail;
    NativeError = PyErr_NewExceptionWithDoc(
        "shardyfusion._native.NativeError",
        "A libshardy call failed: .status (int shardy_status), .status_name ('SHARDY_EINVAL', ...), "
        "str() = the library's message.",
        NULL, NULL);
    if (!NativeError) goto fail;
    Py_INCREF(NativeError);
    if (PyModule_AddObject(m, "NativeError", NativeError) < 0) goto fail;
    if (add_type(m, &BuilderType, "Builder") < 0 || add_type(m, &ReaderType, "Reader") < 0) goto fail;
#ifdef SHARDY_HAVE_DISTRIBUTED
    if (distributed_init(m) < 0) goto fail;
    if (PyModule_AddIntConstant(m, "HAVE_DISTRIBUTED", 1) < 0) goto fail;
#else
    if (PyModule_AddIntConstant(m, "HAVE_DISTRIBUTED", 0) < 0) goto fail;
#endif
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
