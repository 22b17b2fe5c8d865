#!/usr/bin/env bash
# Installs the Debian packages Palisade builds and tests with. Idempotent: when
# everything is present it prints nothing and touches nothing.
#
#   scripts/install-deps.sh            packages for building and the unit tests
#   scripts/install-deps.sh demo       also what the demo drives the webhook with
#   scripts/install-deps.sh bench      also the benchmark tools
#   scripts/install-deps.sh images     also what the image test builds with: buildah,
#                                      and mmdebstrap for a Debian base image
#                                      made from the Debian mirror
set -euo pipefail

packages=(
  cmake ninja-build g++ make pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev
  libssl-dev openssl libboost-dev libboost-system-dev libsimdjson-dev libmimalloc-dev
  iproute2 iptables libmnl-dev
  clang libbpf-dev bpftool libelf-dev zlib1g-dev
)
case "${1:-}" in
  demo) packages+=(curl jq ca-certificates) ;;
  bench) packages+=(curl jq bc iproute2 nginx nghttp2-client hey iperf3 ipset) ;;
  # buildah runs builds with chroot isolation and the kernel's overlayfs (or
  # vfs) as root, so neither an OCI runtime nor fuse-overlayfs is needed.
  # mmdebstrap reads the Debian keyring with gpg to set up the chroot's apt.
  images) packages+=(buildah mmdebstrap debian-archive-keyring gpg mount) ;;
  "") ;;
  *) echo "install-deps: unknown set '$1' (demo, bench, images)" >&2; exit 2 ;;
esac

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
if [[ $(id -u) -ne 0 ]]; then
  sudo=sudo
else
  sudo=
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists; an old one may have stale ones.
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
