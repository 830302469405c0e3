/* wcel.c — CEL routing for the native builder; see wcel.h. */
#include "write/wcel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "snapshot/cel_sharding.h"

struct sy_wcel {
    sy_cel_router *r;
    char *expr;
    char **names, **types; /* ncols each, owned */
    size_t ncols;
    int categorical;
    sy_cel_value *values;  /* routing values (strings point into vtext) */
    char **vtext;
    size_t nvalues;
    sy_cel_value *args;    /* nvars */
    size_t nvars;
    int key_idx;           /* variable `key`, or -1 */
    sy_cel_kind key_kind;
};

void sy_wcel_free(sy_wcel **pw) {
    sy_wcel *w = pw ? *pw : NULL;
    if (!w) return;
    sy_cel_router_free(&w->r);
    sy_free(w->expr);
    for (size_t i = 0; i < w->ncols; i++) {
        if (w->names) sy_free(w->names[i]);
        if (w->types) sy_free(w->types[i]);
    }
    sy_free(w->names);
    sy_free(w->types);
    for (size_t i = 0; i < w->nvalues && w->vtext; i++) sy_free(w->vtext[i]);
    sy_free(w->vtext);
    sy_free(w->values);
    sy_free(w->args);
    sy_free(w);
    *pw = NULL;
}

static shardy_status parse_int_value(const char *t, sy_cel_value *out) {
    char *end = NULL;
    errno = 0;
    if (!*t) return sy_err(SHARDY_EINVAL, "routing value '' is not an integer");
    if (t[0] == '-') {
        long long v = strtoll(t, &end, 10);
        if (errno || *end) return sy_err(SHARDY_EINVAL, "routing value '%.100s' is not an integer", t);
        *out = sy_cel_int(v);
    } else {
        unsigned long long v = strtoull(t, &end, 10);
        if (errno || *end || t[0] == '+' || t[0] == ' ')
            return sy_err(SHARDY_EINVAL, "routing value '%.100s' is not an integer", t);
        *out = v > (unsigned long long)INT64_MAX ? sy_cel_uint(v) : sy_cel_int((int64_t)v);
    }
    return SHARDY_OK;
}

shardy_status sy_wcel_open(const shardy_build_opts *o, sy_wcel **out) {
    shardy_status st = SHARDY_OK;
    sy_cel_colspec *cols = NULL;
    *out = NULL;
    if (!o->cel_expr) {
        if (o->n_cel_columns || o->routing_values)
            return sy_err(SHARDY_EINVAL, "cel_columns and routing_values need cel_expr");
        return SHARDY_OK;
    }
    if (!o->n_cel_columns || !o->cel_columns)
        return sy_err(SHARDY_EINVAL, "cel_sharding requires at least one column");
    sy_wcel *w = sy_calloc(1, sizeof *w);
    if (!w) return sy_err(SHARDY_ENOMEM, "out of memory for CEL routing");
    w->expr = sy_strdup(o->cel_expr);
    w->names = sy_calloc(o->n_cel_columns, sizeof *w->names);
    w->types = sy_calloc(o->n_cel_columns, sizeof *w->types);
    cols = sy_calloc(o->n_cel_columns, sizeof *cols);
    w->categorical = o->routing_values != NULL;
    w->nvalues = w->categorical ? o->n_routing_values : 0;
    w->values = sy_calloc(w->nvalues ? w->nvalues : 1, sizeof *w->values);
    w->vtext = sy_calloc(w->nvalues ? w->nvalues : 1, sizeof *w->vtext);
    if (!w->expr || !w->names || !w->types || !cols || !w->values || !w->vtext)
        SY_TRY(sy_err(SHARDY_ENOMEM, "out of memory for CEL routing"));
    for (size_t i = 0; i < o->n_cel_columns; i++) {
        const char *spec = o->cel_columns[i];
        const char *colon = spec ? strchr(spec, ':') : NULL;
        if (!colon || colon == spec || !colon[1])
            SY_TRY(sy_err(SHARDY_EINVAL, "CEL column '%.100s' must be NAME:TYPE (e.g. region:string)", spec ? spec : "(null)"));
        w->names[i] = sy_strndup(spec, (size_t)(colon - spec));
        w->types[i] = sy_strdup(colon + 1);
        w->ncols++;
        if (!w->names[i] || !w->types[i]) SY_TRY(sy_err(SHARDY_ENOMEM, "out of memory for CEL routing"));
        cols[i].name = w->names[i];
        cols[i].type = w->types[i];
    }
    for (size_t i = 0; i < w->nvalues; i++) {
        const char *t = o->routing_values[i];
        if (!t) SY_TRY(sy_err(SHARDY_EINVAL, "routing value %zu is NULL", i));
        if (o->routing_values_are_ints) {
            SY_TRY(parse_int_value(t, &w->values[i]));
        } else {
            if (!(w->vtext[i] = sy_strdup(t))) SY_TRY(sy_err(SHARDY_ENOMEM, "out of memory for CEL routing"));
            w->values[i] = sy_cel_str(w->vtext[i], strlen(t));
        }
    }
    SY_TRY(sy_cel_router_new(w->expr, cols, w->ncols, w->categorical ? w->values : NULL, w->nvalues, w->categorical, 0,
                             &w->r));
    w->nvars = sy_cel_router_nvars(w->r);
    w->args = sy_calloc(w->nvars ? w->nvars : 1, sizeof *w->args);
    if (!w->args) SY_TRY(sy_err(SHARDY_ENOMEM, "out of memory for CEL routing"));
    w->key_idx = sy_cel_router_var_index(w->r, "key");
    if (w->key_idx >= 0) w->key_kind = sy_cel_router_var_kind(w->r, (size_t)w->key_idx);
done:
    sy_free(cols);
    if (st) {
        sy_wcel_free(&w);
        return st;
    }
    *out = w;
    return SHARDY_OK;
}

uint32_t sy_wcel_fixed_num_dbs(const sy_wcel *w) {
    return w->categorical ? (w->nvalues ? (uint32_t)w->nvalues : 1u) : 0u;
}

const sy_cel_router *sy_wcel_router(const sy_wcel *w) { return w->r; }

sy_cel_value *sy_wcel_args(sy_wcel *w) {
    memset(w->args, 0, w->nvars * sizeof *w->args);
    return w->args;
}

shardy_status sy_wcel_route_values(const sy_wcel *w, const shardy_key *key, sy_cel_value *args, uint32_t *db) {
    shardy_status st;
    if (w->key_idx >= 0 && args[w->key_idx].kind == SY_CEL_UNSET && key) {
        st = sy_cel_value_from_key(key, w->key_kind, &args[w->key_idx]);
        if (st) return st;
    }
    st = sy_cel_router_route(w->r, args, db);
    if (st == SHARDY_ENOTFOUND) return SHARDY_EROUTE; /* ShardAssignmentError; message kept */
    return st;
}

shardy_status sy_wcel_route(sy_wcel *w, const shardy_key *key, uint32_t *db) {
    return sy_wcel_route_values(w, key, w->args, db);
}

static sy_cel_value arg_value(const shardy_cel_arg *a) {
    static const sy_cel_value unset = {SY_CEL_UNSET, 0, {.u = 0}, 0};
    switch (a->type) {
    case SHARDY_CEL_NULL: return sy_cel_null();
    case SHARDY_CEL_BOOL: return sy_cel_bool(a->b);
    case SHARDY_CEL_INT: return sy_cel_int(a->i);
    case SHARDY_CEL_UINT: return sy_cel_uint(a->u);
    case SHARDY_CEL_DOUBLE: return sy_cel_double(a->d);
    case SHARDY_CEL_STRING: return sy_cel_str(a->data ? a->data : "", a->len);
    case SHARDY_CEL_BYTES: return sy_cel_bytes(a->data ? a->data : "", a->len);
    default: return unset;
    }
}

shardy_status sy_wcel_bind_args(const sy_wcel *w, const shardy_cel_arg *args, size_t nargs, sy_cel_value *v) {
    if (nargs && !args) return sy_err(SHARDY_EINVAL, "CEL routing: NULL arguments");
    for (size_t i = 0; i < nargs; i++) {
        int idx;
        if (args[i].name) {
            idx = sy_cel_router_var_index(w->r, args[i].name);
            if (idx < 0) return sy_err(SHARDY_EINVAL, "'%.100s' is not one of the CEL columns", args[i].name);
        } else {
            if (i >= w->nvars) return sy_err(SHARDY_EINVAL, "positional CEL argument %zu: only %zu columns", i, w->nvars);
            idx = (int)i;
        }
        if (args[i].type == SHARDY_CEL_STRING && !sy_utf8_valid(args[i].data ? args[i].data : "", args[i].len))
            return sy_err(SHARDY_EROUTE, "CEL column '%s': string value is not valid UTF-8",
                          sy_cel_router_var_name(w->r, (size_t)idx));
        v[idx] = arg_value(&args[i]);
    }
    return SHARDY_OK;
}

shardy_status sy_wcel_route_args(sy_wcel *w, const shardy_key *key, const shardy_cel_arg *args, size_t nargs,
                                 uint32_t *db) {
    shardy_status st = sy_wcel_bind_args(w, args, nargs, sy_wcel_args(w));
    if (st) return st;
    return sy_wcel_route(w, key, db);
}

shardy_status sy_wcel_sharding(const sy_wcel *w, sy_sharding *sh) {
    shardy_status st = SHARDY_OK;
    sy_sharding_clear(sh);
    sh->strategy = SY_STRATEGY_CEL;
    if (!(sh->cel_expr = sy_strdup(w->expr))) return sy_err(SHARDY_ENOMEM, "out of memory building the manifest");
    for (size_t i = 0; i < w->ncols; i++) SY_TRY(sy_sharding_add_cel_column(sh, w->names[i], w->types[i]));
    if (w->categorical) SY_TRY(sy_sharding_set_routing_values(sh, w->values, w->nvalues));
done:
    return st;
}
