# API credentials console: one container, one SQLite file in /data.

# --- build: compile native modules and TypeScript, then drop dev dependencies ---
FROM node:20-bookworm-slim AS build
# better-sqlite3 12 compiles from source here (its prebuilt download is not reachable);
# bcrypt 6 ships prebuilds but falls back to node-gyp too.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY views ./views
COPY public ./public
COPY migrations ./migrations
# tsc -> dist/src, and scripts/copy-assets.js -> public/vendor/htmx.min.js
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force
# Keep only the compiled addon of better-sqlite3 (build/Release/better_sqlite3.node), not the
# SQLite sources and object files node-gyp left behind (about 25 MB).
RUN cd node_modules/better-sqlite3 \
 && rm -rf deps src build/Release/obj build/Release/obj.target build/Release/.deps \
           build/Release/sqlite3.a build/Release/test_extension.node

# --- runtime: production dependencies, compiled code and assets only ---
FROM node:20-bookworm-slim
# tini as PID 1: forwards SIGTERM to node and reaps zombies (docs/decisions/0002-container.md).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data \
 && chown node:node /data \
 && chmod 700 /data
WORKDIR /app
# Code stays root-owned (read-only for the app); only /data is writable by `node`.
# src/paths.ts finds the root by package.json, so it sits next to dist/, views/, public/, migrations/.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/views ./views
COPY --from=build /app/public ./public
COPY --from=build /app/migrations ./migrations
ENV NODE_ENV=production \
    DATA_DIR=/data \
    PORT=3000
VOLUME ["/data"]
EXPOSE 3000
USER node
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/src/server.js"]
