#!/usr/bin/env bash
# Builds the container images of the Dockerfile with docker buildx:
#
#   hack/image.sh linux     the webhook image (target linux), linux/amd64 and linux/arm64,
#                           tagged IMAGE:TAG
#   hack/image.sh windows   the node executor image (target windows), windows/amd64,
#                           tagged IMAGE:TAG-windows-amd64
#   hack/image.sh all       one image for all three platforms (target image), tagged
#                           IMAGE:TAG: the release image, which the chart's webhook and
#                           executor both use (needs PUSH=true)
#
# Environment:
#   IMAGE     repository (default ghcr.io/hostprocess-admission/hostprocess-admission);
#             the Windows image is tagged IMAGE:TAG-windows-amd64
#   VERSION   version stamped into the binary and used as the tag (default: git describe)
#   COMMIT    commit stamped into the binary (default: git rev-parse --short HEAD)
#   PUSH      true to push (needed for a multi-platform image), otherwise the
#             images stay in the build cache (--load is used for a single platform)
#   PLATFORMS override the platforms of the chosen target (comma-separated)
#
# The platforms are exactly those `make build-all` cross-compiles; CI checks those
# without Docker. This script needs Docker with buildx; it is not run by `make test`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

IMAGE=${IMAGE:-ghcr.io/hostprocess-admission/hostprocess-admission}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
COMMIT=${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
PUSH=${PUSH:-false}

LINUX_PLATFORMS=linux/amd64,linux/arm64
WINDOWS_PLATFORMS=windows/amd64

usage() {
	sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
}

case ${1:-} in
linux | windows | all) ;;
-h | --help)
	usage
	exit 0
	;;
*)
	usage >&2
	exit 2
	;;
esac

# An image tag may not hold '+' and the like: keep what a tag allows.
tag=$(printf '%s' "$VERSION" | tr -c 'A-Za-z0-9_.-' '-')

command -v docker >/dev/null || {
	echo "image: docker not found; hack/image.sh needs Docker with buildx (make build-all cross-compiles without it)" >&2
	exit 1
}
docker buildx version >/dev/null 2>&1 || {
	echo "image: docker buildx is not available" >&2
	exit 1
}

# build TARGET PLATFORMS TAG
build() {
	local target=$1 platforms=$2 ref=$3 output
	if [[ $PUSH == true ]]; then
		output=--push
	elif [[ $platforms == *,* ]]; then
		output= # a multi-platform image cannot be loaded into the local engine
		echo "image: $ref: several platforms and PUSH is not true: the result stays in the build cache" >&2
	else
		output=--load
	fi
	echo "image: building $ref ($target, $platforms)"
	docker buildx build \
		--target "$target" \
		--platform "$platforms" \
		--build-arg "VERSION=$VERSION" \
		--build-arg "COMMIT=$COMMIT" \
		--label "org.opencontainers.image.version=$VERSION" \
		--label "org.opencontainers.image.revision=$COMMIT" \
		--label "org.opencontainers.image.source=https://github.com/hostprocess-admission/hostprocess-admission" \
		--tag "$ref" \
		${output:+"$output"} \
		.
}

case $1 in
linux) build linux "${PLATFORMS:-$LINUX_PLATFORMS}" "$IMAGE:$tag" ;;
windows) build windows "${PLATFORMS:-$WINDOWS_PLATFORMS}" "$IMAGE:$tag-windows-amd64" ;;
all) build image "${PLATFORMS:-$LINUX_PLATFORMS,$WINDOWS_PLATFORMS}" "$IMAGE:$tag" ;;
esac
