#!/usr/bin/env bash
# Builds the real control plane used by the tests, from Go modules only, into bin/:
#
#   bin/kube-apiserver, bin/kubectl,  k8s.io/kubernetes           (hack/tools/controlplane)
#   bin/kube-scheduler,
#   bin/kube-controller-manager
#   bin/etcd                          go.etcd.io/etcd/server/v3   (hack/tools/etcd)
#   bin/helm                          helm.sh/helm/v3             (hack/tools/helm)
#   bin/kwok, bin/kwok-stages.yaml    sigs.k8s.io/kwok            (hack/tools/kwok): simulated nodes
#                                     and kwok's default stages for their pods' lifecycle
#   bin/pod-security-webhook          k8s.io/pod-security-admission/cmd/webhook, only with
#                                     the argument `psa-webhook`  (hack/tools/controlplane)
#
# Usage: hack/build-control-plane.sh [psa-webhook]
#
# Versions are pinned by the go.mod/go.sum of the modules under hack/tools/. A binary is
# skipped when it exists and its stamp (bin/.stamps/NAME) records the same pinned version and
# the same tools-module contents, so a second run is a no-op. Needs only Go (and the Go module
# proxy); nothing else is downloaded.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/bin}
TOOLS=$ROOT/hack/tools
STAMPS=$BIN/.stamps
GO=${GO:-go}

# The tools modules are separate from the root module; never let a go.work pull them together.
export GOWORK=off
export GOFLAGS="-mod=readonly -buildvcs=false"

want_psa=0
for arg in "$@"; do
	case $arg in
	psa-webhook) want_psa=1 ;;
	-h | --help)
		sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "build-control-plane: unknown argument '$arg' (known: psa-webhook)" >&2
		exit 2
		;;
	esac
done

command -v "$GO" >/dev/null || {
	echo "build-control-plane: '$GO' not found; install Go first" >&2
	exit 1
}

mkdir -p "$BIN" "$STAMPS"

# Serialise concurrent runs (two `make tools` at once would otherwise race on bin/).
if command -v flock >/dev/null; then
	exec 9>"$BIN/.build-control-plane.lock"
	flock 9
fi

# modver DIR MODULE: the version of MODULE in DIR/go.mod, its replacement's version if replaced.
modver() {
	awk -v m="$2" '
		$1 == "replace" && $2 == m && $3 == "=>" && $5 ~ /^v[0-9]/ { rep = $5 }
		$1 == m && $2 == "=>" && $4 ~ /^v[0-9]/                   { rep = $4 }
		$1 == "require" && $2 == m && $3 ~ /^v[0-9]/              { req = $3 }
		$1 == m && $2 ~ /^v[0-9]/                                 { req = $2 }
		END { print (rep != "" ? rep : req) }
	' "$1/go.mod"
}

# moddigest DIR: a digest of everything in a tools module, so editing it forces a rebuild.
moddigest() {
	(cd "$1" && find . -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) -print0 |
		LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}

K8S_VERSION=$(modver "$TOOLS/controlplane" k8s.io/kubernetes)
PSA_VERSION=$(modver "$TOOLS/controlplane" k8s.io/pod-security-admission)
ETCD_VERSION=$(modver "$TOOLS/etcd" go.etcd.io/etcd/server/v3)
HELM_VERSION=$(modver "$TOOLS/helm" helm.sh/helm/v3)
KWOK_VERSION=$(modver "$TOOLS/kwok" sigs.k8s.io/kwok)
for v in K8S_VERSION PSA_VERSION ETCD_VERSION HELM_VERSION KWOK_VERSION; do
	[[ -n ${!v} ]] || {
		echo "build-control-plane: could not read $v from hack/tools/*/go.mod" >&2
		exit 1
	}
done

CP_DIGEST=$(moddigest "$TOOLS/controlplane")
ETCD_DIGEST=$(moddigest "$TOOLS/etcd")
HELM_DIGEST=$(moddigest "$TOOLS/helm")
KWOK_DIGEST=$(moddigest "$TOOLS/kwok")

# Version stamps, as Kubernetes' hack/lib/version.sh sets them. The build date is the pinned
# release's date (filled in by build() only when something is built), so builds are reproducible.
k8s_ldflags() { # VERSION BUILD_DATE
	local ver=$1 date=$2 major minor rest
	major=${ver#v}
	major=${major%%.*}
	rest=${ver#v*.}
	minor=${rest%%.*}
	local flags="-s -w"
	for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
		flags+=" -X $pkg.gitVersion=$ver -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
		flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
	done
	echo "$flags"
}
K8S_LDFLAGS=$(k8s_ldflags "$K8S_VERSION" @K8S_BUILD_DATE@)
K8S_TAGS=selinux,notest,grpcnotrace # upstream's build tags (hack/lib/golang.sh)
ETCD_LDFLAGS="-s -w" # etcd's version (api/v3/version.Version) is compiled in
# helm's Makefile derives the Kubernetes version it reports from client-go: v0.37.0 -> 1.37.
helm_k8s=$(modver "$TOOLS/helm" k8s.io/client-go)
helm_k8s_major=${helm_k8s#v}
helm_k8s_major=$((${helm_k8s_major%%.*} + 1))
helm_k8s_minor=${helm_k8s#v*.}
helm_k8s_minor=${helm_k8s_minor%%.*}
HELM_LDFLAGS="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
HELM_LDFLAGS+=" -X helm.sh/helm/v3/internal/version.metadata= -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
	HELM_LDFLAGS+=" -X $pkg.k8sVersionMajor=${helm_k8s_major} -X $pkg.k8sVersionMinor=${helm_k8s_minor}"
done

built=0
skipped=0
start_all=$SECONDS

# build NAME MODULE_DIR PACKAGE VERSION DIGEST CGO TAGS LDFLAGS [NOTE]
build() {
	local name=$1 dir=$2 pkg=$3 version=$4 digest=$5 cgo=$6 tags=$7 ldflags=$8 note=${9:-}
	local out=$BIN/$name stamp=$STAMPS/$name
	local want="$name $pkg@$version tools=$digest"
	if [[ -x $out && -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
		echo "$name $version: up to date ($out)"
		skipped=$((skipped + 1))
		return
	fi
	echo "building $name $version${note:+ ($note)}..."
	if [[ $ldflags == *@K8S_BUILD_DATE@* ]]; then
		local date
		date=$(cd "$TOOLS/controlplane" && "$GO" list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes)
		ldflags=${ldflags//@K8S_BUILD_DATE@/${date:-1970-01-01T00:00:00Z}}
	fi
	local t0=$SECONDS tmp=$BIN/.$name.tmp.$$
	rm -f "$stamp"
	if ! (cd "$dir" && CGO_ENABLED=$cgo "$GO" build -trimpath ${tags:+-tags=$tags} -ldflags "$ldflags" -o "$tmp" "$pkg"); then
		rm -f "$tmp"
		echo "build-control-plane: building $name failed" >&2
		exit 1
	fi
	mv -f "$tmp" "$out"
	echo "$want" >"$stamp"
	echo "built $name $version in $((SECONDS - t0))s -> $out"
	built=$((built + 1))
}

# kwok_stages: bin/kwok-stages.yaml, the stages kwokctl gives kwok by default (a node becomes
# Ready and keeps a lease; a bound pod becomes Running and Ready, completes, and is deleted when
# asked), from the pinned kwok module's kustomize/stage. The kwok binary has none built in.
kwok_stages() {
	local out=$BIN/kwok-stages.yaml stamp=$STAMPS/kwok-stages.yaml
	local want="kwok-stages.yaml sigs.k8s.io/kwok@$KWOK_VERSION tools=$KWOK_DIGEST"
	if [[ -f $out && -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
		echo "kwok-stages.yaml $KWOK_VERSION: up to date ($out)"
		skipped=$((skipped + 1))
		return
	fi
	local dir tmp=$BIN/.kwok-stages.yaml.tmp.$$ f sep=
	dir=$(cd "$TOOLS/kwok" && "$GO" list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
	rm -f "$stamp"
	: >"$tmp"
	for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
		pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
		if [[ ! -f $dir/kustomize/stage/$f ]]; then
			rm -f "$tmp"
			echo "build-control-plane: kwok $KWOK_VERSION has no kustomize/stage/$f" >&2
			exit 1
		fi
		{
			printf '%s# kwok %s kustomize/stage/%s\n' "$sep" "$KWOK_VERSION" "$f"
			cat "$dir/kustomize/stage/$f"
		} >>"$tmp"
		sep=$'---\n'
	done
	mv -f "$tmp" "$out"
	echo "$want" >"$stamp"
	echo "wrote kwok-stages.yaml $KWOK_VERSION -> $out"
	built=$((built + 1))
}

build kube-apiserver "$TOOLS/controlplane" k8s.io/kubernetes/cmd/kube-apiserver "$K8S_VERSION" "$CP_DIGEST" 0 "$K8S_TAGS" "$K8S_LDFLAGS" \
	"first build takes several minutes"
build kubectl "$TOOLS/controlplane" k8s.io/kubernetes/cmd/kubectl "$K8S_VERSION" "$CP_DIGEST" 0 "$K8S_TAGS" "$K8S_LDFLAGS"
build etcd "$TOOLS/etcd" . "$ETCD_VERSION" "$ETCD_DIGEST" 0 "" "$ETCD_LDFLAGS"
build helm "$TOOLS/helm" helm.sh/helm/v3/cmd/helm "$HELM_VERSION" "$HELM_DIGEST" 0 "" "$HELM_LDFLAGS"
# The e2e suite's scheduling half (e2e/harness/nodes.go).
build kube-scheduler "$TOOLS/controlplane" k8s.io/kubernetes/cmd/kube-scheduler "$K8S_VERSION" "$CP_DIGEST" 0 "$K8S_TAGS" "$K8S_LDFLAGS"
build kube-controller-manager "$TOOLS/controlplane" k8s.io/kubernetes/cmd/kube-controller-manager "$K8S_VERSION" "$CP_DIGEST" 0 "$K8S_TAGS" "$K8S_LDFLAGS"
# kwok's version is compiled in (sigs.k8s.io/kwok/pkg/consts.Version).
build kwok "$TOOLS/kwok" sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION" "$KWOK_DIGEST" 0 "" "-s -w"
kwok_stages
if ((want_psa)); then
	build pod-security-webhook "$TOOLS/controlplane" k8s.io/pod-security-admission/cmd/webhook "$PSA_VERSION" "$CP_DIGEST" 0 "$K8S_TAGS" "$K8S_LDFLAGS"
fi

if ((built)); then
	echo "control plane: built $built, up to date $skipped, in $((SECONDS - start_all))s (bin: $BIN)"
fi
