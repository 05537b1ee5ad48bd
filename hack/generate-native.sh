#!/usr/bin/env bash
# Generates the chart's native policies for its default config (`make generate-native`):
#
#   charts/hostprocess-admission/files/native-policies.yaml
#     = hostprocess-admission generate native-policies
#         --config charts/hostprocess-admission/files/native-policies.config.yaml
#         --namespace RELEASE_NAMESPACE
#
# The chart puts the release namespace in place of RELEASE_NAMESPACE. internal/charttest fails
# when the file is not current.
#
# Usage: hack/generate-native.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GO=${GO:-go}
CHART=charts/hostprocess-admission

cd "$ROOT"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"$GO" run . generate native-policies --config "$CHART/files/native-policies.config.yaml" --namespace RELEASE_NAMESPACE >"$tmp"
mv "$tmp" "$CHART/files/native-policies.yaml"
trap - EXIT
echo "generate-native: wrote $CHART/files/native-policies.yaml" >&2
