# Tika, production image: compiled JavaScript on node alone (no TypeScript loader at run time).
# Build: docker build -t tika .   Run: see docker-compose.yml and the README's "Production" section.

# Build stage: dev dependencies (typescript, esbuild) compile src/ and migrations/ into dist/, flows/ beside
# them, and bundle the browser simulator's script into dist/simulator/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src src
COPY migrations migrations
COPY flows flows
COPY deploy deploy
COPY scripts/build-simulator.ts scripts/build-simulator.ts
RUN npm run build

# Runtime stage: production dependencies and dist/ (dist/flows is where the code looks for flows).
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist dist
# DATA_DIR (default data/) is the one place the process may write; everything else stays root's, read-only to it.
RUN mkdir data && chown node:node data
USER node
EXPOSE 3000
# node:20-slim has no curl: node's own fetch asks /healthz (the process answers) on this container's PORT.
# Compose checks readiness (/readyz) per service; a worker-only container answers on WORKER_METRICS_PORT.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Web and worker in one process; docker-compose.yml runs dist/src/web.js and dist/src/worker.js apart,
# and dist/src/cli.js migrate once before them.
CMD ["node", "dist/src/main.js"]
