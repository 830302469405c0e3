/*
 * localfs.h — local file-system helpers for scratch space (build staging, spill runs): create a
 * directory with its parents, remove a directory tree, copy a byte range between files. Object
 * storage goes through src/store.
 */
#ifndef SY_CORE_LOCALFS_H
#define SY_CORE_LOCALFS_H

#include <stdint.h>

#include "core/error.h"

/* mkdir -p (mode 0777 & umask); an existing directory is fine. Errors name the directory. */
shardy_status sy_mkdirs(const char *path) SY_NODISCARD;

/* rm -rf without a shell: removes path and everything below it, never following symlinks.
 * Best effort: returns the first error but keeps removing the rest. A missing path is fine. */
shardy_status sy_rmtree(const char *path);

/* Appends bytes [off, off + len) of the open file in to the open file out (at out's position):
 * copy_file_range(2), in the kernel, or pread/write through a 1 MiB buffer where the kernel or
 * file system cannot. *fallback: 0 to try copy_file_range first (set to 1 once it is refused, so
 * the next call goes straight to the fallback), 1 to use the fallback. A source that ends before
 * off + len → SHARDY_EIO. Errors name path (the file being written). */
shardy_status sy_copy_range(int in, uint64_t off, int out, uint64_t len, const char *path, int *fallback) SY_NODISCARD;

#endif
