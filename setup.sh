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
say "ready"
