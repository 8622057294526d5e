import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BaselineError, loadBaseline, parseBaseline } from '../../src/baseline/config.ts';
import { sidecarArgs } from '../../src/mutate/sidecar.ts';
import { BASELINE_SCHEMA } from '../../src/config/baseline.ts';

const fixture = (name: string): string => new URL(`../fixtures/baselines/${name}`, import.meta.url).pathname;

test('a minimal baseline gets every documented default', () => {
  const b = loadBaseline(fixture('minimal.yaml'));
  assert.equal(b.mode, 'enforce');
  assert.equal(b.mutation, 'apply');
  assert.deepEqual(b.exemptNamespaces, ['kube-system', 'kube-public', 'kube-node-lease', 'idgate-system']);
  assert.deepEqual(b.namespaces, {});
  assert.deepEqual(b.rules, {});
  assert.deepEqual(b.identity, { maxGroupsPerServiceAccount: 8, onUnavailable: 'deny' });
  assert.deepEqual(
    { ...b.sidecar },
    {
      image: 'registry.example.com/idgate:0.1.0',
      acceptedImages: [],
      mode: 'native',
      port: 4180,
      audience: 'idgate',
      issuers: ['https://keycloak.example.com/realms/prod'],
      tokenExpirationSeconds: 3600,
      resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } },
      allowOptOut: true,
    },
  );
  assert.ok(b.trustedIssuerSet.has('https://keycloak.example.com/realms/prod'));
});

/** Dotted paths of every property BASELINE_SCHEMA gives a `default`, following nested `properties`. */
function defaultedPaths(schema: unknown, prefix = ''): string[] {
  const properties = (schema as { properties?: Record<string, unknown> }).properties ?? {};
  return Object.entries(properties).flatMap(([key, sub]) => {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const own = typeof sub === 'object' && sub !== null && 'default' in sub ? [path] : [];
    return [...own, ...defaultedPaths(sub, path)];
  });
}

test('every property the schema defaults is present once loaded, as the Baseline type derived from it says', () => {
  // src/config/baseline.ts types a defaulted property as required (json-schema-to-ts), which holds
  // because ajv's useDefaults fills each one in.
  const b = loadBaseline(fixture('minimal.yaml'));
  const paths = defaultedPaths(BASELINE_SCHEMA);
  assert.ok(paths.includes('sidecar.resources.limits'), paths.join(', '));
  for (const path of paths) {
    const value = path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], b);
    assert.notEqual(value, undefined, `${path} has a default but is missing once loaded`);
  }
});

test('the loaded baseline is deeply frozen', () => {
  const b = loadBaseline(fixture('minimal.yaml'));
  assert.ok(Object.isFrozen(b));
  assert.ok(Object.isFrozen(b.sidecar.resources.requests));
  assert.throws(() => {
    (b.exemptNamespaces as string[]).push('x');
  }, TypeError);
});

test('explicit values win over defaults; sidecar.issuers is kept when given', () => {
  const b = parseBaseline(
    [
      'apiVersion: idgate.dev/v1alpha1',
      'kind: IdentityBaseline',
      'mode: audit',
      'mutation: dry-run',
      'trustedIssuers: [https://a.example.com, http://127.0.0.1:9000/realm]',
      'exemptNamespaces: []',
      'identity: { onUnavailable: allow }',
      'sidecar: { image: i, mode: container, port: 8080, issuers: [https://a.example.com], resources: { limits: { cpu: "1" } } }',
      'rules: { pod-sidecar: off }',
    ].join('\n'),
    'inline.yaml',
  );
  assert.equal(b.mode, 'audit');
  assert.equal(b.mutation, 'dry-run');
  assert.deepEqual(b.exemptNamespaces, []);
  assert.deepEqual(b.identity, { maxGroupsPerServiceAccount: 8, onUnavailable: 'allow' });
  assert.equal(b.sidecar.mode, 'container');
  assert.equal(b.sidecar.port, 8080);
  assert.deepEqual(b.sidecar.issuers, ['https://a.example.com']);
  // A limits map given replaces the default map (requests keep theirs).
  assert.deepEqual(b.sidecar.resources, { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '1' } });
  assert.deepEqual(b.rules, { 'pod-sidecar': 'off' });
});

test('the shipped example loads with its documented values', () => {
  const b = loadBaseline(new URL('../../examples/baseline.yaml', import.meta.url).pathname);
  assert.deepEqual(b.namespaces, { payments: { allowedGroups: ['payments-*', 'ledger-readers'] }, sandbox: { mode: 'audit' } });
  assert.deepEqual(b.rules, { 'networkpolicy-identity-peers': 'audit' });
});

test('every problem is reported at once, each with file, line and dotted path', () => {
  const file = fixture('invalid.yaml');
  const err = captured(() => loadBaseline(file));
  assert.equal(err.code, 'ERR_BASELINE_INVALID');
  const lines = err.message.split('\n').map((l) => l.slice(file.length + 1));
  assert.deepEqual(lines, [
    '3: mode: must be one of: enforce, audit, off',
    '5: trustedIssuers[0]: must be an https:// issuer URL (http:// only for localhost) without query or fragment',
    '6: exemptNamespaces[1]: must be a Namespace name (lowercase letters, digits and -, at most 63 characters)',
    '8: namespaces.payments.mood: unknown field; expected one of: mode, allowedGroups',
    '10: identity.maxGroupsPerServiceAccount: must be 1-1000',
    '11: sidecar.image: is required',
    '12: sidecar.port: must be 1-65535',
    '13: sidecar.tokenExpirationSeconds: must be 600-4294967295',
    '15: rules.pod-sidecars: unknown rule id; known rules: ' +
      [
        'pod-identity-labels',
        'pod-service-account',
        'pod-host-network',
        'pod-sidecar',
        'pod-max-groups',
        'workload-template',
        'networkpolicy-policy-types',
        'networkpolicy-allow-all',
        'networkpolicy-identity-peers',
        'networkpolicy-ipblock-world',
        'networkpolicy-unknown-group',
        'networkpolicy-default-deny',
        'networkpolicy-sidecar-port',
        'binding-trusted-issuer',
        'binding-group-ownership',
      ].join(', '),
    '16: rules.pod-host-network: must be one of: enforce, audit, off',
  ]);
  assert.deepEqual(
    err.problems.find((p) => p.path === 'sidecar.port'),
    { path: 'sidecar.port', line: 12, message: 'must be 1-65535' },
  );
});

test('missing top-level fields, wrong types and duplicates are named', () => {
  const err = captured(() => parseBaseline('apiVersion: v1\nkind: IdentityBaseline\nexemptNamespaces: [a, a]\nidentity: 3\n', 'b.yaml'));
  assert.deepEqual(err.message.split('\n'), [
    'b.yaml:1: trustedIssuers: is required',
    'b.yaml:1: sidecar: is required',
    'b.yaml:1: apiVersion: must be idgate.dev/v1alpha1',
    'b.yaml:3: exemptNamespaces[1]: repeats item 0; list each once',
    'b.yaml:4: identity: must be a mapping',
  ]);
});

test('YAML syntax errors carry the line; an empty or non-mapping file is refused', () => {
  const dup = captured(() => loadBaseline(fixture('bad-yaml.yaml')));
  assert.equal(dup.code, 'ERR_BASELINE_YAML');
  assert.equal(dup.problems[0]?.line, 4);
  assert.match(dup.message, /bad-yaml\.yaml:4: Map keys must be unique/);
  for (const text of ['', '- a\n- b\n', 'just a string']) {
    const err = captured(() => parseBaseline(text, 'e.yaml'));
    assert.equal(err.code, 'ERR_BASELINE_INVALID');
    assert.match(err.message, /^e\.yaml:1: expected an IdentityBaseline mapping/);
  }
});

test('an unreadable file is a read error naming the file', () => {
  const err = captured(() => loadBaseline('/nonexistent/baseline.yaml'));
  assert.equal(err.code, 'ERR_BASELINE_READ');
  assert.match(err.message, /^\/nonexistent\/baseline\.yaml: cannot read: ENOENT/);
});

test('the fixtures on disk are what the line numbers above assume', () => {
  assert.match(readFileSync(fixture('invalid.yaml'), 'utf8').split('\n')[11] ?? '', /port: 70000/);
});

function captured(fn: () => unknown): BaselineError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof BaselineError, `expected a BaselineError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a BaselineError');
}

test('sidecar.kubernetesIssuer must be https and reaches the injected proxy as --kubernetes-issuer', () => {
  const base = 'apiVersion: idgate.dev/v1alpha1\nkind: IdentityBaseline\ntrustedIssuers: [https://keycloak.example.com/realms/prod]\n';
  const ok = parseBaseline(`${base}sidecar: { image: i, kubernetesIssuer: "https://kubernetes.default.svc.cluster.local" }\n`, 'kube.yaml');
  assert.equal(ok.sidecar.kubernetesIssuer, 'https://kubernetes.default.svc.cluster.local');
  const args = sidecarArgs({ config: ok.sidecar, upstreamPort: 8080, proxyPort: 4180, allowedGroups: [] });
  assert.ok(args.includes('--kubernetes-issuer=https://kubernetes.default.svc.cluster.local'), args.join(' '));
  assert.ok(
    !sidecarArgs({ config: parseBaseline(`${base}sidecar: { image: i }\n`, 'b.yaml').sidecar, upstreamPort: 8080, proxyPort: 4180, allowedGroups: [] }).some(
      (a) => a.startsWith('--kubernetes-issuer'),
    ),
    'absent unless configured',
  );
  assert.throws(
    () => parseBaseline(`${base}sidecar: { image: i, kubernetesIssuer: "http://kubernetes.default.svc" }\n`, 'bad.yaml'),
    /bad\.yaml:4: sidecar\.kubernetesIssuer/,
  );
});

test('pod-identity-labels cannot be softened: audit or off is refused at its line, enforce is accepted', () => {
  const base = 'apiVersion: idgate.dev/v1alpha1\nkind: IdentityBaseline\ntrustedIssuers: [https://issuer.example]\nsidecar: { image: r/idgate:1 }\nrules:\n';
  for (const mode of ['audit', 'off']) {
    const err = captured(() => parseBaseline(`${base}  pod-sidecar: audit\n  pod-identity-labels: ${mode}\n`, 'b.yaml'));
    assert.deepEqual(err.message.split('\n'), [
      'b.yaml:7: rules.pod-identity-labels: must be enforce: pod-identity-labels is always enforced, since identity labels ' +
        'spoofed in one namespace would fool the NetworkPolicies of every other; remove this line',
    ]);
  }
  assert.equal(parseBaseline(`${base}  pod-identity-labels: enforce\n`, 'b.yaml').rules['pod-identity-labels'], 'enforce');
});

test('sidecar.acceptedImages: a list of patterns, each checked where it stands', () => {
  const text = (list: string) =>
    [
      'apiVersion: idgate.dev/v1alpha1',
      'kind: IdentityBaseline',
      'trustedIssuers: [https://a.example.com]',
      'sidecar:',
      '  image: registry.example.com/idgate:1',
      `  acceptedImages: ${list}`,
    ].join('\n');
  const b = parseBaseline(text('["mirror.example.com/idgate:1", "registry-*.example.com/idgate:1"]'), 'inline.yaml');
  assert.deepEqual(b.sidecar.acceptedImages, ['mirror.example.com/idgate:1', 'registry-*.example.com/idgate:1']);
  const err = captured(() => parseBaseline(text('["a b", ""]'), 'inline.yaml'));
  assert.match(err.message, /^inline\.yaml:6: sidecar\.acceptedImages\[0\]: must not contain spaces$/m);
  assert.match(err.message, /^inline\.yaml:6: sidecar\.acceptedImages\[1\]: must not be empty$/m);
});
