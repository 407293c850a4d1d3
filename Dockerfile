# syntax=docker/dockerfile:1
# Tessera identity server (docs/deployment.md). Build: docker build -t tessera .
# Run:   docker run -p 8080:8080 -v tessera-data:/var/lib/tessera -e TESSERA_MASTER_KEY=… tessera
# Other commands: docker run --rm -v tessera-data:/var/lib/tessera tessera backup /var/lib/tessera/backup.db

# 1. Build: every dependency (TypeScript), then the server and the packages it depends on.
FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/resource/package.json packages/resource/
COPY packages/server/package.json packages/server/
COPY packages/hub/package.json packages/hub/
COPY packages/testkit/package.json packages/testkit/
COPY packages/spa/package.json packages/spa/
COPY apps/demo/package.json apps/demo/
RUN npm ci
COPY packages/protocol packages/protocol
COPY packages/server packages/server
RUN npx tsc -b packages/server

# 2. Production dependencies only (native modules such as better-sqlite3 compile here, where tools exist).
FROM node:20-bookworm AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/resource/package.json packages/resource/
COPY packages/server/package.json packages/server/
COPY packages/hub/package.json packages/hub/
COPY packages/testkit/package.json packages/testkit/
COPY packages/spa/package.json packages/spa/
COPY apps/demo/package.json apps/demo/
# npm nests a workspace's dependency under packages/<name>/node_modules when another workspace needs another
# version of it (e.g. @fastify/cookie): those folders are copied too, and made here so they always exist.
RUN npm ci --omit=dev --workspace @tessera/server --include-workspace-root=false \
    && mkdir -p packages/protocol/node_modules packages/server/node_modules

# 3. Runtime: slim image, no compiler, no dev dependencies, an unprivileged user.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    TESSERA_DATA_DIR=/var/lib/tessera \
    TESSERA_HOST=0.0.0.0 \
    TESSERA_PORT=8080 \
    TESSERA_TLS=off \
    TESSERA_SHUTDOWN_GRACE_SECONDS=8
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY --from=deps /app/packages/protocol/node_modules packages/protocol/node_modules
COPY --from=deps /app/packages/server/node_modules packages/server/node_modules
COPY --from=build /src/package.json ./
COPY --from=build /src/packages/protocol/package.json packages/protocol/
COPY --from=build /src/packages/protocol/dist packages/protocol/dist
COPY --from=build /src/packages/server/package.json packages/server/
COPY --from=build /src/packages/server/bin packages/server/bin
COPY --from=build /src/packages/server/dist packages/server/dist
RUN groupadd --system --gid 10001 tessera \
    && useradd --system --uid 10001 --gid tessera --home-dir /var/lib/tessera --shell /usr/sbin/nologin tessera \
    && mkdir -p /var/lib/tessera \
    && chown tessera:tessera /var/lib/tessera \
    && chmod 0700 /var/lib/tessera
USER tessera:tessera
VOLUME ["/var/lib/tessera"]
EXPOSE 8080
# docker stop sends SIGTERM and waits 10 s: the 8 s shutdown grace fits inside it.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.TESSERA_PORT || '8080') + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/packages/server/bin/tessera.js"]
CMD ["serve"]
