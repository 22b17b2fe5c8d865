#!/usr/bin/env bash
# Builds, from Go modules, the binaries of the end-to-end test cluster, and
# keeps them in a cache outside the source tree.
#
#   tests/e2e/binaries.sh path NAME   print the absolute path of NAME, building it
#                                     first if the cache lacks it
#   tests/e2e/binaries.sh all         build every binary the cache lacks
#   tests/e2e/binaries.sh dir         print the cache folder (nothing is built)
#
# NAME is one of kube-apiserver, kubectl, etcd, helm. The versions are the ones
# the go.mod files beside this script pin; the cache folder is
#   ${PALISADE_CACHE:-$HOME/.cache/palisade}/e2e/<key>/bin
# where <key> names those versions and hashes the module files and the Go
# version, so a change to any of them builds afresh in a new folder.
#
# Safe to run concurrently: builds take a lock on the key's folder, and a binary
# appears at its final path only once complete (it is built under a temporary
# name and renamed). Progress and build times go to stderr; stdout carries only
# the paths asked for.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly here
readonly names=(kube-apiserver kubectl etcd helm)

usage() {
  echo "usage: $0 path {kube-apiserver|kubectl|etcd|helm} | all | dir" >&2
  exit 2
}

die() {
  echo "binaries.sh: $*" >&2
  exit 1
}

# The machine's Go. A toolchain other than the installed one is never fetched
# behind the caller's back: GOTOOLCHAIN stays as the caller set it, else local.
find_go() {
  if [[ -n "${PALISADE_GO:-}" ]]; then
    echo "$PALISADE_GO"
  elif command -v go >/dev/null 2>&1; then
    command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then
    echo /usr/local/go/bin/go
  else
    die "no Go toolchain: install Go or set PALISADE_GO"
  fi
}
go_bin=$(find_go)
readonly go_bin
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
# Module files are committed complete: the build must never rewrite them.
export GOFLAGS="-mod=readonly -buildvcs=false"
export CGO_ENABLED=0

# The version a module file requires of a module path.
required_version() {
  local gomod=$1 module=$2
  awk -v m="$module" '$1 == m && $2 ~ /^v/ { print $2; exit }
                      $1 == "require" && $2 == m { print $3; exit }' "$gomod"
}

k8s_version=$(required_version "$here/go.mod" k8s.io/kubernetes)
etcd_version=$(required_version "$here/etcd/go.mod" go.etcd.io/etcd/server/v3)
helm_version=$(required_version "$here/helm/go.mod" helm.sh/helm/v3)
# Helm reports, offline, the Kubernetes version of the client libraries it was
# built with (as its own release build does); v0.X.Y of those is Kubernetes 1.X.
helm_client_go=$(required_version "$here/helm/go.mod" k8s.io/client-go)
[[ -n "$k8s_version" && -n "$etcd_version" && -n "$helm_version" && -n "$helm_client_go" ]] ||
  die "cannot read the pinned versions from the go.mod files in $here"
readonly k8s_version etcd_version helm_version helm_client_go

k8s_major=${k8s_version#v}
k8s_major=${k8s_major%%.*}
k8s_minor=${k8s_version#v*.}
k8s_minor=${k8s_minor%%.*}
helm_k8s_minor=${helm_client_go#v0.}
helm_k8s_minor=${helm_k8s_minor%%.*}

# Kubernetes binaries otherwise report v0.0.0-master, which version checks (in
# kubectl, and in Helm charts' kubeVersion) reject.
k8s_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitMajor=$k8s_major -X $pkg.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitTreeState=clean"
done
helm_ldflags="-X helm.sh/helm/v3/internal/version.version=$helm_version"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  helm_ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$helm_k8s_minor"
done
readonly k8s_ldflags helm_ldflags

go_version=$("$go_bin" env GOVERSION) || die "$go_bin does not run"
readonly go_version

# Everything that decides the bytes built goes into the key.
cache_key() {
  local digest
  digest=$({
    echo "$go_version $GOFLAGS CGO_ENABLED=$CGO_ENABLED"
    echo "$k8s_ldflags"
    echo "$helm_ldflags"
    cat "$here/go.mod" "$here/go.sum" \
      "$here/etcd/go.mod" "$here/etcd/go.sum" "$here/etcd/main.go" \
      "$here/helm/go.mod" "$here/helm/go.sum"
  } | sha256sum)
  echo "k8s-${k8s_version}_etcd-${etcd_version}_helm-${helm_version}_${go_version}_${digest:0:12}"
}

key_dir="${PALISADE_CACHE:-$HOME/.cache/palisade}/e2e/$(cache_key)"
bin_dir="$key_dir/bin"
readonly key_dir bin_dir

# A build cut short leaves neither a compiler running nor a partial file.
partial=""
build_pid=""
cleanup() {
  [[ -z "$build_pid" ]] || kill "$build_pid" 2>/dev/null || true
  [[ -z "$partial" ]] || rm -f "$partial"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# build NAME: compiles NAME into the cache, unless a concurrent run already has.
build() {
  local name=$1
  local final="$bin_dir/$name"
  mkdir -p "$bin_dir"
  exec {lock_fd}>"$key_dir/.lock"
  flock "$lock_fd"
  if [[ -x "$final" ]]; then
    exec {lock_fd}>&-
    return 0
  fi

  local module_dir package ldflags="-s -w"
  case "$name" in
    kube-apiserver | kubectl)
      module_dir=$here
      package=k8s.io/kubernetes/cmd/$name
      ldflags+=$k8s_ldflags
      ;;
    etcd)
      module_dir=$here/etcd
      package=.
      ;;
    helm)
      module_dir=$here/helm
      package=helm.sh/helm/v3/cmd/helm
      ldflags+=" $helm_ldflags"
      ;;
  esac

  local temporary="$bin_dir/.$name.partial.$$"
  partial=$temporary
  local started=$SECONDS
  echo "binaries.sh: building $name ($package in $module_dir) with $go_version..." >&2
  # In the background and waited for, so that a signal to this script is
  # handled at once rather than after the build.
  (cd "$module_dir" &&
    exec "$go_bin" build -trimpath -ldflags="$ldflags" -o "$temporary" "$package") >&2 &
  build_pid=$!
  if ! wait "$build_pid"; then
    build_pid=""
    rm -f "$temporary"
    exec {lock_fd}>&-
    die "building $name failed"
  fi
  build_pid=""
  mv -f "$temporary" "$final"
  partial=""
  exec {lock_fd}>&-
  echo "binaries.sh: built $name in $((SECONDS - started)) s: $final" >&2
}

is_name() {
  local candidate=$1 name
  for name in "${names[@]}"; do
    [[ "$candidate" == "$name" ]] && return 0
  done
  return 1
}

case "${1:-}" in
  path)
    [[ $# -eq 2 ]] && is_name "$2" || usage
    # A binary at its final path is complete, so the common case takes no lock.
    [[ -x "$bin_dir/$2" ]] || build "$2"
    echo "$bin_dir/$2"
    ;;
  all)
    [[ $# -eq 1 ]] || usage
    for name in "${names[@]}"; do
      [[ -x "$bin_dir/$name" ]] || build "$name"
    done
    echo "binaries.sh: all binaries are in $bin_dir" >&2
    ;;
  dir)
    [[ $# -eq 1 ]] || usage
    echo "$bin_dir"
    ;;
  *) usage ;;
esac
