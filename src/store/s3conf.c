/*
 * s3conf.c — S3 connection options: defaults, the KEY=VALUE parser (--s3-option), shardyfusion
 * credentials.toml profiles, the AWS shared credentials/config files, and the resolution of all of
 * it (plus the environment) into the sy_s3_config a store runs with. See s3.h for the rules.
 *
 * Owns: the strings of sy_s3_opts and sy_s3_config. Invariants: a resolved config always has an
 * endpoint host, a region, an addressing style, and either both access key and secret or neither.
 * Failure behaviour: setters leave the options unchanged on failure; messages name the option, the
 * file and line, never a secret value (values of identity fields are never quoted).
 * Thread-safety: no shared state; getenv is only read.
 */
#include "store/s3.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/toml.h"

/* ------------------------------------------------------------------------------------------ */
/* Options                                                                                     */

void sy_s3_opts_init(sy_s3_opts *o) {
    memset(o, 0, sizeof *o);
    o->addressing_style = SY_S3_ADDR_UNSET;
    o->verify_ssl = SY_S3_UNSET;
    o->connect_timeout = SY_S3_UNSET;
    o->read_timeout = SY_S3_UNSET;
    o->max_attempts = SY_S3_UNSET;
    o->part_size = SY_S3_UNSET;
    o->multipart_threshold = SY_S3_UNSET;
    o->parallel_parts = SY_S3_UNSET;
    o->retry_base_ms = SY_S3_UNSET;
    o->retry_cap_ms = SY_S3_UNSET;
}

/* Overwrites a secret before freeing it, so it does not linger in freed heap memory. */
static void free_secret(char *s) {
    if (!s) return;
    volatile char *p = s;
    while (*p) *p++ = '\0';
    sy_free(s);
}

void sy_s3_opts_free(sy_s3_opts *o) {
    if (!o) return;
    sy_free(o->endpoint_url);
    sy_free(o->region);
    sy_free(o->access_key_id);
    free_secret(o->secret_access_key);
    free_secret(o->session_token);
    sy_free(o->aws_profile);
    sy_free(o->ca_bundle);
    sy_s3_opts_init(o);
}

shardy_status sy_s3_opts_set_str(char **field, const char *value) {
    char *copy = NULL;
    if (value && *value && !(copy = sy_strdup(value))) return sy_err(SHARDY_ENOMEM, "S3 options: out of memory");
    if (field == NULL) {
        sy_free(copy);
        return sy_err(SHARDY_EINVAL, "S3 options: field is NULL");
    }
    free_secret(*field);
    *field = copy;
    return SHARDY_OK;
}

shardy_status sy_s3_opts_copy(sy_s3_opts *dst, const sy_s3_opts *src) {
    shardy_status st = SHARDY_OK;
    sy_s3_opts_init(dst);
    if (!src) return SHARDY_OK;
    *dst = *src;
    dst->endpoint_url = dst->region = dst->access_key_id = dst->secret_access_key = NULL;
    dst->session_token = dst->aws_profile = dst->ca_bundle = NULL;
    SY_TRY(sy_s3_opts_set_str(&dst->endpoint_url, src->endpoint_url));
    SY_TRY(sy_s3_opts_set_str(&dst->region, src->region));
    SY_TRY(sy_s3_opts_set_str(&dst->access_key_id, src->access_key_id));
    SY_TRY(sy_s3_opts_set_str(&dst->secret_access_key, src->secret_access_key));
    SY_TRY(sy_s3_opts_set_str(&dst->session_token, src->session_token));
    SY_TRY(sy_s3_opts_set_str(&dst->aws_profile, src->aws_profile));
    SY_TRY(sy_s3_opts_set_str(&dst->ca_bundle, src->ca_bundle));
done:
    if (st) sy_s3_opts_free(dst);
    return st;
}

/* Copies v without surrounding white space into buf (NUL-terminated); 0 if it does not fit. */
static int trimmed(const char *v, char *buf, size_t cap) {
    while (isspace((unsigned char)*v)) v++;
    size_t n = strlen(v);
    while (n && isspace((unsigned char)v[n - 1])) n--;
    if (n >= cap) return 0;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return 1;
}

static shardy_status parse_bool(const char *key, const char *v, int *out) {
    char t[16];
    if (trimmed(v, t, sizeof t)) {
        if (!strcasecmp(t, "true") || !strcmp(t, "1") || !strcasecmp(t, "yes")) {
            *out = 1;
            return SHARDY_OK;
        }
        if (!strcasecmp(t, "false") || !strcmp(t, "0") || !strcasecmp(t, "no")) {
            *out = 0;
            return SHARDY_OK;
        }
    }
    return sy_err(SHARDY_EINVAL, "Cannot coerce '%.100s' to bool for option '%s'", v, key);
}

/* A decimal integer in [min, max]; with sizes, an optional K/M/G suffix (optionally "iB"). */
static shardy_status parse_int(const char *key, const char *v, long long min, long long max, int sizes,
                               long long *out) {
    char t[64];
    char *end = NULL;
    long long x = 0;
    if (!trimmed(v, t, sizeof t) || !t[0]) goto bad;
    errno = 0;
    x = strtoll(t, &end, 10);
    if (end == t || errno == ERANGE) goto bad;
    if (sizes && *end) {
        long long mul = 1;
        switch (toupper((unsigned char)*end)) {
        case 'K': mul = 1ll << 10; break;
        case 'M': mul = 1ll << 20; break;
        case 'G': mul = 1ll << 30; break;
        default: goto bad;
        }
        end++;
        if (!strcasecmp(end, "iB") || !strcasecmp(end, "B")) end += strlen(end);
        if (x > LLONG_MAX / mul || x < LLONG_MIN / mul) goto bad;
        x *= mul;
    }
    if (*end) goto bad;
    if (x < min || x > max)
        return sy_err(SHARDY_EINVAL, "S3 option '%s' must be between %lld and %lld, got %lld", key, min, max, x);
    *out = x;
    return SHARDY_OK;
bad:
    return sy_err(SHARDY_EINVAL, "Cannot coerce '%.100s' to int for option '%s'", v, key);
}

static shardy_status parse_addressing(const char *v, sy_s3_addressing *out) {
    char t[16];
    if (trimmed(v, t, sizeof t)) {
        if (!strcasecmp(t, "path")) *out = SY_S3_ADDR_PATH;
        else if (!strcasecmp(t, "virtual")) *out = SY_S3_ADDR_VIRTUAL;
        else if (!strcasecmp(t, "auto")) *out = SY_S3_ADDR_AUTO;
        else goto bad;
        return SHARDY_OK;
    }
bad:
    return sy_err(SHARDY_EINVAL, "S3 option 'addressing_style' must be path, virtual or auto, got '%.100s'", v);
}

static shardy_status check_signature_version(const char *v) {
    if (!strcmp(v, "s3v4") || !strcmp(v, "s3")) return SHARDY_OK;
    return sy_err(SHARDY_EINVAL, "S3 option 'signature_version' must be s3v4 or s3, got '%.100s'", v);
}

#define KNOWN_KEYS                                                                                 \
    "endpoint_url, region_name, addressing_style, signature_version, verify_ssl, connect_timeout, " \
    "read_timeout, max_attempts, multipart_part_size, multipart_threshold, multipart_parallel, "    \
    "retry_base_ms, retry_cap_ms"

shardy_status sy_s3_opts_set(sy_s3_opts *o, const char *key, const char *value) {
    long long x = 0;
    shardy_status st = SHARDY_OK;
    if (!o || !key || !value) return sy_err(SHARDY_EINVAL, "S3 option: NULL argument");
    if (!strcmp(key, "endpoint_url")) return sy_s3_opts_set_str(&o->endpoint_url, value);
    if (!strcmp(key, "region_name") || !strcmp(key, "region")) return sy_s3_opts_set_str(&o->region, value);
    if (!strcmp(key, "addressing_style")) return parse_addressing(value, &o->addressing_style);
    if (!strcmp(key, "signature_version")) return check_signature_version(value);
    if (!strcmp(key, "verify_ssl")) {
        int b = 0;
        SY_TRY(parse_bool(key, value, &b));
        o->verify_ssl = b;
    } else if (!strcmp(key, "connect_timeout") || !strcmp(key, "read_timeout")) {
        SY_TRY(parse_int(key, value, 0, 86400 * 7, 0, &x));
        if (key[0] == 'c') o->connect_timeout = (long)x;
        else o->read_timeout = (long)x;
    } else if (!strcmp(key, "max_attempts")) {
        SY_TRY(parse_int(key, value, 1, 100, 0, &x));
        o->max_attempts = (int)x;
    } else if (!strcmp(key, "multipart_part_size")) {
        SY_TRY(parse_int(key, value, SY_S3_MIN_PART_SIZE, SY_S3_MAX_PART_SIZE, 1, &x));
        o->part_size = x;
    } else if (!strcmp(key, "multipart_threshold")) {
        SY_TRY(parse_int(key, value, 1, 5ll << 40, 1, &x));
        o->multipart_threshold = x;
    } else if (!strcmp(key, "multipart_parallel")) {
        SY_TRY(parse_int(key, value, 1, 64, 0, &x));
        o->parallel_parts = (int)x;
    } else if (!strcmp(key, "retry_base_ms") || !strcmp(key, "retry_cap_ms")) {
        SY_TRY(parse_int(key, value, 0, 3600 * 1000, 0, &x));
        if (!strcmp(key, "retry_base_ms")) o->retry_base_ms = (long)x;
        else o->retry_cap_ms = (long)x;
    } else if (!strcmp(key, "access_key_id") || !strcmp(key, "secret_access_key") ||
               !strcmp(key, "session_token")) {
        st = sy_err(SHARDY_EINVAL,
                    "S3 option '%s' cannot be given on the command line (it would show in process "
                    "listings); use a credentials.toml profile or the AWS_* environment variables",
                    key);
    } else {
        st = sy_err(SHARDY_EINVAL, "unknown S3 option '%.100s' (known: " KNOWN_KEYS ")", key);
    }
done:
    return st;
}

shardy_status sy_s3_opts_parse(sy_s3_opts *o, const char *kv) {
    char key[64];
    const char *eq = kv ? strchr(kv, '=') : NULL;
    if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof key)
        return sy_err(SHARDY_EINVAL, "--s3-option expects KEY=VALUE, got '%.100s'", kv ? kv : "(null)");
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = '\0';
    return sy_s3_opts_set(o, key, eq + 1);
}

/* ------------------------------------------------------------------------------------------ */
/* credentials.toml                                                                            */

static shardy_status profile_str(const sy_toml_value *v, const char *path, const char *key, char **field) {
    if (v->type != SY_TOML_STRING)
        return sy_err(SHARDY_EINVAL, "%s:%d: '%s' must be a string", path, v->line, key);
    return sy_s3_opts_set_str(field, v->str);
}

static shardy_status profile_int(const sy_toml_value *v, const char *path, const char *key, long long min,
                                 long long max, long long *out) {
    if (v->type != SY_TOML_INT)
        return sy_err(SHARDY_EINVAL, "%s:%d: '%s' must be an integer", path, v->line, key);
    if (v->i < min || v->i > max)
        return sy_err(SHARDY_EINVAL, "%s:%d: '%s' must be between %lld and %lld, got %lld", path, v->line,
                      key, min, max, v->i);
    *out = v->i;
    return SHARDY_OK;
}

/* Applies one table of a credentials.toml to o (a scratch copy). */
static shardy_status apply_profile(sy_s3_opts *o, const sy_toml *doc, const char *path, const char *name) {
    shardy_status st = SHARDY_OK;
    static const char *const strs[] = {"endpoint_url", "region", "access_key_id", "secret_access_key",
                                       "session_token"};
    char **fields[] = {&o->endpoint_url, &o->region, &o->access_key_id, &o->secret_access_key,
                       &o->session_token};
    const sy_toml_value *v;
    long long x = 0;
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if ((v = sy_toml_get(doc, name, strs[i])) != NULL) {
            if (v->type == SY_TOML_STRING && !v->str[0]) continue; /* "" counts as absent */
            SY_TRY(profile_str(v, path, strs[i], fields[i]));
        }
    }
    if ((v = sy_toml_get(doc, name, "addressing_style")) && !(v->type == SY_TOML_STRING && !v->str[0])) {
        if (v->type != SY_TOML_STRING) {
            st = sy_err(SHARDY_EINVAL, "%s:%d: 'addressing_style' must be a string", path, v->line);
            goto done;
        }
        if ((st = parse_addressing(v->str, &o->addressing_style))) {
            st = sy_err_wrap(st, "%s:%d", path, v->line);
            goto done;
        }
    }
    if ((v = sy_toml_get(doc, name, "signature_version")) && !(v->type == SY_TOML_STRING && !v->str[0])) {
        if (v->type != SY_TOML_STRING || check_signature_version(v->str)) {
            st = sy_err(SHARDY_EINVAL, "%s:%d: 'signature_version' must be \"s3v4\" or \"s3\"", path, v->line);
            goto done;
        }
    }
    o->verify_ssl = 1;
    if ((v = sy_toml_get(doc, name, "verify_ssl")) != NULL) {
        if (v->type == SY_TOML_BOOL) {
            o->verify_ssl = v->b;
        } else if (v->type == SY_TOML_STRING) {
            SY_TRY(sy_s3_opts_set_str(&o->ca_bundle, v->str)); /* a CA bundle path */
        } else {
            st = sy_err(SHARDY_EINVAL, "%s:%d: 'verify_ssl' must be a boolean or a CA bundle path", path,
                        v->line);
            goto done;
        }
    }
    o->connect_timeout = SY_S3_DEFAULT_CONNECT_TIMEOUT;
    o->read_timeout = SY_S3_DEFAULT_READ_TIMEOUT;
    o->max_attempts = SY_S3_PROFILE_MAX_ATTEMPTS;
    if ((v = sy_toml_get(doc, name, "connect_timeout"))) {
        SY_TRY(profile_int(v, path, "connect_timeout", 0, 86400 * 7, &x));
        o->connect_timeout = (long)x;
    }
    if ((v = sy_toml_get(doc, name, "read_timeout"))) {
        SY_TRY(profile_int(v, path, "read_timeout", 0, 86400 * 7, &x));
        o->read_timeout = (long)x;
    }
    if ((v = sy_toml_get(doc, name, "max_attempts"))) {
        SY_TRY(profile_int(v, path, "max_attempts", 1, 100, &x));
        o->max_attempts = (int)x;
    }
done:
    return st;
}

shardy_status sy_s3_opts_load_profile(sy_s3_opts *o, const char *path, const char *profile, char **warning) {
    shardy_status st = SHARDY_OK;
    sy_toml doc = SY_TOML_INIT;
    sy_s3_opts work;
    struct stat sb;
    const char *name = profile && *profile ? profile : "default";
    sy_s3_opts_init(&work);
    if (warning) *warning = NULL;
    if (!o || !path || !*path) return sy_err(SHARDY_EINVAL, "load credentials profile: NULL argument");
    SY_TRY(sy_toml_load(path, &doc));
    if (!sy_toml_has_table(&doc, name)) {
        st = sy_err(SHARDY_ENOTFOUND, "Credentials profile '%s' not found in %s", name, path);
        goto done;
    }
    SY_TRY(sy_s3_opts_copy(&work, o));
    SY_TRY(apply_profile(&work, &doc, path, name));
    if (warning && stat(path, &sb) == 0 && (sb.st_mode & 077)) {
        *warning = sy_asprintf("Warning: credentials file %s has permissions 0o%o \xE2\x80\x94 consider "
                               "restricting to 0600.", path, (unsigned)(sb.st_mode & 0777));
        if (!*warning) {
            st = sy_err(SHARDY_ENOMEM, "load credentials profile: out of memory");
            goto done;
        }
    }
    sy_s3_opts_free(o);
    *o = work;
    sy_s3_opts_init(&work);
done:
    sy_s3_opts_free(&work);
    sy_toml_free(&doc);
    return st;
}

static const char *env(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

shardy_status sy_s3_credentials_file(const char *explicit_path, char **out) {
    const char *home = env("HOME");
    char *p = NULL;
    if (!out) return sy_err(SHARDY_EINVAL, "credentials file: out is NULL");
    *out = NULL;
    if (explicit_path && *explicit_path) p = sy_strdup(explicit_path);
    else if (env("SHARDY_CREDENTIALS")) p = sy_strdup(env("SHARDY_CREDENTIALS"));
    else if (file_exists("credentials.toml")) p = sy_strdup("credentials.toml");
    else if (home) {
        p = sy_asprintf("%s/.config/shardy/credentials.toml", home);
        if (p && !file_exists(p)) {
            sy_free(p);
            return SHARDY_OK;
        }
    } else return SHARDY_OK;
    if (!p) return sy_err(SHARDY_ENOMEM, "credentials file: out of memory");
    *out = p;
    return SHARDY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* AWS shared files (INI: [section], key = value, '#'/';' comments; indented lines are
 * sub-settings of the previous key and are skipped)                                          */

typedef struct aws_vals {
    char *access_key_id, *secret_access_key, *session_token, *region, *endpoint_url;
} aws_vals;

static void aws_vals_free(aws_vals *a) {
    sy_free(a->access_key_id);
    free_secret(a->secret_access_key);
    free_secret(a->session_token);
    sy_free(a->region);
    sy_free(a->endpoint_url);
    memset(a, 0, sizeof *a);
}

/* Reads section `section` of an AWS INI file into a (fields already set are kept). A missing file
 * is not an error; an unreadable one is. */
static shardy_status aws_ini_read(const char *path, const char *section, aws_vals *a) {
    shardy_status st = SHARDY_OK;
    char line[4096];
    int in = 0, lineno = 0;
    FILE *fp = fopen(path, "r");
    if (!fp) {
        if (errno == ENOENT || errno == ENOTDIR) return SHARDY_OK;
        return sy_err_errno(errno, "open AWS shared file", path);
    }
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            st = sy_err(SHARDY_EFORMAT, "%s:%d: line too long", path, lineno);
            goto done;
        }
        if (line[0] == ' ' || line[0] == '\t') continue; /* nested sub-setting */
        char *s = line;
        while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
        if (!*s || *s == '#' || *s == ';') continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (!end) {
                st = sy_err(SHARDY_EFORMAT, "%s:%d: section header without ']'", path, lineno);
                goto done;
            }
            *end = '\0';
            char *name = s + 1;
            while (isspace((unsigned char)*name)) name++;
            size_t nl = strlen(name);
            while (nl && isspace((unsigned char)name[nl - 1])) name[--nl] = '\0';
            in = !strcmp(name, section);
            continue;
        }
        if (!in) continue;
        char *eq = strchr(s, '=');
        if (!eq) continue;
        char *k = s, *v = eq + 1;
        *eq = '\0';
        size_t kl = strlen(k);
        while (kl && isspace((unsigned char)k[kl - 1])) k[--kl] = '\0';
        while (isspace((unsigned char)*v)) v++;
        char **field = !strcmp(k, "aws_access_key_id") ? &a->access_key_id
                     : !strcmp(k, "aws_secret_access_key") ? &a->secret_access_key
                     : !strcmp(k, "aws_session_token") ? &a->session_token
                     : !strcmp(k, "region") ? &a->region
                     : !strcmp(k, "endpoint_url") ? &a->endpoint_url : NULL;
        if (!field || *field || !*v) continue;
        if (!(*field = sy_strdup(v))) {
            st = sy_err(SHARDY_ENOMEM, "read %s: out of memory", path);
            goto done;
        }
    }
    if (ferror(fp)) st = sy_err_errno(EIO, "read AWS shared file", path);
done:
    fclose(fp);
    return st;
}

/* Path of an AWS shared file: $var, else ~/.aws/<name>; NULL (no file) without HOME. */
static char *aws_file(const char *var, const char *name) {
    if (env(var)) return sy_strdup(env(var));
    if (!env("HOME")) return sy_strdup("");
    return sy_asprintf("%s/.aws/%s", env("HOME"), name);
}

/* Reads the profile from both AWS files: credentials [name], then config [profile name] (or
 * [default]). *src receives a description of where identity came from. */
static shardy_status aws_profile_read(const char *profile, aws_vals *a, char **src) {
    shardy_status st = SHARDY_OK;
    char *cred = aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    char *conf = aws_file("AWS_CONFIG_FILE", "config");
    char *section = !strcmp(profile, "default") ? sy_strdup("default") : sy_asprintf("profile %s", profile);
    if (!cred || !conf || !section) {
        st = sy_err(SHARDY_ENOMEM, "AWS shared files: out of memory");
        goto done;
    }
    if (*cred) SY_TRY(aws_ini_read(cred, profile, a));
    if (a->access_key_id && a->secret_access_key) {
        *src = sy_asprintf("%s [%s]", cred, profile);
    }
    if (*conf) SY_TRY(aws_ini_read(conf, section, a));
    if (!*src && a->access_key_id && a->secret_access_key) *src = sy_asprintf("%s [%s]", conf, section);
done:
    sy_free(cred);
    sy_free(conf);
    sy_free(section);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* Resolution                                                                                  */

void sy_s3_config_free(sy_s3_config *c) {
    if (!c) return;
    sy_free(c->host);
    sy_free(c->base_path);
    sy_free(c->region);
    sy_free(c->access_key_id);
    free_secret(c->secret_access_key);
    free_secret(c->session_token);
    sy_free(c->cred_source);
    sy_free(c->ca_bundle);
    memset(c, 0, sizeof *c);
}

static int host_is_local(const char *host) {
    if (host[0] == '[') return 1; /* IPv6 literal */
    size_t n = strcspn(host, ":");
    if (n == 9 && !strncasecmp(host, "localhost", 9)) return 1;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)host[i]) && host[i] != '.') return 0;
    return n > 0;
}

/* Splits "http(s)://host[:port][/path]" into the config. */
static shardy_status parse_endpoint(const char *url, sy_s3_config *c) {
    const char *p;
    if (!strncasecmp(url, "https://", 8)) {
        c->https = 1;
        p = url + 8;
    } else if (!strncasecmp(url, "http://", 7)) {
        c->https = 0;
        p = url + 7;
    } else {
        return sy_err(SHARDY_EINVAL, "S3 endpoint_url '%.200s' must start with http:// or https://", url);
    }
    size_t hn = strcspn(p, "/?#");
    if (hn == 0) return sy_err(SHARDY_EINVAL, "S3 endpoint_url '%.200s' has no host", url);
    if (memchr(p, '@', hn))
        return sy_err(SHARDY_EINVAL, "S3 endpoint_url must not contain user information (credentials belong "
                                     "in a profile or the environment)");
    const char *rest = p + hn;
    if (strpbrk(rest, "?#")) return sy_err(SHARDY_EINVAL, "S3 endpoint_url '%.200s' must not have a query", url);
    size_t rn = strlen(rest);
    while (rn && rest[rn - 1] == '/') rn--;
    c->host = sy_strndup(p, hn);
    c->base_path = sy_strndup(rest, rn);
    if (!c->host || !c->base_path) return sy_err(SHARDY_ENOMEM, "S3 options: out of memory");
    for (char *h = c->host; *h; h++) *h = (char)tolower((unsigned char)*h);
    c->host_is_local = host_is_local(c->host);
    return SHARDY_OK;
}

static long pick_long(long v, long def) { return v == SY_S3_UNSET ? def : v; }

/* Identity: static options, else environment pairs, else AWS files. Takes ownership of nothing. */
static shardy_status resolve_identity(const sy_s3_opts *o, const aws_vals *aws, const char *aws_src,
                                      sy_s3_config *c) {
    const char *ak = NULL, *sk = NULL, *tok = NULL, *src = "none";
    if (o->access_key_id || o->secret_access_key || o->session_token) {
        ak = o->access_key_id;
        sk = o->secret_access_key;
        tok = o->session_token;
        src = "options";
        if (!ak || !sk)
            return sy_err(SHARDY_EINVAL, "S3 credentials: %s given without %s", ak ? "access_key_id" : "secret_access_key",
                          ak ? "secret_access_key" : "access_key_id");
    } else {
        const char *eak = env("S3_ACCESS_KEY_ID") ? env("S3_ACCESS_KEY_ID") : env("AWS_ACCESS_KEY_ID");
        const char *esk = env("S3_SECRET_ACCESS_KEY") ? env("S3_SECRET_ACCESS_KEY") : env("AWS_SECRET_ACCESS_KEY");
        if (eak && esk) {
            ak = eak;
            sk = esk;
            tok = env("S3_SESSION_TOKEN") ? env("S3_SESSION_TOKEN") : env("AWS_SESSION_TOKEN");
            src = "environment";
        } else if (eak || esk) {
            return sy_err(SHARDY_EINVAL, "S3 credentials: the environment has %s but no %s",
                          eak ? "an access key id" : "a secret access key",
                          eak ? "secret access key (S3_SECRET_ACCESS_KEY / AWS_SECRET_ACCESS_KEY)"
                              : "access key id (S3_ACCESS_KEY_ID / AWS_ACCESS_KEY_ID)");
        } else if (aws->access_key_id && aws->secret_access_key) {
            ak = aws->access_key_id;
            sk = aws->secret_access_key;
            tok = aws->session_token;
            src = aws_src;
        }
    }
    c->cred_source = sy_strdup(src);
    if (!c->cred_source) return sy_err(SHARDY_ENOMEM, "S3 options: out of memory");
    if (ak && (!(c->access_key_id = sy_strdup(ak)) || !(c->secret_access_key = sy_strdup(sk))))
        return sy_err(SHARDY_ENOMEM, "S3 options: out of memory");
    if (tok && !(c->session_token = sy_strdup(tok))) return sy_err(SHARDY_ENOMEM, "S3 options: out of memory");
    return SHARDY_OK;
}

shardy_status sy_s3_config_resolve(const sy_s3_opts *opts, sy_s3_config *c) {
    shardy_status st = SHARDY_OK;
    sy_s3_opts none;
    aws_vals aws;
    char *aws_src = NULL;
    const char *o_endpoint, *region;
    memset(c, 0, sizeof *c);
    memset(&aws, 0, sizeof aws);
    sy_s3_opts_init(&none);
    const sy_s3_opts *o = opts ? opts : &none;
    const char *profile = o->aws_profile ? o->aws_profile : env("AWS_PROFILE") ? env("AWS_PROFILE") : "default";
    SY_TRY(aws_profile_read(profile, &aws, &aws_src));

    region = o->region           ? o->region
           : env("S3_REGION")    ? env("S3_REGION")
           : env("AWS_REGION")   ? env("AWS_REGION")
           : env("AWS_DEFAULT_REGION") ? env("AWS_DEFAULT_REGION")
           : aws.region          ? aws.region : SY_S3_DEFAULT_REGION;
    if (!(c->region = sy_strdup(region))) {
        st = sy_err(SHARDY_ENOMEM, "S3 options: out of memory");
        goto done;
    }
    for (const char *r = c->region; *r; r++) {
        if (!isalnum((unsigned char)*r) && *r != '-') {
            st = sy_err(SHARDY_EINVAL, "S3 region '%.100s' is not a region name", c->region);
            goto done;
        }
    }
    o_endpoint = o->endpoint_url                  ? o->endpoint_url
               : env("AWS_ENDPOINT_URL_S3")       ? env("AWS_ENDPOINT_URL_S3")
               : env("AWS_ENDPOINT_URL")          ? env("AWS_ENDPOINT_URL")
               : env("SLATEDB_S3_ENDPOINT_URL")   ? env("SLATEDB_S3_ENDPOINT_URL")
               : aws.endpoint_url;
    if (o_endpoint) {
        c->custom_endpoint = 1;
        SY_TRY(parse_endpoint(o_endpoint, c));
    } else {
        char *def = sy_asprintf("https://s3.%s.amazonaws.com", c->region);
        if (!def) {
            st = sy_err(SHARDY_ENOMEM, "S3 options: out of memory");
            goto done;
        }
        st = parse_endpoint(def, c);
        sy_free(def);
        if (st) goto done;
    }
    c->addressing = o->addressing_style == SY_S3_ADDR_UNSET ? SY_S3_ADDR_AUTO : o->addressing_style;
    SY_TRY(resolve_identity(o, &aws, aws_src ? aws_src : "AWS shared files", c));
    c->verify_ssl = o->verify_ssl == SY_S3_UNSET ? 1 : o->verify_ssl != 0;
    if (o->ca_bundle && !(c->ca_bundle = sy_strdup(o->ca_bundle))) {
        st = sy_err(SHARDY_ENOMEM, "S3 options: out of memory");
        goto done;
    }
    c->connect_timeout = pick_long(o->connect_timeout, SY_S3_DEFAULT_CONNECT_TIMEOUT);
    c->read_timeout = pick_long(o->read_timeout, SY_S3_DEFAULT_READ_TIMEOUT);
    c->max_attempts = o->max_attempts == SY_S3_UNSET ? SY_S3_DEFAULT_MAX_ATTEMPTS : o->max_attempts;
    c->part_size = o->part_size == SY_S3_UNSET ? SY_S3_DEFAULT_PART_SIZE : o->part_size;
    c->multipart_threshold = o->multipart_threshold == SY_S3_UNSET ? SY_S3_DEFAULT_MULTIPART_THRESHOLD
                                                                   : o->multipart_threshold;
    c->parallel_parts = o->parallel_parts == SY_S3_UNSET ? SY_S3_DEFAULT_PARALLEL_PARTS : o->parallel_parts;
    c->retry_base_ms = pick_long(o->retry_base_ms, SY_S3_DEFAULT_RETRY_BASE_MS);
    c->retry_cap_ms = pick_long(o->retry_cap_ms, SY_S3_DEFAULT_RETRY_CAP_MS);
    if (c->connect_timeout < 0 || c->read_timeout < 0 || c->max_attempts < 1 || c->max_attempts > 100 ||
        c->part_size < SY_S3_MIN_PART_SIZE || c->part_size > SY_S3_MAX_PART_SIZE || c->multipart_threshold < 1 ||
        c->parallel_parts < 1 || c->parallel_parts > 64 || c->retry_base_ms < 0 || c->retry_cap_ms < 0) {
        st = sy_err(SHARDY_EINVAL, "S3 options out of range (timeouts >= 0, max_attempts 1..100, part size "
                                   "5 MiB..5 GiB, threshold >= 1, parallel parts 1..64, backoff >= 0)");
        goto done;
    }
done:
    aws_vals_free(&aws);
    sy_free(aws_src);
    return st;
}
