import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeIdentity, desiredAnnotations, desiredLabels } from '../../src/mutate/identity.ts';
import { testBaseline } from '../support/baseline.ts';

test('computeIdentity: labels per group, JSON group list, comma list of bindings, version', () => {
  const id = computeIdentity('api', { groups: ['/org/a,b', 'writers'], bindings: ['payments/x', 'payments/y'] }, '0.1.0');
  assert.equal(id.labels['idgate.dev/service-account'], 'api');
  assert.equal(id.labels['group.idgate.dev/writers'], 'true');
  assert.equal(Object.keys(id.labels).length, 3, 'one label for the SA, one per group');
  assert.deepEqual(JSON.parse(id.annotations['idgate.dev/groups']!), ['/org/a,b', 'writers'], 'a comma inside a group survives');
  assert.equal(id.annotations['idgate.dev/bindings'], 'payments/x,payments/y');
  assert.equal(id.annotations['idgate.dev/injected'], '0.1.0');
});

test('computeIdentity: no sidecar, no injected annotation; unknown groups, no groups/bindings annotations', () => {
  assert.deepEqual(computeIdentity('api', { groups: [], bindings: [] }, undefined).annotations, { 'idgate.dev/groups': '[]', 'idgate.dev/bindings': '' });
  assert.deepEqual(computeIdentity('api', undefined, undefined), { labels: { 'idgate.dev/service-account': 'api' }, annotations: {} });
});

test('desired maps drop every identity key and keep user keys, including user instructions', () => {
  const id = computeIdentity('api', { groups: ['w'], bindings: ['p/b'] }, undefined);
  assert.deepEqual(desiredLabels({ app: 'x', 'idgate.dev/service-account': 'root', 'group.idgate.dev/admins': 'true', 'idgate.dev/other': 'y' }, id), {
    app: 'x',
    'idgate.dev/service-account': 'api',
    'group.idgate.dev/w': 'true',
  });
  assert.deepEqual(desiredAnnotations({ 'idgate.dev/upstream-port': '80', 'idgate.dev/injected': '9', 'group.idgate.dev/z': 'true' }, id), {
    'idgate.dev/upstream-port': '80',
    'idgate.dev/groups': '["w"]',
    'idgate.dev/bindings': 'p/b',
  });
});

test('testBaseline: the documented example values, frozen, issuer set mirrors the list', () => {
  const b = testBaseline();
  assert.equal(b.sidecar.image, 'registry.example.com/idgate:0.1.0');
  assert.deepEqual(b.sidecar.issuers, b.trustedIssuers);
  assert.ok(b.trustedIssuerSet.has('https://keycloak.example.com/realms/prod'));
  assert.ok(Object.isFrozen(b) && Object.isFrozen(b.sidecar.resources.limits));
  const o = testBaseline({ trustedIssuers: ['https://a.example'], sidecar: { mode: 'container' } });
  assert.deepEqual([...o.trustedIssuerSet], ['https://a.example']);
  assert.equal(o.sidecar.mode, 'container');
  assert.equal(o.sidecar.port, 4180, 'other sidecar fields keep their defaults');
});
