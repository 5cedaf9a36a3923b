#!/usr/bin/env bash
# Builds cert-manager's trust-manager, the peer `make bench` measures the
# operator against, from the Go module proxy, in a throwaway module outside
# this repository (trust-manager is not, and must not become, a dependency of
# our go.mod). The binary and trust-manager's own CRDs are cached under
# <dest-dir>; a second run costs nothing.
#
# Usage: hack/bench/build-trust-manager.sh <dest-dir>
# Env:   TRUST_MANAGER_VERSION (default 0.25.0)
set -euo pipefail

TRUST_MANAGER_VERSION="${TRUST_MANAGER_VERSION:-0.25.0}"
DEST="${1:?usage: $0 <dest-dir>}"
MODULE="github.com/cert-manager/trust-manager"

mkdir -p "${DEST}"
DEST="$(cd "${DEST}" && pwd)"
if [[ -x "${DEST}/trust-manager" && -f "${DEST}/crds/trust.cert-manager.io_bundles.yaml" ]]; then
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

echo "bench: building trust-manager v${TRUST_MANAGER_VERSION} from the module proxy (about 2-3 minutes, once)" >&2
start=${SECONDS}
(
  cd "${work}"
  # Not inside our module: GOFLAGS=-mod=mod and a go.work would leak in.
  export GOWORK=off GOFLAGS=-mod=mod
  go mod init bench-trust-manager >/dev/null 2>&1
  go mod edit -go=1.26
  go get "${MODULE}@v${TRUST_MANAGER_VERSION}" >/dev/null 2>&1
  cat >tools.go <<'GO'
//go:build tools

package tools

import _ "github.com/cert-manager/trust-manager/cmd/trust-manager"
GO
  go mod tidy >/dev/null 2>&1
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "${DEST}/trust-manager.tmp" "${MODULE}/cmd/trust-manager"

  # The CRDs ship in the same module zip (deploy/crds).
  dir="$(go mod download -json "${MODULE}@v${TRUST_MANAGER_VERSION}" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  mkdir -p "${DEST}/crds"
  cp "${dir}"/deploy/crds/*.yaml "${DEST}/crds/"
  chmod u+w "${DEST}"/crds/*.yaml
  mv "${DEST}/trust-manager.tmp" "${DEST}/trust-manager"
)
echo "bench: trust-manager v${TRUST_MANAGER_VERSION} built in $((SECONDS - start)) s: ${DEST}/trust-manager" >&2
