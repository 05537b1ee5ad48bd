#!/usr/bin/env bash
# Runs the executor's Windows tests under wine: GOOS=windows go test finds
# hack/bin/go_windows_amd64_exec on PATH and runs each test binary with it.
# Installs wine, mingw and the ProcessPrng stand-in first when they are
# missing (hack/install-wine.sh is a quick no-op otherwise).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
hack/install-wine.sh
PATH="$repo/hack/bin:$PATH" GOOS=windows GOARCH=amd64 go test -count=1 "$@" ./executor/...
# config: only the tests that ask Windows how it parses SID strings and account
# names (wine cannot
# remove the other tests' temporary files).
PATH="$repo/hack/bin:$PATH" GOOS=windows GOARCH=amd64 go test -count=1 -run "TestParseSIDReadsWhatWindowsReads|TestSpellingsResolveToTheirSID" "$@" ./config
