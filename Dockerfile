# syntax=docker/dockerfile:1
# idgate: one image for `idgate webhook`, `idgate proxy`, `idgate audit` and `idgate check`.

# --- build: dev dependencies, TypeScript → dist/ -------------------------------------------
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the image already has Node 24, so the `node` devDependency's binary
# download (for machines with an older system Node) is not needed here.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json

# --- production dependencies only --------------------------------------------------------
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force

# --- run ---------------------------------------------------------------------------------
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /src/dist ./dist
COPY --chown=0:0 package.json ./
# Numeric non-root user (matches runAsUser in the manifests and the injected sidecar), so
# runAsNonRoot can be verified by the kubelet without a passwd lookup.
USER 65532:65532
EXPOSE 8443 4180
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["--help"]
