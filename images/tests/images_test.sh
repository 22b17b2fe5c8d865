#!/usr/bin/env bash
# Builds both container images with buildah, as a user of images/README.md
# would, and checks what they contain and how they run.
#
#   images/tests/images_test.sh SOURCE_DIR
#
# No registry is contacted: the Debian bookworm base image is made from the
# Debian mirror by mmdebstrap (a tarball cached for the month), imported into
# a private buildah store under the name the Dockerfiles' FROM lines resolve
# to, and every build runs with --pull=never and docker.io blocked. apt inside
# the builds uses the Debian mirror.
#
# Kept between runs, in ${PALISADE_CACHE:-$HOME/.cache/palisade}/images:
#   debian-bookworm-slim-YYYY-MM-*.tar    the base image's root filesystem
#   store-<driver>/                       buildah's store: the base image and
#       the layers of the last run's builds, so that a run with the same
#       Dockerfiles and sources reuses every layer, and one with other sources
#       reuses the build stage's packages. Layers no longer used are removed
#       after each run; the images it built are removed too.
#   logs/                                 the last run's build logs
# Runs of this test on one machine take turns (a lock in that folder).
#
# Needs root (buildah runs with chroot isolation: no daemon, no OCI runtime),
# scripts/install-deps.sh images, and a kernel with BTF (the enforcer's BPF
# programs are compiled against it). PALISADE_IMAGES_STORAGE_DRIVER=vfs|overlay
# overrides the store's driver (default: overlay when it mounts here, else vfs).
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
step() {
  echo "== $* ($(date -u +%H:%M:%S))"
}

[[ $# -eq 1 ]] || { echo "usage: $0 SOURCE_DIR" >&2; exit 2; }
source_dir=$(cd "$1" && pwd)
readonly source_dir
readonly release=bookworm

[[ $(id -u) -eq 0 ]] || fail "needs root: buildah builds here with chroot isolation as root"
for tool in buildah mmdebstrap flock; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/install-deps.sh images"
done
[[ -r /sys/kernel/btf/vmlinux ]] ||
  fail "/sys/kernel/btf/vmlinux is missing: the enforcer's BPF programs are compiled against it"

cache="${PALISADE_CACHE:-$HOME/.cache/palisade}/images"
mkdir -p "$cache"
exec 9>"$cache/lock"
if ! flock -n 9; then
  echo "waiting for another run of this test to finish with $cache"
  flock 9
fi

started=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/palisade-images.XXXXXX")
readonly work
# The images this run builds; removed at exit, with their containers.
readonly webhook_image=localhost/palisade-webhook:images-test
readonly enforcer_image=localhost/palisade-enforcer:images-test

# Hermetic configuration: no host storage.conf or registries.conf applies, no
# short name is searched on any registry, and docker.io is blocked outright so
# that a build asking for a pull fails at once instead of reaching Docker Hub.
cat >"$work/registries.conf" <<'EOF'
unqualified-search-registries = []

[[registry]]
location = "docker.io"
blocked = true
EOF
export CONTAINERS_REGISTRIES_CONF="$work/registries.conf"
export BUILDAH_ISOLATION=chroot

# --- the store ---------------------------------------------------------------
store_for() {
  echo "$cache/store-$1"
}
# The store's run-time state (mount counts, locks) lives under /run, which a
# reboot empties, as the mounts it describes go away.
bh_with() {
  local store_driver=$1 conf="$work/storage-$1.conf"
  shift
  if [[ ! -e "$conf" ]]; then
    local graphroot
    graphroot="$(store_for "$store_driver")/root"
    printf '[storage]\ndriver = "%s"\ngraphroot = "%s"\nrunroot = "%s"\n' "$store_driver" \
      "$graphroot" "/run/palisade-images/$(echo "$graphroot" | sha256sum | cut -c1-16)" >"$conf"
  fi
  CONTAINERS_STORAGE_CONF="$conf" buildah "$@"
}
overlay_mounts() {
  local ctr mnt
  ctr=$(bh_with overlay from --pull=never scratch 2>/dev/null) || return 1
  mnt=$(bh_with overlay mount "$ctr" 2>/dev/null) && [[ -d "$mnt" ]]
  local ok=$?
  bh_with overlay rm "$ctr" >/dev/null 2>&1 || true
  return $ok
}
driver=${PALISADE_IMAGES_STORAGE_DRIVER:-}
if [[ -z "$driver" ]]; then
  if overlay_mounts; then driver=overlay; else driver=vfs; fi
fi
case "$driver" in
  overlay | vfs) ;;
  *) fail "PALISADE_IMAGES_STORAGE_DRIVER=$driver: use overlay or vfs" ;;
esac
readonly driver
store=$(store_for "$driver")
readonly store
bh() {
  bh_with "$driver" "$@"
}

cleanup() {
  local status=$?
  # Containers first (checks left them mounted), then the images by name:
  # that removes the runtime stages' layers too (the parents of a removed
  # image go with it when nothing else uses them), which take seconds to make
  # again. The build stage's stay, with the base image: the layer cache keeps
  # what this run's builds used.
  bh rm --all >/dev/null 2>&1 || true
  bh rmi "$webhook_image" "$enforcer_image" >/dev/null 2>&1 || true
  if [[ -s "$work/used-ids" ]]; then
    local id
    while read -r id; do
      id=${id#sha256:}
      if ! grep -qx "${id:0:11}" "$work/used-ids" && [[ "$id" != "${base_id:-none}"* ]]; then
        bh rmi "$id" >/dev/null 2>&1 || true
      fi
    done < <(bh images --all --noheading --no-trunc --format '{{.ID}}' 2>/dev/null)
  fi
  rm -rf "$work"
  echo "== done in $((SECONDS - started)) s (store: $driver, $(du -sh "$store" 2>/dev/null | cut -f1) kept in $store)"
  exit $status
}
trap cleanup EXIT

# A run killed by a timeout leaves its containers and images behind.
bh rm --all >/dev/null 2>&1 || true
bh rmi "$webhook_image" "$enforcer_image" >/dev/null 2>&1 || true

# --- the base image -----------------------------------------------------------
# Made like the official debian:bookworm-slim, so that the sizes printed are
# those the images have when built on it: Debian's required packages and apt
# (minbase), /usr merged without the usrmerge package, no documentation, man
# pages or translations (dpkg leaves them out of later installs too), and apt
# keeps no package caches. It stands in for debian:bookworm as well: the
# build stage installs all it needs. Made again each month, for security
# updates, or when these options change.
mmdebstrap_options=(
  --variant=minbase --format=tar
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-include=/usr/share/locale/locale.alias'
  --dpkgopt='path-exclude=/usr/share/lintian/*'
  --aptopt='Dir::Cache::pkgcache ""' --aptopt='Dir::Cache::srcpkgcache ""'
)
options_hash=$(printf '%s\n' "${mmdebstrap_options[@]}" | sha256sum | cut -c1-8)
key="debian-$release-slim-$(date -u +%Y-%m)-$options_hash"
tarball="$cache/$key.tar"
if [[ ! -s "$tarball" ]]; then
  step "making the $release base image with mmdebstrap from the Debian mirror"
  t=$SECONDS
  if ! mmdebstrap --quiet "${mmdebstrap_options[@]}" "$release" "$work/base.tar" \
    </dev/null >"$work/mmdebstrap.log" 2>&1; then
    tail -n 40 "$work/mmdebstrap.log" >&2
    fail "mmdebstrap could not make a $release root filesystem from the Debian mirror"
  fi
  mv "$work/base.tar" "$tarball"
  find "$cache" -maxdepth 1 -name "debian-$release-*.tar" ! -name "$key.tar" -delete
  echo "   $tarball: $(du -h "$tarball" | cut -f1), $((SECONDS - t)) s"
fi

readonly base_name="docker.io/library/debian:$release"
base_id=$(bh inspect --type image --format '{{.FromImageID}}' "$base_name" 2>/dev/null || true)
if [[ -z "$base_id" || "$(cat "$store/base-key" 2>/dev/null)" != "$key" ]]; then
  step "importing $tarball as $base_name and $base_name-slim"
  t=$SECONDS
  bh rmi --force "$base_name" "$base_name-slim" >/dev/null 2>&1 || true
  ctr=$(bh from --pull=never scratch)
  bh add --quiet "$ctr" "$tarball" / >/dev/null
  bh config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd /bin/bash "$ctr"
  bh commit --quiet --rm "$ctr" "$base_name" >/dev/null
  bh tag "$base_name" "$base_name-slim"
  base_id=$(bh inspect --type image --format '{{.FromImageID}}' "$base_name")
  echo "$key" >"$store/base-key"
  echo "   $((SECONDS - t)) s"
fi

# --- the build context ----------------------------------------------------------
# A copy of the repository (without VCS data and build trees, as a fresh
# clone), into which build trees are then planted: .dockerignore must keep
# them out of the context, or the project would ship stale objects and every
# build would send gigabytes.
step "copying the repository to a build context"
context="$work/context"
mkdir "$context"
tar -C "$source_dir" --anchored --exclude=./.git --exclude=./build --exclude='./build-*' \
  --exclude=./.cache -cf - . | tar -C "$context" -xf -
for dir in build build-images-test; do
  mkdir -p "$context/$dir"
  echo "planted by images_test.sh" >"$context/$dir/CMakeCache.txt"
done

# The build stage must be the same in both Dockerfiles: then the second image's
# build reuses the first one's layers instead of compiling the project again.
build_stage() {
  awk '/^[[:space:]]*#/ || /^[[:space:]]*$/ { next }
       /^FROM / { in_build = ($0 ~ / AS build$/) }
       in_build || /^ARG / { print }' "$1"
}
diff <(build_stage "$context/images/webhook.Dockerfile") \
  <(build_stage "$context/images/enforcer.Dockerfile") >"$work/stage.diff" || {
  cat "$work/stage.diff" >&2
  fail "the build stages of webhook.Dockerfile and enforcer.Dockerfile differ (above): keep" \
    "them identical so that the project is compiled once for both images"
}
[[ -n "$(build_stage "$context/images/webhook.Dockerfile")" ]] ||
  fail "webhook.Dockerfile has no stage named build"

# --- the builds -------------------------------------------------------------------
: >"$work/used-ids"
rm -rf "$cache/logs"
mkdir "$cache/logs"
bud() {
  local name=$1 dockerfile=$2 tag=$3
  step "buildah bud $name"
  local t=$SECONDS log="$cache/logs/$name.log"
  local status=0
  bh bud --layers --pull=never --ignorefile "$context/images/.dockerignore" \
    -f "$context/images/$dockerfile" -t "$tag" "$context" \
    </dev/null >"$log" 2>&1 || status=$?
  # Every step prints the image it made or reused: the layer cache to keep.
  sed -n -E 's/^--> (Using cache )?([0-9a-f]{11})[0-9a-f]*$/\2/p' "$log" >>"$work/used-ids"
  if [[ $status -ne 0 ]]; then
    tail -n 60 "$log" >&2
    fail "building $name from images/$dockerfile failed (the end of its log is above)"
  fi
  local steps cached
  steps=$(grep -cE '^(\[[0-9]+/[0-9]+\] )?STEP ' "$log" || true)
  cached=$(grep -c '^--> Using cache ' "$log" || true)
  echo "   $((SECONDS - t)) s, $steps steps, $cached from the layer cache"
}
bud webhook webhook.Dockerfile "$webhook_image"
bud enforcer enforcer.Dockerfile "$enforcer_image"
# The build stage's image: the last one made before the second stage starts.
build_image=$(awk '/^--> (Using cache )?[0-9a-f]+$/ { id = $NF }
                   /^\[2\/[0-9]+\] STEP 1\// { print id; exit }' "$cache/logs/webhook.log")
[[ -n "$build_image" ]] || fail "no build stage image in the webhook's build log"

# --- checks -------------------------------------------------------------------------
step "checking the images"
image_config() {
  bh inspect --type image --format "{{$2}}" "$1"
}
container_of() {
  bh from --pull=never "$1"
}
failures=0
check() {
  local what=$1
  shift
  if "$@"; then
    echo "   ok: $what"
  else
    echo "   FAILED: $what" >&2
    failures=$((failures + 1))
  fi
}

# The build context: the planted build trees stayed out, the files the build
# needs are in.
build_ctr=$(container_of "$build_image")
build_root=$(bh mount "$build_ctr")
context_is_clean() {
  local dir
  for dir in build build-images-test; do
    if [[ -e "$build_root/src/$dir" ]]; then
      echo "     /src/$dir is in the build context: .dockerignore must exclude build trees" >&2
      return 1
    fi
  done
  for file in CMakeLists.txt images/CMakeLists.txt charts/CMakeLists.txt server/main.cpp; do
    if [[ ! -e "$build_root/src/$file" ]]; then
      echo "     /src/$file is missing from the build context" >&2
      return 1
    fi
  done
}
check ".dockerignore keeps build/ and build-*/ out of the context" context_is_clean

# What each image runs: its entrypoint with --help, as the image's own user.
entrypoint_help() {
  local image=$1 binary=$2 ctr=$3 entrypoint out
  entrypoint=$(image_config "$image" 'range .OCIv1.Config.Entrypoint}}{{.}} {{end')
  if [[ "$entrypoint" != "/usr/local/bin/$binary " ]]; then
    echo "     entrypoint is '$entrypoint', not /usr/local/bin/$binary" >&2
    return 1
  fi
  # shellcheck disable=SC2086 # the entrypoint's words
  if ! out=$(bh run "$ctr" -- $entrypoint --help 2>&1); then
    echo "$out" | head -n 20 | sed 's/^/     /' >&2
    echo "     $binary --help failed in the image" >&2
    return 1
  fi
  if [[ "$out" != "$binary: "* ]]; then
    echo "$out" | head -n 5 | sed 's/^/     /' >&2
    echo "     $binary --help did not print its usage" >&2
    return 1
  fi
}
# No compiler, build tool or linker on PATH: the runtime stage copies only
# the stripped binary.
no_build_tools() {
  local ctr=$1 found
  found=$(bh run "$ctr" -- sh -c \
    'for t in gcc g++ cc c++ clang clang++ cmake make ninja ld as; do
       command -v "$t" || true
     done' 2>&1)
  if [[ -n "$found" ]]; then
    echo "$found" | sed 's/^/     found: /' >&2
    return 1
  fi
}

webhook_ctr=$(container_of "$webhook_image")
webhook_root=$(bh mount "$webhook_ctr")
dockerfile_user=$(sed -n -E 's/^USER[[:space:]]+([^[:space:]]+).*/\1/p' \
  "$context/images/webhook.Dockerfile" | tail -n 1)
webhook_user=$(image_config "$webhook_image" .OCIv1.Config.User)
webhook_runs_as_non_root() {
  if [[ -z "$dockerfile_user" || "$webhook_user" != "$dockerfile_user" ]]; then
    echo "     image user is '$webhook_user', webhook.Dockerfile says '$dockerfile_user'" >&2
    return 1
  fi
  # Kubernetes' runAsNonRoot can verify only a numeric uid.
  if [[ ! "$webhook_user" =~ ^([0-9]+)(:[0-9]+)?$ || ${BASH_REMATCH[1]} -eq 0 ]]; then
    echo "     image user '$webhook_user' is not a numeric non-zero uid" >&2
    return 1
  fi
  local ids
  ids=$(bh run "$webhook_ctr" -- sh -c 'echo "$(id -u):$(id -g)"' 2>&1)
  if [[ "$ids" != "${webhook_user%%:*}:"* || ( "$webhook_user" == *:* && "$ids" != "$webhook_user" ) ]]; then
    echo "     processes in the image run as '$ids', not '$webhook_user'" >&2
    return 1
  fi
}
check "palisade-webhook runs as the non-root user webhook.Dockerfile sets ($webhook_user)" \
  webhook_runs_as_non_root
check "palisade-webhook's entrypoint runs --help" \
  entrypoint_help "$webhook_image" palisade-webhook "$webhook_ctr"
check "no compiler or build tool in palisade-webhook" no_build_tools "$webhook_ctr"
check "palisade-webhook has no palisade-enforcer" test ! -e "$webhook_root/usr/local/bin/palisade-enforcer"

enforcer_ctr=$(container_of "$enforcer_image")
enforcer_root=$(bh mount "$enforcer_ctr")
enforcer_user=$(image_config "$enforcer_image" .OCIv1.Config.User)
# uid 0 by design (images/README.md: capabilities reach no other uid).
check "palisade-enforcer runs as root, as enforcer.Dockerfile intends" \
  test -z "$enforcer_user" -o "$enforcer_user" = 0 -o "$enforcer_user" = root
check "palisade-enforcer's entrypoint runs --help" \
  entrypoint_help "$enforcer_image" palisade-enforcer "$enforcer_ctr"
check "no compiler or build tool in palisade-enforcer" no_build_tools "$enforcer_ctr"
# The BPF programs travel inside the binary (a libbpf skeleton): an ELF object
# for the BPF machine (e_machine 247) embedded in it, with both programs.
bpf_object_embedded() {
  local binary="$enforcer_root/usr/local/bin/palisade-enforcer" offset machine found=0
  while read -r offset; do
    [[ "$offset" -gt 0 ]] || continue
    machine=$(od -An -tu2 -j $((offset + 18)) -N2 "$binary" | tr -d ' ')
    [[ "$machine" == 247 ]] && found=$((found + 1))
  done < <(LC_ALL=C grep -obUaP '\x7fELF\x02\x01\x01' "$binary" | cut -d: -f1)
  if [[ $found -ne 1 ]]; then
    echo "     $found BPF ELF objects embedded in palisade-enforcer, expected 1" >&2
    return 1
  fi
  local program
  for program in pal_from_pod pal_to_pod; do
    if ! LC_ALL=C grep -qaF "$program" "$binary"; then
      echo "     the embedded BPF object has no program $program" >&2
      return 1
    fi
  done
}
check "palisade-enforcer embeds its BPF object (pal_from_pod, pal_to_pod)" bpf_object_embedded
check "palisade-enforcer has no palisade-webhook" test ! -e "$enforcer_root/usr/local/bin/palisade-webhook"

step "image sizes"
for image in "$webhook_image" "$enforcer_image" "$base_name"; do
  printf '   %-40s %s\n' "$image" "$(bh images --format '{{.Size}}' "$image" | head -n 1)"
done

[[ $failures -eq 0 ]] || fail "$failures check(s) failed"
echo "PASS"
