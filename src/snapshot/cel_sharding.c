/* cel_sharding.c — manifest sharding objects ↔ CEL routers; see cel_sharding.h. */
#include "snapshot/cel_sharding.h"

#include <string.h>

#include "core/alloc.h"

shardy_status sy_sharding_cel_router(const sy_sharding *sh, int64_t num_dbs, sy_cel_router **out) {
    shardy_status st = SHARDY_OK;
    sy_cel_colspec *cols = NULL;
    sy_cel_value *vals = NULL;
    if (!sh || !out) return sy_err(SHARDY_EINVAL, "sy_sharding_cel_router: NULL argument");
    *out = NULL;
    if (sh->strategy != SY_STRATEGY_CEL) return sy_err(SHARDY_EINVAL, "the sharding strategy is not cel");
    cols = sy_calloc(sh->n_cel_columns ? sh->n_cel_columns : 1, sizeof *cols);
    vals = sy_calloc(sh->n_routing_values ? sh->n_routing_values : 1, sizeof *vals);
    if (!cols || !vals) {
        st = sy_err(SHARDY_ENOMEM, "out of memory building a CEL router");
        goto done;
    }
    for (size_t i = 0; i < sh->n_cel_columns; i++) {
        cols[i].name = sh->cel_columns[i].name;
        cols[i].type = sh->cel_columns[i].type;
    }
    for (size_t i = 0; i < sh->n_routing_values; i++) {
        const sy_scalar *v = &sh->routing_values[i];
        switch (v->kind) {
        case SY_SCALAR_INT: vals[i] = sy_cel_int(v->i); break;
        case SY_SCALAR_UINT: vals[i] = sy_cel_uint(v->u); break;
        case SY_SCALAR_STR: vals[i] = sy_cel_str(v->str ? v->str : "", v->len); break;
        default:
            st = sy_err(SHARDY_EINVAL, "routing value %zu is not an int or a string", i);
            goto done;
        }
    }
    st = sy_cel_router_new(sh->cel_expr, cols, sh->n_cel_columns, sh->has_routing_values ? vals : NULL,
                           sh->has_routing_values ? sh->n_routing_values : 0, sh->has_routing_values, num_dbs, out);
done:
    sy_free(cols);
    sy_free(vals);
    return st;
}

shardy_status sy_sharding_set_routing_values(sy_sharding *sh, const sy_cel_value *values, size_t n) {
    shardy_status st = SHARDY_OK;
    if (!sh || (!values && n)) return sy_err(SHARDY_EINVAL, "sy_sharding_set_routing_values: NULL argument");
    for (size_t i = 0; i < sh->n_routing_values; i++) sy_scalar_clear(&sh->routing_values[i]);
    sy_free(sh->routing_values);
    sh->routing_values = NULL;
    sh->n_routing_values = 0;
    for (size_t i = 0; i < n; i++) {
        sy_scalar s;
        memset(&s, 0, sizeof s);
        switch (values[i].kind) {
        case SY_CEL_INT:
            s.kind = SY_SCALAR_INT;
            s.i = values[i].v.i;
            break;
        case SY_CEL_UINT:
            if (values[i].v.u <= (uint64_t)INT64_MAX) {
                s.kind = SY_SCALAR_INT;
                s.i = (int64_t)values[i].v.u;
            } else {
                s.kind = SY_SCALAR_UINT;
                s.u = values[i].v.u;
            }
            break;
        case SY_CEL_STRING:
            s.kind = SY_SCALAR_STR;
            s.str = (char *)values[i].v.s; /* copied by add_routing_value */
            s.len = values[i].len;
            break;
        default: return sy_err(SHARDY_EINVAL, "routing value %zu must be an int or a string", i);
        }
        SY_TRY(sy_sharding_add_routing_value(sh, &s));
    }
    sh->has_routing_values = 1;
done:
    return st;
}
