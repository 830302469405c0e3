#!/usr/bin/env bash
# Install rules, the pkg-config file and the CMake package: install the build that is being tested
# into a scratch prefix and build a small program against it both ways.
source "$(dirname "$0")/lib.sh"
BUILD=$(cd "$(dirname "$(readlink -f "$SHARDY")")" && pwd)
# Sanitizer builds install instrumented libraries that plain programs cannot load; the packaging is
# checked by the normal build's run of this test.
if grep -qE '^SHARDY_(SANITIZE|TSAN):BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  echo "test_install.sh: not run in a sanitizer build (the normal build runs it)"; exit 0
fi
T=${SHARDY_TEST_TMP:-/tmp/shardy-test}/cli-install-$$
rm -rf "$T"; mkdir -p "$T"
run cmake --install "$BUILD" --prefix "$T/prefix"
expect_eq "$RC" 0 "cmake --install"
for f in bin/shardy include/shardy.h lib/libshardy.a lib/libshardy.so lib/pkgconfig/shardy.pc lib/cmake/shardy/shardyConfig.cmake; do
  CHECKS=$((CHECKS + 1)); [ -e "$T/prefix/$f" ] || fail "installed file missing: $f"
done
cat > "$T/app.c" <<'EOF2'
#include <shardy.h>
#include <stdio.h>
int main(void) {
    shardy_key k = shardy_key_int(1);
    uint64_t db = 99;
    if (shardy_route_hash(&k, 8, &db, NULL) != SHARDY_OK) return 1;
    printf("%s %llu\n", shardy_version(), (unsigned long long)db);
    return 0;
}
EOF2
export PKG_CONFIG_PATH=$T/prefix/lib/pkgconfig
run cc "$T/app.c" -o "$T/app_pc" $(pkg-config --cflags --libs shardy) -Wl,-rpath,"$T/prefix/lib"
expect_eq "$RC" 0 "build with pkg-config: $ERR"
run "$T/app_pc"
expect_eq "$OUT" "0.1.0 6" "pkg-config program routes key 1 to shard 6 of 8"
mkdir -p "$T/cm"
cat > "$T/cm/CMakeLists.txt" <<EOF2
cmake_minimum_required(VERSION 3.20)
project(app C)
find_package(shardy REQUIRED)
add_executable(app_shared $T/app.c)
target_link_libraries(app_shared PRIVATE shardy::shardy)
add_executable(app_static $T/app.c)
target_link_libraries(app_static PRIVATE shardy::shardy_static)
EOF2
run cmake -S "$T/cm" -B "$T/cm/b" -DCMAKE_PREFIX_PATH="$T/prefix"
expect_eq "$RC" 0 "configure with find_package(shardy): $ERR"
run cmake --build "$T/cm/b"
expect_eq "$RC" 0 "build against the CMake package: $ERR"
run "$T/cm/b/app_shared"; expect_eq "$OUT" "0.1.0 6" "shardy::shardy"
run "$T/cm/b/app_static"; expect_eq "$OUT" "0.1.0 6" "shardy::shardy_static"
rm -rf "$T"
finish
