#!/usr/bin/env bash
# Installs what the Windows test tier needs and is a quick no-op when it is
# all in place:
#   - wine, wine64 and gcc-mingw-w64-x86-64-win32 from Debian's packages,
#   - the ProcessPrng stand-in bcryptprimitives.dll (hack/wine/processprng.c),
#   - a wine prefix in a cached location with that DLL in its system32.
# Runs without a terminal or a display (CI has neither).
# The prefix path is printed by `hack/install-wine.sh --print-prefix`.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${HOSTPROCESS_WINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hostprocess-admission}
prefix=${WINEPREFIX:-$cache/wine}
src=$repo/hack/wine/processprng.c
dll=$cache/bcryptprimitives.dll
stamp=$prefix/.hostprocess-admission-ready

if [ "${1:-}" = "--print-prefix" ]; then
  echo "$prefix"
  exit 0
fi

export WINEPREFIX=$prefix
export WINEDEBUG=-all
# No mono or gecko install prompts while the prefix is created.
export WINEDLLOVERRIDES="mscoree,mshtml="
export DISPLAY=
export WINEARCH=win64

log() { echo "install-wine: $*" >&2; }

# 1. Debian packages, installed only when a tool is missing. Debian 12's
#    wine needs wine64 beside it to run 64-bit programs.
need=()
if ! command -v wine >/dev/null 2>&1 || [ ! -x /usr/lib/wine/wine64 ]; then
  need+=(wine wine64)
fi
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || need+=(gcc-mingw-w64-x86-64-win32)
if [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]} from Debian's packages"
  sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null >/dev/null
fi

# 2. The stand-in DLL, rebuilt when its source changes.
mkdir -p "$cache"
if [ ! -f "$dll" ] || [ "$src" -nt "$dll" ]; then
  log "building $dll"
  x86_64-w64-mingw32-gcc -O2 -shared -s -o "$dll.tmp" "$src" -ladvapi32
  mv "$dll.tmp" "$dll"
fi

# 3. The wine prefix, created once.
if [ ! -f "$prefix/system.reg" ]; then
  log "creating wine prefix $prefix"
  mkdir -p "$prefix"
  wine wineboot --init </dev/null >/dev/null 2>&1 || true
  wineserver --wait >/dev/null 2>&1 || true
  if [ ! -d "$prefix/drive_c/windows/system32" ]; then
    log "wineboot did not create $prefix/drive_c/windows/system32"
    exit 1
  fi
fi

# 4. The DLL in the prefix's system32 (64-bit DLLs live there on win64).
target=$prefix/drive_c/windows/system32/bcryptprimitives.dll
if [ ! -f "$stamp" ] || ! cmp -s "$dll" "$target"; then
  cp "$dll" "$target"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$stamp"
  log "installed $target"
fi
