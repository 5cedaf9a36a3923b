#!/usr/bin/env bash
# Builds Flux's real source-controller from the Go module proxy and caches it
# under <dest-dir>/source-controller. Tests and the demo run this binary
# against the envtest API server, so every verdict they assert is Flux's own.
#
# v1.9.3 is the newest release whose whole module graph the proxy here
# serves (v1.9.4+ need github.com/fluxcd/pkg/artifact zips that are refused,
# v1.10+ need Go 1.27). Keep FLUX_SOURCE_CONTROLLER_VERSION in the Makefile,
# this script's default and github.com/fluxcd/source-controller/api in go.mod
# on the same version: the CRDs under test/crd/flux come from that module.
#
# Usage: hack/setup-flux.sh <dest-dir>
# Prints nothing on a cache hit; idempotent and safe to re-run after a failure.
# The go commands' output goes to <dest-dir>/build.log, removed on success; on
# a failure (a module the proxy refuses, a compile error) its tail is printed
# and the log is kept, so CI shows why and not only an exit code.
set -euo pipefail

VERSION="${FLUX_SOURCE_CONTROLLER_VERSION:-v1.9.3}"
DEST="${1:?usage: $0 <dest-dir>}"

mkdir -p "${DEST}"
DEST="$(cd "${DEST}" && pwd)"
[[ -x "${DEST}/source-controller" ]] && exit 0

echo "flux: building source-controller ${VERSION} from the module proxy (about 6 minutes, once)" >&2
start=${SECONDS}
work="$(mktemp -d)"
log="${DEST}/build.log"
: >"${log}"
on_exit() {
  local rc=$?
  rm -rf "${work}"
  if ((rc == 0)); then
    rm -f "${log}"
    return
  fi
  echo "flux: building source-controller ${VERSION} failed (exit ${rc}) after $((SECONDS - start)) s; the end of ${log}:" >&2
  tail -n 40 "${log}" >&2
}
trap on_exit EXIT
# logged runs a command with its output in the log, after a line naming it,
# so the tail shows which step failed.
logged() {
  echo "+ $*" >>"${log}"
  "$@" >>"${log}" 2>&1
}
(
  cd "${work}"
  logged go mod init flux-source-controller
  logged go mod edit -go=1.26
  # Without this go-digest resolves to v1.0.0, whose blake3 subpackage the
  # Flux module graph needs does not compile (undefined: digest.BLAKE3).
  logged go mod edit -replace github.com/opencontainers/go-digest=github.com/opencontainers/go-digest@v1.0.1-0.20220411205349-bde1400a84be
  cat >tools.go <<'GO'
//go:build tools

package tools

import _ "github.com/fluxcd/source-controller"
GO
  logged go get "github.com/fluxcd/source-controller@${VERSION}"
  echo "flux: fetched the module graph in $((SECONDS - start)) s" >&2
  logged env CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "${DEST}/source-controller.tmp" github.com/fluxcd/source-controller
  mv "${DEST}/source-controller.tmp" "${DEST}/source-controller"
)
echo "flux: built source-controller ${VERSION} in $((SECONDS - start)) s" >&2
