#!/usr/bin/env bash
# Build kube-apiserver, kube-controller-manager and kube-scheduler from Debian's
# `kubernetes` source package (1.20.2) and cache the binaries outside the repo.
# Facts behind each step: ../shared/notes/kube-apiserver.md.
# Idempotent: a cached build whose recipe matches is reused; prints the bin dir.
# The recipe (source, fixes, toolchain) keys the cache, not the list of binaries: a cache
# made before a binary joined the list keeps what it has and builds only what it lacks.
set -euo pipefail

RECIPE="debian-bookworm-kubernetes-src+reflect2-1.0.2+jsoniter-1.1.12+go1.19+cgo0+v1"
CACHE="${GITOPS_CACHE:-$HOME/.cache/gitops}/kube"
KEY=$(printf '%s' "$RECIPE" | sha256sum | cut -c1-16)
BIN="$CACHE/$KEY/bin"

log() { echo "[build-kube] $*" >&2; }

need_pkgs=(golang-1.19-go rsync make dpkg-dev etcd-server
           golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev openssl)
missing=()
for p in "${need_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${missing[@]}" >&2
fi

BINARIES=(kube-apiserver kube-controller-manager kube-scheduler)
lacking() {
  local b out=()
  for b in "${BINARIES[@]}"; do [[ -x "$BIN/$b" ]] || out+=("$b"); done
  echo "${out[*]}"
}
[[ -z "$(lacking)" ]] && { echo "$BIN"; exit 0; }

# one build at a time per recipe: a second caller waits, then finds the binaries
mkdir -p "$CACHE/$KEY"
exec 9>"$CACHE/$KEY/lock"
flock 9
read -r -a TODO <<<"$(lacking)"
((${#TODO[@]} == 0)) && { echo "$BIN"; exit 0; }

if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  log "adding a deb-src entry for bookworm"
  cat > /etc/apt/sources.list.d/gitops-deb-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt-get update -qq >&2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kube-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
log "fetching the kubernetes source package"
apt-get source --download-only kubernetes >&2
dpkg-source -x kubernetes_*.dsc src >&2
cd src
log "replacing vendored reflect2 and json-iterator with Debian's fixed copies"
for d in github.com/modern-go/reflect2 github.com/json-iterator/go; do
  rm -rf "vendor/$d"
  mkdir -p "vendor/$d"
  cp -a "/usr/share/gocode/src/$d/." "vendor/$d/"
  # keep only the Go sources a vendored package needs
  find "vendor/$d" -name '*_test.go' -delete
done
log "building ${TODO[*]} (about 8 minutes on 2 cores for all three)"
PATH=/usr/lib/go-1.19/bin:$PATH CGO_ENABLED=0 GOPROXY=off GOFLAGS=-mod=vendor \
  make WHAT="${TODO[*]/#/cmd/}" >&2
mkdir -p "$BIN"
for b in "${TODO[@]}"; do  # each binary appears whole or not at all
  cp "_output/bin/$b" "$BIN/.$b.tmp"
  mv "$BIN/.$b.tmp" "$BIN/$b"
done
echo "$RECIPE" > "$CACHE/$KEY/recipe"
echo "$BIN"
