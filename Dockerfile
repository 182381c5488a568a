# weave-edge, self-hosted: `npm run serve` in a container (README "Running on
# your own machine" → Docker). Built only from the npm registry and Debian
# packages. Expects the Debian 12 Node 22 image, node:22-bookworm-slim (glibc,
# as workerd needs; not an Alpine/musl image).
#
# The steps are the scripts CI runs: npm ci, npm run build, npm run serve.
# All dependencies are devDependencies (wrangler, workerd, the Node 22 the npm
# scripts run on), so NODE_ENV=production must not be set for `npm ci`.
FROM node:22-bookworm-slim

WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build \
 && mkdir -p /data /app/.wrangler \
 && chown node:node /data /app/.wrangler

# Runs as the image's unprivileged `node` user. The data folder (SQLite files of
# every Durable Object and of D1, config.env with the master secret) is /data.
USER node
VOLUME /data
EXPOSE 8080
# npm passes SIGTERM (docker stop) on to the server, which finishes the requests
# in flight and exits; give it more than its 25 s drain (compose: stop_grace_period).
CMD ["npm", "run", "serve", "--", "--no-build", "--host", "0.0.0.0", "--port", "8080", "--data", "/data"]
