# syntax=docker/dockerfile:1
# Node.js 26, the Active LTS line (since 2026-10-28; maintained until 2029-04-30): better-sqlite3 12.11 declares
# support for it. Build stage: native modules (better-sqlite3, bufferutil) compile here when no prebuilt binary fits.
FROM node:26-trixie AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The lock file names the web SDK's workspace: its manifest must be there for npm ci (the SDK is not built here)
COPY sdk/web/package.json ./sdk/web/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The console's pages (lit-html bundled by esbuild, both dev dependencies) are built here, before the prune.
COPY console ./console
RUN npm run build:server && npm run build:console && npm prune --omit=dev

# Runtime stage: no compilers, non-root, data in a volume. The same Node.js major and Debian release as the build
# stage: the native modules are built for its ABI and C library.
FROM node:26-trixie-slim
ENV NODE_ENV=production QOSWATCH_DATA_DIR=/var/lib/qoswatch PORT=8080 HOST=0.0.0.0
# V8 otherwise sizes its heap from the host's (or the whole container limit's) memory and defers collection until
# garbage fills it. 512 MiB holds ~20 k series with 200 k sessions; raise it for more (README, Operations, Memory).
ENV NODE_OPTIONS="--max-old-space-size=512 --max-semi-space-size=4"
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY alert-rules ./alert-rules
# Owner-only: the data dir holds key hashes and the link secret (the service also tightens it at start).
RUN install -d -m 0700 -o node -g node /var/lib/qoswatch
USER node
VOLUME /var/lib/qoswatch
EXPOSE 8080
# Healthy while it can take telemetry (/readyz: data dir writable, not shutting down), not merely alive (/healthz).
# No curl or wget in the slim image: Node's fetch.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
STOPSIGNAL SIGTERM
CMD ["node", "dist/cli.js", "serve"]
