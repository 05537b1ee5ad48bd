#!/usr/bin/env bash
# Runs the executor's Windows tests under wine: GOOS=windows go test finds
# hack/bin/go_windows_amd64_exec on PATH and runs each test binary with it.
# Installs wine, mingw and the ProcessPrng stand-in first when they are
# missing (hack/install-wine.sh is a quick no-op otherwise).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
hack/install-wine.sh
# Files of another user for the executor's state tests: wine keeps no owner
# that SetNamedSecurityInfo sets and reports the unix owner instead, so they
# are made here, owned by uid 65534, inside the prefix's drive C (the same
# file system as the tests' temporary folders, so that a rename moves them).
prefix=$(hack/install-wine.sh --print-prefix)
foreign=$prefix/drive_c/hostprocess-foreign
rm -rf "$foreign"
mkdir -p "$foreign"
for i in 1 2 3 4 5 6; do
  mkdir -m 0777 "$foreign/dir-$i"
  install -m 0666 /dev/null "$foreign/file-$i"
done
if chown 65534:65534 "$foreign"/dir-* "$foreign"/file-* 2>/dev/null; then
  export HOSTPROCESS_WINE_FOREIGN='C:\hostprocess-foreign'
fi
PATH="$repo/hack/bin:$PATH" GOOS=windows GOARCH=amd64 go test -count=1 "$@" ./executor/...
# config: only the tests that ask Windows how it parses SID strings and account
# names (wine cannot
# remove the other tests' temporary files).
PATH="$repo/hack/bin:$PATH" GOOS=windows GOARCH=amd64 go test -count=1 -run "TestParseSIDReadsWhatWindowsReads|TestSpellingsResolveToTheirSID" "$@" ./config
