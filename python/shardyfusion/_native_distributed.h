/*
 * _native_distributed.h — part of _native.c (included once, under SHARDY_HAVE_DISTRIBUTED): the
 * distributed-build API of shardy.h for engines (Spark, Dask, Ray, Python workers).
 *
 *   AttemptWriter(opts, db_id, attempt, stage_id=None, task_attempt_id=None)  shardy_attempt_*
 *   ExchangeWriter(opts, partition, attempt)                                   shardy_exchange_*
 *   Run(opts)                                                                  shardy_run_*
 *   CelRouter(opts)                                                            shardy_cel_router_*
 *   route_hash_arrow(batch, key_col, num_dbs) -> bytes of native int32 db ids
 *
 * Arrow batches are any object with __arrow_c_array__() (pyarrow RecordBatch): the (schema, array)
 * PyCapsules are held for the duration of the C call and then dropped; their destructors call the
 * release callbacks (libshardy never releases). Batch loops run with the GIL released.
 */
#ifndef SHARDY_NATIVE_DISTRIBUTED_H
#define SHARDY_NATIVE_DISTRIBUTED_H

/* ---- Arrow C Data Interface capsules ---------------------------------------------------------- */

typedef struct arrow_batch {
    PyObject *schema_cap;
    PyObject *array_cap;
    struct ArrowSchema *schema;
    struct ArrowArray *array;
} arrow_batch;

static void arrow_batch_release(arrow_batch *ab) {
    /* The capsule destructors release the structs when the last reference goes. */
    Py_CLEAR(ab->schema_cap);
    Py_CLEAR(ab->array_cap);
    ab->schema = NULL;
    ab->array = NULL;
}

static int arrow_batch_get(PyObject *batch, arrow_batch *ab) {
    memset(ab, 0, sizeof *ab);
    PyObject *pair = PyObject_CallMethod(batch, "__arrow_c_array__", NULL);
    if (!pair) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "batch must support __arrow_c_array__ (e.g. pyarrow.RecordBatch), got %s",
                         Py_TYPE(batch)->tp_name);
        }
        return -1;
    }
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
        Py_DECREF(pair);
        PyErr_SetString(PyExc_TypeError, "__arrow_c_array__ must return a (schema, array) tuple of capsules");
        return -1;
    }
    ab->schema_cap = PyTuple_GET_ITEM(pair, 0);
    ab->array_cap = PyTuple_GET_ITEM(pair, 1);
    Py_INCREF(ab->schema_cap);
    Py_INCREF(ab->array_cap);
    Py_DECREF(pair);
    ab->schema = PyCapsule_GetPointer(ab->schema_cap, "arrow_schema");
    if (!ab->schema) goto fail;
    ab->array = PyCapsule_GetPointer(ab->array_cap, "arrow_array");
    if (!ab->array) goto fail;
    if (!ab->array->release || !ab->schema->release) {
        PyErr_SetString(PyExc_ValueError, "Arrow batch was already released");
        goto fail;
    }
    return 0;
fail:
    arrow_batch_release(ab);
    return -1;
}

/* ---- AttemptWriter ---------------------------------------------------------------------------- */

HANDLE_ADAPTERS(attempt, shardy_attempt_writer, shardy_attempt_open(opts, arg, &h), shardy_attempt_close)
static const handle_kind attempt_kind = {attempt_open_any, attempt_close_any, 0};

static int opt_engine_id(PyObject *v, const char *name, int64_t *out) {
    *out = SHARDY_NO_ID;
    if (!v || v == Py_None) return 0;
    long long x;
    if (opt_long(name, v, INT64_MIN + 1, INT64_MAX, &x) < 0) return -1;
    *out = (int64_t)x;
    return 0;
}

static int Attempt_init(HandleObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"opts", "db_id", "attempt", "stage_id", "task_attempt_id", NULL};
    PyObject *d, *stage = Py_None, *task = Py_None;
    unsigned int db_id, attempt;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OII|OO:AttemptWriter", kwlist, &d, &db_id, &attempt, &stage, &task))
        return -1;
    if (handle_fresh(self) < 0) return -1;
    shardy_attempt_info info;
    info.db_id = db_id;
    info.attempt = attempt;
    if (opt_engine_id(stage, "stage_id", &info.stage_id) < 0 ||
        opt_engine_id(task, "task_attempt_id", &info.task_attempt_id) < 0)
        return -1;
    return handle_open_build(self, &attempt_kind, d, &info);
}

static shardy_status attempt_add_row(void *h, const shardy_key *key, const void *value, size_t len) {
    return shardy_attempt_add(h, key, value, len);
}

static PyObject *Attempt_add(HandleObject *self, PyObject *args) { return handle_add(self, args, attempt_add_row); }

/* add_arrow of AttemptWriter (ids NULL) and ExchangeWriter (ids = native int32 shard ids). */
typedef shardy_status (*arrow_add_fn)(void *h, const struct ArrowArray *a, const struct ArrowSchema *s,
                                      const char *key_col, const shardy_value_spec *spec, const int32_t *ids);

static PyObject *handle_add_arrow(HandleObject *self, PyObject *args, PyObject *kw, int want_ids, arrow_add_fn fn) {
    static char *kwlist[] = {"batch", "key_col", "kind", "cols", "skip_col", "db_ids", NULL};
    PyObject *batch, *colso = Py_None, *skipo = Py_None, *idso = Py_None;
    const char *key_col, *kind;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "Oss|OOO:add_arrow", kwlist, &batch, &key_col, &kind, &colso, &skipo,
                                     &idso))
        return NULL;
    if (handle_check(self) < 0) return NULL;
    if (want_ids != (idso != Py_None)) {
        PyErr_SetString(PyExc_TypeError, want_ids ? "add_arrow: db_ids (bytes of native int32) is required"
                                                  : "add_arrow: db_ids is only for ExchangeWriter");
        return NULL;
    }
    shardy_value_spec spec;
    memset(&spec, 0, sizeof spec);
    if (!strcmp(kind, "binary_col")) spec.kind = SHARDY_VALUE_BINARY_COL;
    else if (!strcmp(kind, "json_cols")) spec.kind = SHARDY_VALUE_JSON_COLS;
    else {
        PyErr_Format(PyExc_ValueError, "kind must be 'binary_col' or 'json_cols', got '%s'", kind);
        return NULL;
    }
    opt_holder h;
    if (holder_init(&h) < 0) return NULL;
    PyObject *ret = NULL;
    arrow_batch ab;
    Py_buffer ids;
    int have_ids = 0;
    memset(&ab, 0, sizeof ab);
    if (colso != Py_None) {
        const char **cols = NULL;
        if (opt_strlist(&h, "cols", colso, &cols, &spec.n_cols, 0, NULL) < 0) {
            PyMem_Free((void *)cols);
            goto done;
        }
        h.celcols = cols; /* freed by holder_clear */
        spec.cols = cols;
    }
    if (skipo != Py_None && opt_str(&h, "skip_col", skipo, &spec.skip_col) < 0) goto done;
    if (spec.kind == SHARDY_VALUE_BINARY_COL && spec.n_cols != 1) {
        PyErr_SetString(PyExc_ValueError, "binary_col needs exactly one column in cols");
        goto done;
    }
    if (arrow_batch_get(batch, &ab) < 0) goto done;
    if (want_ids) {
        if (PyObject_GetBuffer(idso, &ids, PyBUF_SIMPLE) < 0) goto done;
        have_ids = 1;
        if (ids.len != ab.array->length * (Py_ssize_t)sizeof(int32_t) || ((uintptr_t)ids.buf % sizeof(int32_t))) {
            PyErr_Format(PyExc_ValueError, "db_ids must hold one aligned native int32 per row: %zd bytes for %lld rows",
                         ids.len, (long long)ab.array->length);
            goto done;
        }
    }
    shardy_status st;
    char msg[4096] = "";
    self->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    st = fn(self->handle, ab.array, ab.schema, key_col, &spec, have_ids ? (const int32_t *)ids.buf : NULL);
    if (st) snprintf(msg, sizeof msg, "%s", shardy_errmsg());
    Py_END_ALLOW_THREADS
    self->busy = 0;
    if (st) {
        raise_status_msg(st, msg);
        goto done;
    }
    ret = Py_None;
    Py_INCREF(ret);
done:
    if (have_ids) PyBuffer_Release(&ids);
    arrow_batch_release(&ab);
    holder_clear(&h);
    return ret;
}

static shardy_status attempt_add_arrow_fn(void *h, const struct ArrowArray *a, const struct ArrowSchema *s,
                                          const char *key_col, const shardy_value_spec *spec, const int32_t *ids) {
    (void)ids;
    return shardy_attempt_add_arrow(h, a, s, key_col, spec);
}

static PyObject *Attempt_add_arrow(HandleObject *self, PyObject *args, PyObject *kw) {
    return handle_add_arrow(self, args, kw, 0, attempt_add_arrow_fn);
}

static PyObject *Attempt_add_section(HandleObject *self, PyObject *args) {
    const char *url;
    unsigned long long off, len, rows;
    if (!PyArg_ParseTuple(args, "sKKK:add_section", &url, &off, &len, &rows)) return NULL;
    if (handle_check(self) < 0) return NULL;
    shardy_status st;
    char msg[4096] = "";
    self->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    st = shardy_attempt_add_section(self->handle, url, off, len, rows);
    if (st) snprintf(msg, sizeof msg, "%s", shardy_errmsg());
    Py_END_ALLOW_THREADS
    self->busy = 0;
    if (st) return raise_status_msg(st, msg);
    Py_RETURN_NONE;
}

/* finish() of AttemptWriter and ExchangeWriter: the C call with the GIL released, its JSON as a dict. */
static PyObject *handle_finish_json(HandleObject *self, shardy_status (*fn)(void *h, char **json)) {
    if (handle_check(self) < 0) return NULL;
    char *json = NULL;
    shardy_status st;
    char msg[4096] = "";
    self->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    st = fn(self->handle, &json);
    if (st) snprintf(msg, sizeof msg, "%s", shardy_errmsg());
    Py_END_ALLOW_THREADS
    self->busy = 0;
    if (st) return raise_status_msg(st, msg);
    PyObject *out = parse_json(json);
    shardy_free(json);
    return out;
}

static shardy_status attempt_finish_fn(void *h, char **json) { return shardy_attempt_finish(h, json); }

static PyObject *Attempt_finish(HandleObject *self, PyObject *Py_UNUSED(ignored)) {
    return handle_finish_json(self, attempt_finish_fn);
}

static PyMethodDef Attempt_methods[] = {
    {"add", (PyCFunction)Attempt_add, METH_VARARGS, "add(key, value: bytes)"},
    {"add_arrow", (PyCFunction)(void (*)(void))Attempt_add_arrow, METH_VARARGS | METH_KEYWORDS,
     "add_arrow(batch, key_col, kind ('binary_col'|'json_cols'), cols=None, skip_col=None)"},
    {"add_section", (PyCFunction)Attempt_add_section, METH_VARARGS,
     "add_section(url, offset, length, rows) — a section of an exchange object (indexed now, sorted at finish)"},
    {"finish", (PyCFunction)Attempt_finish, METH_NOARGS, "finish() -> dict (the attempt result)"},
    HANDLE_METHODS("close() — unfinished: nothing uploaded")};

static PyTypeObject AttemptType = {
    HANDLE_TYPE("AttemptWriter",
                "AttemptWriter(opts, db_id, attempt, stage_id=None, task_attempt_id=None) — one shard attempt",
                Attempt_init, Attempt_methods),
};

/* ---- ExchangeWriter --------------------------------------------------------------------------- */

HANDLE_ADAPTERS(exchange, shardy_exchange_writer, shardy_exchange_open(opts, arg, &h), shardy_exchange_close)
static const handle_kind exchange_kind = {exchange_open_any, exchange_close_any, 0};

static int Exchange_init(HandleObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"opts", "partition", "attempt", NULL};
    PyObject *d;
    unsigned int part, attempt;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OII:ExchangeWriter", kwlist, &d, &part, &attempt)) return -1;
    if (handle_fresh(self) < 0) return -1;
    shardy_exchange_info info = {part, attempt};
    return handle_open_build(self, &exchange_kind, d, &info);
}

static shardy_status exchange_add_arrow_fn(void *h, const struct ArrowArray *a, const struct ArrowSchema *s,
                                           const char *key_col, const shardy_value_spec *spec, const int32_t *ids) {
    return shardy_exchange_add_arrow(h, a, s, key_col, spec, ids);
}

static PyObject *Exchange_add_arrow(HandleObject *self, PyObject *args, PyObject *kw) {
    return handle_add_arrow(self, args, kw, 1, exchange_add_arrow_fn);
}

static shardy_status exchange_finish_fn(void *h, char **json) { return shardy_exchange_finish(h, json); }

static PyObject *Exchange_finish(HandleObject *self, PyObject *Py_UNUSED(ignored)) {
    return handle_finish_json(self, exchange_finish_fn);
}

static PyMethodDef Exchange_methods[] = {
    {"add_arrow", (PyCFunction)(void (*)(void))Exchange_add_arrow, METH_VARARGS | METH_KEYWORDS,
     "add_arrow(batch, key_col, kind, cols=None, skip_col=None, db_ids=bytes of native int32)"},
    {"finish", (PyCFunction)Exchange_finish, METH_NOARGS, "finish() -> dict (url, sections)"},
    HANDLE_METHODS("close() — unfinished: nothing uploaded")};

static PyTypeObject ExchangeType = {
    HANDLE_TYPE("ExchangeWriter",
                "ExchangeWriter(opts, partition, attempt) — stage 1 of a two-stage build (one input partition)",
                Exchange_init, Exchange_methods),
};

/* ---- Run -------------------------------------------------------------------------------------- */

HANDLE_ADAPTERS(run, shardy_run, shardy_run_open(opts, &h), shardy_run_close)
static const handle_kind run_kind = {run_open_any, run_close_any, 0};

static int Run_init(HandleObject *self, PyObject *args, PyObject *kw) {
    return handle_init_build(self, &run_kind, args, kw);
}

static PyObject *Run_get_run_id(HandleObject *self, void *Py_UNUSED(closure)) {
    if (handle_check(self) < 0) return NULL;
    return PyUnicode_FromString(shardy_run_id(self->handle));
}

static PyObject *Run_publish(HandleObject *self, PyObject *args) {
    PyObject *attempts;
    if (!PyArg_ParseTuple(args, "O:publish", &attempts)) return NULL;
    if (handle_check(self) < 0) return NULL;
    PyObject *text = PyObject_CallFunctionObjArgs(json_dumps, attempts, NULL);
    if (!text) return NULL;
    const char *s = PyUnicode_AsUTF8(text);
    if (!s) {
        Py_DECREF(text);
        return NULL;
    }
    char *json = NULL;
    shardy_status st;
    char *msg = PyMem_RawMalloc(8192);
    if (!msg) {
        Py_DECREF(text);
        return PyErr_NoMemory();
    }
    msg[0] = 0;
    self->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    st = shardy_run_publish(self->handle, s, &json);
    if (st) snprintf(msg, 8192, "%s", shardy_errmsg());
    Py_END_ALLOW_THREADS
    self->busy = 0;
    Py_DECREF(text);
    if (st) {
        raise_status_msg(st, msg);
        PyMem_RawFree(msg);
        return NULL;
    }
    PyMem_RawFree(msg);
    PyObject *out = parse_json(json);
    shardy_free(json);
    return out;
}

static PyObject *Run_fail(HandleObject *self, PyObject *args) {
    const char *etype, *message;
    if (!PyArg_ParseTuple(args, "ss:fail", &etype, &message)) return NULL;
    if (handle_check(self) < 0) return NULL;
    shardy_status st;
    char msg[4096] = "";
    self->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    st = shardy_run_fail(self->handle, etype, message);
    if (st) snprintf(msg, sizeof msg, "%s", shardy_errmsg());
    Py_END_ALLOW_THREADS
    self->busy = 0;
    if (st) return raise_status_msg(st, msg);
    Py_RETURN_NONE;
}

static PyMethodDef Run_methods[] = {
    {"publish", (PyCFunction)Run_publish, METH_VARARGS,
     "publish(attempts: list[dict]) -> dict — winners, manifest, _CURRENT, sweep"},
    {"fail", (PyCFunction)Run_fail, METH_VARARGS, "fail(error_type, message) — marks the run failed"},
    HANDLE_METHODS("close() — unpublished: as fail('ShardWriteError', ...)")};

static PyGetSetDef Run_getset[] = {{"run_id", (getter)Run_get_run_id, NULL, "the run id", NULL},
                                   {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject RunType = {
    HANDLE_TYPE("Run", "Run(opts) — the driver side of a distributed build", Run_init, Run_methods),
    .tp_getset = Run_getset,
};

/* ---- CelRouter -------------------------------------------------------------------------------- */

HANDLE_ADAPTERS(cel_router, shardy_cel_router, shardy_cel_router_open(opts, &h), shardy_cel_router_close)
static const handle_kind cel_router_kind = {cel_router_open_any, cel_router_close_any, 1};

static int CelRouter_init(HandleObject *self, PyObject *args, PyObject *kw) {
    return handle_init_build(self, &cel_router_kind, args, kw);
}

/* A bytes object of n native int32 slots, filled by fill() with the GIL released. */
static PyObject *int32_out(int64_t n, PyObject **out, int32_t **p) {
    if (n < 0 || (uint64_t)n > (uint64_t)PY_SSIZE_T_MAX / sizeof(int32_t)) {
        PyErr_SetString(PyExc_ValueError, "Arrow batch length out of range");
        return NULL;
    }
    *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)((size_t)n * sizeof(int32_t)));
    if (!*out) return NULL;
    *p = (int32_t *)PyBytes_AS_STRING(*out);
    return *out;
}

static PyObject *CelRouter_route_arrow(HandleObject *self, PyObject *args) {
    PyObject *batch;
    const char *key_col;
    if (!PyArg_ParseTuple(args, "Os:route_arrow", &batch, &key_col)) return NULL;
    arrow_batch ab;
    if (arrow_batch_get(batch, &ab) < 0) return NULL;
    PyObject *out = NULL;
    int32_t *ids = NULL;
    if (!int32_out(ab.array->length, &out, &ids)) {
        arrow_batch_release(&ab);
        return NULL;
    }
    if (handle_enter(self) < 0) {
        Py_DECREF(out);
        arrow_batch_release(&ab);
        return NULL;
    }
    shardy_status st;
    char msg[4096] = "";
    Py_BEGIN_ALLOW_THREADS
    st = shardy_arrow_route_cel(self->handle, ab.array, ab.schema, key_col, ids);
    if (st) snprintf(msg, sizeof msg, "%s", shardy_errmsg());
    Py_END_ALLOW_THREADS
    handle_leave(self);
    arrow_batch_release(&ab);
    if (st) {
        Py_DECREF(out);
        return raise_status_msg(st, msg);
    }
    return out;
}

static PyObject *CelRouter_route(HandleObject *self, PyObject *args) {
    PyObject *ctx;
    if (!PyArg_ParseTuple(args, "O:route", &ctx)) return NULL;
    shardy_cel_arg *a = NULL;
    size_t na = 0;
    if (ctx_to_cel_args(ctx, &a, &na) < 0) return NULL;
    if (handle_enter(self) < 0) {
        PyMem_Free(a);
        return NULL;
    }
    uint32_t db = 0;
    shardy_status st = shardy_cel_router_route(self->handle, a, na, &db);
    handle_leave(self);
    PyMem_Free(a);
    if (st) return raise_status(st);
    return PyLong_FromUnsignedLong(db);
}

static PyMethodDef CelRouter_methods[] = {
    {"route_arrow", (PyCFunction)CelRouter_route_arrow, METH_VARARGS,
     "route_arrow(batch, key_col) -> bytes of native int32 db ids, one per row"},
    {"route", (PyCFunction)CelRouter_route, METH_VARARGS, "route(ctx: dict) -> db_id"},
    HANDLE_METHODS("close()")};

static PyTypeObject CelRouterType = {
    HANDLE_TYPE("CelRouter", "CelRouter(opts) — compiled CEL routing for Arrow batches (thread-safe)", CelRouter_init,
                CelRouter_methods),
};

/* ---- route_hash_arrow --------------------------------------------------------------------------- */

static PyObject *mod_route_hash_arrow(PyObject *Py_UNUSED(m), PyObject *args) {
    PyObject *batch;
    const char *key_col;
    long long num_dbs;
    if (!PyArg_ParseTuple(args, "OsL:route_hash_arrow", &batch, &key_col, &num_dbs)) return NULL;
    if (num_dbs <= 0) {
        PyErr_Format(PyExc_ValueError, "num_dbs must be > 0, got %lld", num_dbs);
        return NULL;
    }
    arrow_batch ab;
    if (arrow_batch_get(batch, &ab) < 0) return NULL;
    PyObject *out = NULL;
    int32_t *ids = NULL;
    if (!int32_out(ab.array->length, &out, &ids)) {
        arrow_batch_release(&ab);
        return NULL;
    }
    shardy_status st;
    char msg[4096] = "";
    Py_BEGIN_ALLOW_THREADS
    st = shardy_arrow_route_hash(ab.array, ab.schema, key_col, (uint64_t)num_dbs, ids);
    if (st) snprintf(msg, sizeof msg, "%s", shardy_errmsg());
    Py_END_ALLOW_THREADS
    arrow_batch_release(&ab);
    if (st) {
        Py_DECREF(out);
        return raise_status_msg(st, msg);
    }
    return out;
}

#define DISTRIBUTED_METHODS                                                                                 \
    {"route_hash_arrow", mod_route_hash_arrow, METH_VARARGS,                                               \
     "route_hash_arrow(batch, key_col, num_dbs) -> bytes of native int32 db ids, one per row"},

static int distributed_init(PyObject *m) {
    if (add_type(m, &AttemptType, "AttemptWriter") < 0 || add_type(m, &RunType, "Run") < 0 ||
        add_type(m, &CelRouterType, "CelRouter") < 0 || add_type(m, &ExchangeType, "ExchangeWriter") < 0)
        return -1;
    return 0;
}

#endif /* SHARDY_NATIVE_DISTRIBUTED_H */
