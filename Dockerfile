# syntax=docker/dockerfile:1
# idgate: one image for `idgate webhook`, `idgate proxy`, `idgate audit` and `idgate check`.

# --- build: dev dependencies, TypeScript → one bundle (scripts/bundle.ts) ------------------
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the image already has Node 24, so the `node` devDependency's binary
# download (for machines with an older system Node) is not needed here; esbuild finds its
# binary through its platform package without its install script.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
COPY scripts/bundle.ts ./scripts/
# The production code idgate imports, and nothing else (docs/design.md#the-shipped-bundle):
# no node_modules reaches the image; test/manifests/bundle.test.ts checks that every package
# in the bundle is a production dependency.
RUN node scripts/bundle.ts dist/bundle

# --- run ---------------------------------------------------------------------------------
FROM node:24-bookworm-slim
ENV NODE_ENV=production
# glibc gives each thread that allocates an arena of its own (up to 8 per core) and keeps what
# it touched: the threads that read the bindings list at start-up left about 10 MB of RSS at
# rest (10,000 bindings from a cluster: 118-126 MB, 110-119 MB with two arenas). The
# admission path allocates on the main thread, where the CPU per review did not move
# (BENCHMARKS.md). Set here, it holds for the webhook and for every injected sidecar.
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build --chown=0:0 /src/dist/bundle ./
# Numeric non-root user (matches runAsUser in the manifests and the injected sidecar), so
# runAsNonRoot can be verified by the kubelet without a passwd lookup.
USER 65532:65532
EXPOSE 8443 4180
ENTRYPOINT ["node", "/app/main.mjs"]
CMD ["--help"]
