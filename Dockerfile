# syntax=docker/dockerfile:1
#
# hostprocess-admission images, built by hack/image.sh (docker buildx):
#
#   --target linux    the admission webhook: a static binary on distroless static,
#                     non-root; platforms linux/amd64, linux/arm64
#   --target windows  the node executor, run as a HostProcess container; platform
#                     windows/amd64
#   --target image    (default) whichever of the two the target platform needs:
#                     built for all three platforms at once, one tag serves the
#                     webhook on Linux nodes and the executor on Windows nodes
#
# The binary is cross-compiled on the build machine's platform (no emulation; the
# Windows stage only copies files, so it builds on Linux too), for exactly the
# platforms `make build-all` builds. Build arguments VERSION and COMMIT are stamped
# into internal/version with -ldflags, as the Makefile does.

ARG GO_VERSION=1.26.8
# The HostProcess base image has no OS layers: it runs on every Windows Server
# version, with the node's own file system.
ARG WINDOWS_BASE=mcr.microsoft.com/oss/kubernetes/windows-host-process-containers-base-image:v1.0.0
ARG LINUX_BASE=gcr.io/distroless/static-debian12:nonroot

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
	ext=""; if [ "$TARGETOS" = windows ]; then ext=.exe; fi; \
	GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath \
		-ldflags "-s -w -X github.com/hostprocess-admission/hostprocess-admission/internal/version.Version=${VERSION} -X github.com/hostprocess-admission/hostprocess-admission/internal/version.Commit=${COMMIT}" \
		-o /out/hostprocess-admission$ext .

FROM ${WINDOWS_BASE} AS windows
COPY --from=build /out/hostprocess-admission.exe /hostprocess-admission.exe
# containerd 1.7+ starts HostProcess containers in their mount point
# (%CONTAINER_SANDBOX_MOUNT_POINT%), so the relative name resolves.
ENTRYPOINT ["hostprocess-admission.exe"]
CMD ["executor"]

FROM ${LINUX_BASE} AS linux
COPY --from=build /out/hostprocess-admission /hostprocess-admission
# distroless "nonroot": UID and GID 65532, as the chart's securityContext.
USER 65532:65532
ENTRYPOINT ["/hostprocess-admission"]
CMD ["serve"]

FROM ${TARGETOS} AS image
