# nest-model-server image: build in one stage, run from a clean one.
#
#   docker build -t nest-model-server:0.1.0 .
#   docker build -t nest-model-server:0.1.0 --build-arg MODELS_DIR=path/in/context .   # bake your own repository
#   docker run --rm -p 8000:8000 -p 8001:8001 -e API_KEYS=client:change-me nest-model-server:0.1.0
#
# Stages: build (all dependencies, `npm run build` → dist/), prod-deps (`npm ci --omit=dev`),
# runtime (node_modules of prod-deps + dist/ + models/ + proto/ + the gRPC probe; runs as uid 1000).
# Every stage copies .npmrc before `npm ci`: it sets onnxruntime-node-install=skip, so
# onnxruntime-node's postinstall does not try to download CUDA binaries (the CPU binaries ship in
# the npm package itself). ONNXRUNTIME_NODE_INSTALL=skip says the same to that script directly
# (npm 11 warns that unknown .npmrc keys will stop being passed on in its next major version).

ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV SCARF_ANALYTICS=false \
    ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
RUN npm run build

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
ENV SCARF_ANALYTICS=false \
    ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# A model repository inside the build context (default: the bundled models). Or mount your own
# over /app/models at run time (read-only is enough: the service never writes there).
ARG MODELS_DIR=models

WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    GRPC_PORT=8001 \
    METRICS_PORT=8080 \
    MODEL_REPOSITORY=/app/models \
    REGISTRY_STATE_FILE=/var/lib/nest-model-server/state.json \
    LOG_FORMAT=json

# Application files are root-owned and read-only for the service user; only the state directory
# is its own (a volume: docker copies this ownership into a new named volume).
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY proto ./proto
COPY scripts/grpc-health-probe.js ./scripts/grpc-health-probe.js
COPY ${MODELS_DIR} ./models
RUN mkdir -p /var/lib/nest-model-server && chown 1000:1000 /var/lib/nest-model-server
VOLUME ["/var/lib/nest-model-server"]

# 8000 HTTP (REST, V2, /health, /docs), 8001 gRPC (KServe V2, grpc.health.v1), 8080 /metrics.
EXPOSE 8000 8001 8080

# uid 1000 is the base image's `node` user; numeric so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000

# Liveness only (the process answers); readiness is /health/ready, for orchestrators to ask.
# Node's own fetch: the slim image has no curl or wget.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/health/live', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# The service drains on SIGTERM (SHUTDOWN_DELAY_SECONDS, then SHUTDOWN_TIMEOUT_SECONDS; it exits
# within delay + timeout + 1 s): give `docker stop -t` / stop_grace_period more than that.
STOPSIGNAL SIGTERM

# node itself, not `npm start`: npm would rebuild (prestart) and does not pass signals on. The same
# node flags as the start script (README, "Request path": a 32 MiB young-generation semi-space).
CMD ["node", "--max-semi-space-size=32", "dist/main.js"]
