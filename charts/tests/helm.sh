#!/usr/bin/env bash
# Prints the path of the helm binary the chart tests run: $PALISADE_HELM when
# set, else the one tests/e2e/binaries.sh builds from Go modules and caches
# (the first call builds it, which takes minutes; later ones print the path).
set -euo pipefail

if [[ -n "${PALISADE_HELM:-}" ]]; then
  if [[ ! -x "$PALISADE_HELM" ]]; then
    echo "helm.sh: PALISADE_HELM=$PALISADE_HELM is not an executable file" >&2
    exit 1
  fi
  echo "$PALISADE_HELM"
  exit 0
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
binaries="$here/../../tests/e2e/binaries.sh"
if [[ ! -x "$binaries" ]]; then
  echo "helm.sh: $binaries is missing; set PALISADE_HELM to a helm binary" >&2
  exit 1
fi
exec "$binaries" path helm
