# idgate — the two commands a fresh machine needs: `make run` and `make test`.
# Every target runs on the project's pinned Node 24 (the devDependency `node`), whatever the
# system Node is: npm scripts put node_modules/.bin first on PATH.

NPX      := npx --no-install
LISTEN   ?= 127.0.0.1:8443
OVERLAY  ?= enforce

.PHONY: install build run test bench deploy clean

# npm ci from the committed lock file; re-run only when the lock file changes.
node_modules/.package-lock.json: package-lock.json package.json
	npm ci --no-audit --no-fund

install: node_modules/.package-lock.json

build: install
	npm run --silent build

# Development certificates for localhost, generated once (git-ignored).
certs/tls.crt: | install
	$(NPX) node src/cli/main.ts certs generate --out certs --hosts localhost,127.0.0.1

run: build certs/tls.crt
	@echo ''
	@echo 'idgate webhook on https://$(LISTEN) (examples/baseline.yaml, examples/bindings.yaml, no cluster).'
	@echo 'In a cluster, a namespace labelled idgate.dev/inject=enabled is enrolled: its Pods get the sidecar and identity labels, and every baseline rule applies.'
	@echo 'Every other namespace outside kube-system, idgate-system and the like gets identity integrity only: no one but idgate may set its identity labels there (examples/manifests/namespaces.yaml).'
	@echo 'In another terminal, admit the example Pod:'
	@echo ''
	@echo '  curl -sS --cacert certs/ca.crt -H "Content-Type: application/json" \'
	@echo '    --data @examples/reviews/pod-create.json https://$(LISTEN)/mutate/pods \'
	@echo '    | $(NPX) node scripts/show-review.ts'
	@echo ''
	$(NPX) node dist/bundle/main.mjs webhook --config examples/baseline.yaml \
	  --bindings-file examples/bindings.yaml --tls-dir certs --listen $(LISTEN)

test: install
	npm test

bench: install
	npm run bench

deploy:
	kubectl apply -k manifests/overlays/$(OVERLAY)

clean:
	rm -rf dist node_modules certs/*.crt certs/*.key
