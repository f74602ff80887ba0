# syntax=docker/dockerfile:1
# tcpulse agent image. Build from the repository root:
#   docker build -t tcpulse:0.1.0 .
# Stage 1 compiles the BPF objects (clang, libbpf headers) and the
# TypeScript, and keeps only production npm packages; stage 2 is the Node.js
# runtime with libbpf1 and nothing to build with.

ARG NODE_VERSION=20.20.2

# ---- build ----------------------------------------------------------------
FROM node:${NODE_VERSION}-bookworm AS build

# Debian 12 packages, versions from the bookworm release the base image
# tracks (pinning exact Debian revisions breaks on every point release).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang llvm libbpf-dev make ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-fund --no-audit

COPY tsconfig.json tsconfig.build.json ./
COPY bpf/ ./bpf/
COPY src/ ./src/
COPY bin/ ./bin/
RUN make -C bpf \
 && npx tsc -p tsconfig.build.json \
 && npm prune --omit=dev --no-fund --no-audit

# ---- runtime --------------------------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim

ARG NODE_VERSION
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="tcpulse" \
      org.opencontainers.image.description="Kubernetes node agent for TCP observability: eBPF packet path and socket signals to Prometheus metrics" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/node:${NODE_VERSION}-bookworm-slim"

# libbpf1 is the only native library the agent loads (through koffi) besides libc.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libbpf1 \
 && rm -rf /var/lib/apt/lists/*

# The agent finds its files (bpf/*.o) next to its package.json.
WORKDIR /opt/tcpulse
ENV NODE_ENV=production
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules/
COPY --from=build /src/bin ./bin/
COPY --from=build /src/dist/src ./dist/src/
COPY --from=build /src/bpf/*.bpf.o ./bpf/
# the same programs for kernels before 5.12 (src/probes/objects.ts)
COPY --from=build /src/bpf/compat/*.bpf.o ./bpf/compat/

# /metrics, /healthz, /readyz (the chart runs the pod on the host network)
EXPOSE 9983
# Runs as root: loading BPF needs uid 0 with CAP_BPF, CAP_PERFMON and
# CAP_NET_ADMIN (the Helm chart grants exactly those and drops the rest).
# bin/tcpulse.js: the agent with its Node.js flags and malloc arena limit
ENTRYPOINT ["bin/tcpulse.js"]
CMD ["--config", "/etc/tcpulse/config.yaml"]
