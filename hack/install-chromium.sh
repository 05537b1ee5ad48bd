#!/usr/bin/env bash
# Installs Debian's chromium, which the audit command's HTML test drives headless
# (screenshot and --dump-dom). A second run is a no-op: apt is asked only when the
# binary is missing. Needs root (or sudo) and Debian's package archive.
#
# Usage: hack/install-chromium.sh
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
	exit 0
fi

SUDO=
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || {
		echo "install-chromium: chromium is missing; run as root, or install Debian's chromium package" >&2
		exit 1
	}
	SUDO=sudo
fi

# Serialise concurrent runs (apt holds its own lock, but two updates at once would fail).
if command -v flock >/dev/null; then
	exec 9>/tmp/hostprocess-admission-install-chromium.lock
	flock 9
	command -v chromium >/dev/null 2>&1 && exit 0
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# fonts-liberation gives the page's sans-serif text real glyphs in screenshots.
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
command -v chromium >/dev/null || {
	echo "install-chromium: apt-get installed chromium but it is not on PATH" >&2
	exit 1
}
