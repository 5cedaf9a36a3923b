#!/usr/bin/env bash
# Builds the envtest control plane (kube-apiserver and etcd) from the Go module
# proxy and caches it under bin/k8s/<version>. setup-envtest's download and
# container images are not reachable from CI, but the module proxy is, so the
# real binaries are compiled from their published modules instead.
#
# Usage: hack/setup-envtest.sh <dest-dir>
# Prints nothing on a cache hit; idempotent and safe to re-run after a failure.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-1.36.1}"
ETCD_VERSION="${ETCD_VERSION:-3.6.6}"
DEST="${1:?usage: $0 <dest-dir>}"

mkdir -p "${DEST}"
DEST="$(cd "${DEST}" && pwd)"

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

build_kube_apiserver() {
  [[ -x "${DEST}/kube-apiserver" ]] && return 0
  echo "envtest: building kube-apiserver v${KUBE_VERSION} from the module proxy (a few minutes, once)" >&2
  local dir="${work}/kube"
  mkdir -p "${dir}"
  (
    cd "${dir}"
    go mod init envtest-kube-apiserver >/dev/null 2>&1
    go mod edit -go=1.26 -require="k8s.io/kubernetes@v${KUBE_VERSION}"
    # k8s.io/kubernetes points its staging modules at ./staging/src; that
    # folder does not exist in the module zip, so pin each staging module to
    # its published v0.x release instead.
    local gomod
    go mod download -json "k8s.io/kubernetes@v${KUBE_VERSION}" >"${dir}/dl.json"
    gomod="$(sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' "${dir}/dl.json")"
    local staging_version="v0.${KUBE_VERSION#1.}"
    grep -oE 'k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "${gomod}" | awk '{print $1}' | sort -u |
      while read -r mod; do
        go mod edit -replace="${mod}=${mod}@${staging_version}"
      done
    cat >tools.go <<'GO'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
GO
    go mod tidy >/dev/null
    CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v${KUBE_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${KUBE_VERSION#1.}" \
      -o "${DEST}/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
    mv "${DEST}/kube-apiserver.tmp" "${DEST}/kube-apiserver"
  )
}

build_etcd() {
  [[ -x "${DEST}/etcd" ]] && return 0
  echo "envtest: building etcd v${ETCD_VERSION} from the module proxy (about a minute, once)" >&2
  local dir="${work}/etcd"
  mkdir -p "${dir}"
  (
    cd "${dir}"
    go mod init envtest-etcd >/dev/null 2>&1
    go mod edit -go=1.26
    go get "go.etcd.io/etcd/server/v3@v${ETCD_VERSION}" >/dev/null 2>&1
    cat >tools.go <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
    go mod tidy >/dev/null 2>&1 || true
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "${DEST}/etcd.tmp" go.etcd.io/etcd/server/v3
    mv "${DEST}/etcd.tmp" "${DEST}/etcd"
  )
}

build_etcd
build_kube_apiserver
