#!/usr/bin/env bash
# The installed library as its users take it: installs the build into a
# scratch prefix, checks what landed there (libtril.a, libtril.so and its
# SONAME, headers, tril.pc, the CMake package), compiles every public header
# alone as C and as C++, then builds tests/install/consumer.c against the
# installed copy only and runs it:
#   pkg-config --cflags --libs tril           (libtril.so)
#   pkg-config --static --libs tril           (libtril.a)
#   find_package(tril) + tril::tril           (libtril.so, then TRIL_USE_STATIC_LIBS=ON)
#
#   test_install.sh BUILD_DIR CMAKE CC [CXX] [SHARED=ON|OFF]
set -u
build=$1 cmake=$2 cc=$3 cxx=${4:-} shared=${5:-ON}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source-path=SCRIPTDIR source=../cli/lib.sh
. "$here/../cli/lib.sh"
case $shared in ON | on | TRUE | true | 1 | YES | yes) shared=1 ;; *) shared=0 ;; esac
# Nothing from the user's environment decides what is found.
unset PKG_CONFIG_PATH PKG_CONFIG_LIBDIR CMAKE_PREFIX_PATH LD_LIBRARY_PATH CFLAGS LDFLAGS
prefix=$tmp/prefix

# --- install ---------------------------------------------------------------------
if ! "$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
    bad "cmake --install failed: $(tail -n 20 "$tmp/install.log")"
    finish install_consumers
    exit 1
fi
pc=$(find "$prefix" -name tril.pc -path '*/pkgconfig/*' | head -n 1)
check "[ -n '$pc' ]" "tril.pc installed"
libdir=$(dirname "$(dirname "${pc:-$prefix/lib/pkgconfig/tril.pc}")")
inc=$prefix/include
check "[ -f '$libdir/libtril.a' ]" "libtril.a in $libdir"
check "[ -x '$prefix/bin/tril' ]" "the tril program installed"
check "[ -f '$prefix/share/tril/gpt2/vocab.json' ]" "the data folder installed"
check "[ -f '$libdir/cmake/tril/trilConfig.cmake' ] && [ -f '$libdir/cmake/tril/trilConfigVersion.cmake' ]" \
    "trilConfig.cmake and trilConfigVersion.cmake installed"

# Every public header, and nothing else (no private src/ header).
(cd "$src/include/tril" && ls -- *.h) >"$tmp/want"
(cd "$inc/tril" 2>/dev/null && ls) >"$tmp/got"
check "cmp -s '$tmp/want' '$tmp/got'" "include/tril holds exactly the public headers ($(tr '\n' ' ' <"$tmp/got"))"
for h in "$inc"/tril/*.h; do
    # only <system> headers and "tril/x.h" installed beside it
    grep -h '^[[:space:]]*#[[:space:]]*include' "$h" | sed 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*//' |
        while read -r what _; do
            case $what in
            \<*\>) ;;
            \"tril/*\") [ -f "$inc/${what//\"/}" ] || echo "$what" ;;
            *) echo "$what" ;;
            esac
        done >"$tmp/private"
    check "[ ! -s '$tmp/private' ]" "$(basename "$h") includes only public headers ($(tr '\n' ' ' <"$tmp/private"))"
    # alone, with nothing but the installed include folder
    echo "#include <tril/$(basename "$h")>" >"$tmp/one.c"
    cp "$tmp/one.c" "$tmp/one.cpp"
    for lang in C11 C++11; do
        if [ "$lang" = C11 ]; then set -- "$cc" -std=c11 "$tmp/one.c"; else set -- "$cxx" -std=c++11 "$tmp/one.cpp"; fi
        [ -n "$1" ] || continue
        if "$@" -Wall -Wextra -pedantic -Werror -fsyntax-only -I"$inc" 2>"$tmp/cc.err"; then
            ok
        else
            bad "$(basename "$h") alone as $lang: $(head -c 400 "$tmp/cc.err")"
        fi
    done
done
[ -n "$cxx" ] || echo "note: no C++ compiler, headers checked as C only"

# libtril.so: versioned, its SONAME, OpenBLAS's OpenMP build found by its run path.
if [ "$shared" = 1 ]; then
    so=$(readlink -f "$libdir/libtril.so")
    check "[ -f '$so' ]" "libtril.so installed"
    soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
    check "[ -n '$soname' ] && [ -L '$libdir/libtril.so' ] && [ -e '$libdir/$soname' ]" \
        "SONAME '$soname' and the links to $(basename "$so")"
    case $soname in libtril.so.[0-9]*) ok ;; *) bad "SONAME '$soname' carries no version" ;; esac
    ldd "$so" >"$tmp/ldd.so" 2>&1
    check "! grep -q 'not found' '$tmp/ldd.so'" "libtril.so's libraries all found: $(grep 'not found' "$tmp/ldd.so")"
fi

# --- pkg-config ------------------------------------------------------------------
export PKG_CONFIG_PATH=$libdir/pkgconfig
version=$(pkg-config --modversion tril 2>"$tmp/pc.err")
check "[ -n '$version' ]" "pkg-config finds tril: $(cat "$tmp/pc.err")"
cflags=$(pkg-config --cflags tril)
libs=$(pkg-config --libs tril)
static_libs=$(pkg-config --static --libs tril)
echo "pkg-config tril $version: cflags '$cflags'"
echo "  libs '$libs'"
echo "  static libs '$static_libs'"
for want in -fopenmp openblas -lpng -lcjson -lpcre2-8 -lm; do
    case " $static_libs " in *"$want"*) ok ;; *) bad "'$want' not in pkg-config --static --libs tril" ;; esac
done
# The run path OpenBLAS is pinned by (Libs.private), the OpenMP build's folder.
# shellcheck disable=SC2086 # one flag a line
blasdir=$(printf '%s\n' $static_libs | sed -n 's/^-Wl,-rpath,//p' | head -n 1)
check "[ -n '$blasdir' ] && ls '$blasdir'/libopenblas* >/dev/null 2>&1" "OpenBLAS's folder in Libs.private ('$blasdir')"

# run NAME: runs the consumer binary $tmp/NAME and checks its libraries:
# libtril.so from the prefix (or no libtril.so at all for a static link) and
# libopenblas from the OpenMP build's folder.
run() {
    local name=$1 kind=$2
    ldd "$tmp/$name" >"$tmp/$name.ldd" 2>&1
    if [ "$kind" = shared ]; then
        check "grep -q 'libtril\\.so.* => $libdir/' '$tmp/$name.ldd'" "$name: libtril.so from the prefix: $(grep libtril "$tmp/$name.ldd")"
    else
        check "! grep -q 'libtril\\.so' '$tmp/$name.ldd'" "$name: libtril.a linked, not libtril.so"
    fi
    check "grep -q 'libopenblas.* => $blasdir' '$tmp/$name.ldd'" \
        "$name: OpenBLAS from $blasdir: $(grep openblas "$tmp/$name.ldd")"
    expect 0 "$name runs" -- "$tmp/$name" "$prefix/share/tril" "$tmp/$name.png"
    contains "$tmp/out" "ok" "$name's checks"
    sed "s/^/  $name: /" "$tmp/out"
}

if [ "$shared" = 1 ]; then
    # shellcheck disable=SC2086 # the flags are words
    if "$cc" $cflags "$here/consumer.c" -o "$tmp/pc_shared" $libs -Wl,-rpath,"$libdir" -lm 2>"$tmp/cc.err"; then
        ok
        run pc_shared shared
    else
        bad "cc \$(pkg-config --cflags --libs tril): $(head -c 600 "$tmp/cc.err")"
    fi
fi
# libtril.a: -l:libtril.a, since with libtril.so beside it -ltril takes the .so.
# shellcheck disable=SC2086
if "$cc" $cflags "$here/consumer.c" -o "$tmp/pc_static" ${static_libs//-ltril/-l:libtril.a} 2>"$tmp/cc.err"; then
    ok
    run pc_static static
else
    bad "cc \$(pkg-config --static --libs tril): $(head -c 600 "$tmp/cc.err")"
fi

# --- find_package(tril) ----------------------------------------------------------
# cmake_build NAME [-D...]: configures and builds tests/install/CMakeLists.txt
# against the prefix into $tmp/NAME.build.
cmake_build() {
    local name=$1
    shift
    "$cmake" -S "$here" -B "$tmp/$name.build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON "$@" \
        >"$tmp/$name.log" 2>&1 &&
        "$cmake" --build "$tmp/$name.build" >>"$tmp/$name.log" 2>&1
}
if [ "$shared" = 1 ]; then
    if cmake_build cm_shared -DTRIL_WANT_VERSION="$version"; then
        ok
        cp "$tmp/cm_shared.build/consumer" "$tmp/cm_shared"
        run cm_shared shared
    else
        bad "find_package(tril $version) + tril::tril: $(tail -n 30 "$tmp/cm_shared.log")"
    fi
fi
if cmake_build cm_static -DTRIL_USE_STATIC_LIBS=ON; then
    ok
    cp "$tmp/cm_static.build/consumer" "$tmp/cm_static"
    run cm_static static
else
    bad "find_package(tril) + tril::tril with TRIL_USE_STATIC_LIBS: $(tail -n 30 "$tmp/cm_static.log")"
fi
# The version file: another major version is refused.
if "$cmake" -S "$here" -B "$tmp/cm_version.build" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_PREFIX_PATH="$prefix" -DTRIL_WANT_VERSION=99.0 >"$tmp/cm_version.log" 2>&1; then
    bad "find_package(tril 99.0) accepted version $version"
else
    contains "$tmp/cm_version.log" "version" "find_package(tril 99.0) refused for its version"
fi

finish install_consumers
