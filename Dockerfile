# syntax=docker/dockerfile:1
# One image for every process of the shop; the command picks the service:
#   node dist/gateway/index.js                 (the default)
#   node dist/subgraphs/<users|products|orders|payments>/index.js
#   node dist/sandbox/index.js   (the payment-provider sandbox, not for production)

ARG NODE_VERSION=20

# Bundles each process into dist/ and makes its V8 code cache on this same Node.js (npm ci runs the
# build through the prepare script).
FROM node:${NODE_VERSION}-bookworm-slim AS builder
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund

# Production dependencies only. The prepare script needs the dev tools, so install scripts are skipped
# and the one native module is built on its own.
FROM node:${NODE_VERSION}-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && npm rebuild better-sqlite3 \
  && npm cache clean --force

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=dependencies --chown=root:root /app/node_modules node_modules
COPY --from=builder --chown=root:root /app/dist dist
COPY --chown=root:root package.json ./
COPY --chown=root:root schema/supergraph.graphql schema/supergraph.graphql
# The code is owned by root and read-only to the service user; only .data/ (the embedded SQLite store,
# unused with DATABASE_URL) is writable, and in Kubernetes it is a volume.
RUN mkdir .data && chown node:node .data
USER node
EXPOSE 4000
# For plain Docker; Kubernetes has its own probes (/healthz, /readyz); the sandbox serves only /healthz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/gateway/index.js"]
