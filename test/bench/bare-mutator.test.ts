/**
 * The goals' yardstick (bench/bare-mutator.ts) does idgate's mutation: for the benchmark's Pods
 * its patch, applied to the request's object, gives what idgate's recorded answer
 * (test/golden/answers) gives, with the bindings those answers were recorded with.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { parse } from 'yaml';
import { type BareBinding, answerDifference, bareAnswer, bindingsOfYaml, identities, mutationPatch } from '../../bench/bare-mutator.ts';
import { reviewServer } from '../../bench/bare-server.ts';
import { SCENARIOS, type ScenarioName, bindingsYaml } from '../../bench/fixtures.ts';
import { BINDINGS_FILE, FIXTURES_DIR } from '../mutate/fixtures.ts';
import { httpsCall, makeCertDir } from '../support/tls.ts';

const known = identities(parse(readFileSync(FIXTURES_DIR + BINDINGS_FILE, 'utf8')) as BareBinding[]);
const golden = (route: string, name: ScenarioName) =>
  JSON.parse(readFileSync(new URL(`../golden/answers/${route}--bench--${name}.json`, import.meta.url), 'utf8'));
const answerOf = (name: ScenarioName) => ({ response: bareAnswer(JSON.parse(SCENARIOS[name].body), SCENARIOS[name].path, known) });

describe('the bare mutator', () => {
  for (const name of ['small', 'typical', 'large'] as const) {
    it(`patches the ${name} bench Pod as idgate does`, () => {
      assert.equal(answerDifference(SCENARIOS[name].body, answerOf(name), golden('mutate', name)), undefined);
    });
  }

  it('answers the validating bench reviews as idgate does: allowed, without a patch', () => {
    assert.equal(answerDifference(SCENARIOS.networkpolicy.body, answerOf('networkpolicy'), golden('validate', 'networkpolicy')), undefined);
    assert.equal(answerDifference(SCENARIOS.integrity.body, answerOf('integrity'), golden('integrity', 'integrity')), undefined);
  });

  it('is found out when its patch misses a label or sets another value', () => {
    const review = JSON.parse(SCENARIOS.typical.body);
    const ops = mutationPatch(review.request.object, 'payments', known);
    const encode = (o: unknown[]) => ({
      response: { uid: review.request.uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(o)).toString('base64') },
    });
    const missing = ops.filter((o) => o.path !== '/metadata/labels/group.idgate.dev~1ledger-readers');
    assert.equal(
      answerDifference(SCENARIOS.typical.body, encode(missing), golden('mutate', 'typical')),
      'the patched objects differ at /metadata/labels/group.idgate.dev~1ledger-readers',
    );
    const other = ops.map((o) => (o.path === '/metadata/annotations/idgate.dev~1injected' ? { ...o, value: '0.0.9' } : o));
    assert.match(answerDifference(SCENARIOS.typical.body, encode(other), golden('mutate', 'typical')) ?? '', /idgate.dev~1injected/);
    assert.match(answerDifference(SCENARIOS.typical.body, answerOf('small'), golden('mutate', 'typical')) ?? '', /^uid/);
  });

  it('reads the bench bindings file, counting only the trusted issuer', () => {
    const bindings = bindingsOfYaml(bindingsYaml(3));
    assert.deepEqual(identities(bindings).get('payments/api'), { groups: ['ledger-readers', 'payments-writers'], bindings: ['payments/binding-0'] });
    assert.deepEqual(identities(bindings).get('team-2/sa-2'), { groups: ['group-2-a', 'group-2-b'], bindings: ['team-2/binding-2'] });
    const untrusted = bindings.map((b) => ({ ...b, issuer: 'https://evil.example.com' }));
    assert.equal(identities(untrusted).size, 0);
  });

  it('answers over loopback HTTPS', async () => {
    const certs = await makeCertDir();
    const server = reviewServer(certs.dir, (review, path) => bareAnswer(review, path, known));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const { status, body } = await httpsCall(port, { ca: certs.ca.cert, method: 'POST', path: SCENARIOS.small.path, body: SCENARIOS.small.body });
      assert.equal(status, 200);
      assert.equal(answerDifference(SCENARIOS.small.body, JSON.parse(body), golden('mutate', 'small')), undefined);
    } finally {
      server.close();
    }
  });
});
