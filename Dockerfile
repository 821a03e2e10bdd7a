# syntax=docker/dockerfile:1
# One image for both processes: the API (default command) and the Temporal worker
# (`node dist/worker/index.js`). Debian slim, not Alpine: Temporal's native core-bridge module is
# built for glibc and does not load on musl.

# --- build: full dependencies, compile TypeScript to dist/ ---
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && rm -rf dist/test

# --- runtime: production dependencies and the compiled output only ---
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/api/ui ./api/ui
# Files stay owned by root (read-only for the app); the processes run unprivileged.
USER node
EXPOSE 8080
CMD ["node", "dist/api/server.js"]
