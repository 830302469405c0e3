/*
 * localfs.h — local file-system helpers for scratch space (build staging, spill runs): create a
 * directory with its parents, remove a directory tree. Object storage goes through src/store.
 */
#ifndef SY_CORE_LOCALFS_H
#define SY_CORE_LOCALFS_H

#include "core/error.h"

/* mkdir -p (mode 0777 & umask); an existing directory is fine. Errors name the directory. */
shardy_status sy_mkdirs(const char *path) SY_NODISCARD;

/* rm -rf without a shell: removes path and everything below it, never following symlinks.
 * Best effort: returns the first error but keeps removing the rest. A missing path is fine. */
shardy_status sy_rmtree(const char *path);

#endif
