/* open_cfg.c — opens a store from the S3 settings of the public option structs (shardy.h:
 * s3_options, credentials_file, credentials_profile): profile first, then the KEY=VALUE options. */
#include <string.h>

#include "core/alloc.h"
#include "store/s3.h"
#include "store/store.h"

shardy_status sy_store_open_cfg(const char *url, const char *const *s3_options, size_t n_s3_options,
                                const char *credentials_file, const char *credentials_profile,
                                sy_store **out) {
    shardy_status st = SHARDY_OK;
    sy_s3_opts o;
    sy_s3_opts_init(&o);
    if (!out) return sy_err(SHARDY_EINVAL, "sy_store_open_cfg: NULL output pointer");
    *out = NULL;
    if (n_s3_options && !s3_options) return sy_err(SHARDY_EINVAL, "s3_options is NULL but n_s3_options is %zu", n_s3_options);
    if (credentials_profile && *credentials_profile && !(credentials_file && *credentials_file))
        return sy_err(SHARDY_EINVAL, "credentials_profile '%s' given without credentials_file", credentials_profile);
    if (credentials_file && *credentials_file) {
        st = sy_s3_opts_load_profile(&o, credentials_file,
                                     credentials_profile && *credentials_profile ? credentials_profile : NULL, NULL);
        if (st != SHARDY_OK) goto done;
    }
    for (size_t i = 0; i < n_s3_options; i++) {
        const char *kv = s3_options[i];
        const char *eq = kv ? strchr(kv, '=') : NULL;
        if (!kv || !eq || eq == kv) {
            /* No value is echoed: a mistyped option might carry a secret. */
            st = sy_err(SHARDY_EINVAL, "s3_options[%zu] must be KEY=VALUE", i);
            goto done;
        }
        st = sy_s3_opts_parse(&o, kv);
        if (st != SHARDY_OK) {
            st = sy_err_wrap(SHARDY_EINVAL, "s3_options[%zu] (%.*s)", i, (int)(eq - kv > 64 ? 64 : eq - kv), kv);
            goto done;
        }
    }
    {
        sy_store_opts so = {&o};
        st = sy_store_open_opts(url, &so, out);
    }
done:
    sy_s3_opts_free(&o);
    return st;
}
