/**
 * Every AdmissionReview a real kube-apiserver v1.32 and its controllers sent
 * (../shared/k8s-recorded/reviews) through the webhook's real routes and handlers, each held to
 * the answer docs/design.md#scope-and-lifecycle gives it. The validating reviews go to `/validate` (the namespace
 * enrolled) and to `/validate/integrity` (the same namespace plain), and once more with the
 * ServiceAccount's binding revoked: the cluster's own controllers (scale to zero, finalizer and
 * owner-reference removal, delete-collection) must pass even when the template they carry has
 * fallen out of policy. Pods are validated as the API server validates them: after the
 * mutating webhook's patch.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import jsonpatch from 'fast-json-patch';
import { createApp } from '../../src/webhook/app.ts';
import { createMetrics } from '../../src/webhook/metrics.ts';
import { createReadiness } from '../../src/webhook/health.ts';
import { createMutateHandler } from '../../src/mutate/handler.ts';
import { createValidateHandler } from '../../src/baseline/handler.ts';
import { BindingIndex } from '../../src/identity/index.ts';
import { testBaseline, TEST_ISSUER } from '../support/baseline.ts';
import { silentLogger } from '../support/logger.ts';
import { recordedReviews, type RecordedReview } from '../support/recorded.ts';

const SELF = 'system:serviceaccount:idgate-system:idgate';

function app(bound: boolean) {
  const index = new BindingIndex();
  index.setNamespace('payments', { 'kubernetes.io/metadata.name': 'payments', 'idgate.dev/inject': 'enabled' });
  if (bound) index.upsert({ namespace: 'payments', name: 'writers', issuer: TEST_ISSUER, groups: ['payments-writers'], serviceAccounts: ['api'] });
  index.markSynced();
  const baseline = testBaseline();
  const deps = { baseline: () => baseline, identity: index, logger: silentLogger, selfUsername: () => SELF };
  return createApp({
    logger: silentLogger,
    metrics: createMetrics(undefined, { processMetrics: false }),
    readiness: createReadiness(),
    mutate: createMutateHandler({ ...deps, version: '0.1.0' }),
    validate: createValidateHandler(deps),
    validateIntegrity: createValidateHandler({ ...deps, scope: 'integrity' }),
  });
}

interface Answer {
  allowed: boolean;
  patched: boolean;
  message: string;
}

async function post(listener: ReturnType<typeof app>, path: string, review: unknown): Promise<Answer> {
  const res = await request(listener)
    .post(path)
    .send(review as object)
    .expect(200);
  const r = res.body.response;
  return { allowed: r.allowed, patched: typeof r.patch === 'string', message: r.status?.message ?? '' };
}

/** The request as validation sees it: in an enrolled namespace a Pod CREATE carries the mutating webhook's patch. */
async function asValidated(listener: ReturnType<typeof app>, rec: RecordedReview, enrolled: boolean): Promise<unknown> {
  const req = rec.review.request;
  if (!enrolled || rec.resource !== 'pods' || rec.operation !== 'CREATE') return rec.review;
  const res = await request(listener).post('/mutate/pods').send(rec.review).expect(200);
  const patch = res.body.response.patch ? JSON.parse(Buffer.from(res.body.response.patch, 'base64').toString()) : [];
  const object = jsonpatch.applyPatch(structuredClone(req.object), patch, true, false).newDocument;
  return { ...rec.review, request: { ...req, object } };
}

/**
 * The answer each validating review must get, by file: `null` admits, a RegExp denies with a
 * message matching it. Files not listed are admitted everywhere.
 */
const DENIED: ReadonlyArray<[RegExp, { enrolled?: RegExp; plain?: RegExp; revoked?: RegExp }]> = [
  // kubectl label --subresource=status adding group.idgate.dev/admins: spoofing, on every path.
  [
    /pods-status-update-api-by-admin/,
    {
      enrolled: /\[pod-identity-labels\] metadata\.labels\[group\.idgate\.dev\/admins\]: identity label added on a running Pod through pods\/status/,
      plain: /\[pod-identity-labels\] metadata\.labels\[group\.idgate\.dev\/admins\]/,
      revoked: /\[pod-identity-labels\] metadata\.labels\[group\.idgate\.dev\/admins\]/,
    },
  ],
  // Pods of the shared "default" ServiceAccount in an enrolled namespace (and without a port).
  [
    /pods-create-list-[ab]-by-admin/,
    { enrolled: /\[pod-service-account\] spec\.serviceAccountName: uses the "default" ServiceAccount/, revoked: /\[pod-service-account\]/ },
  ],
  // With the binding revoked, new Pods and new templates of ServiceAccount api are refused...
  [/pods-create-(api-by-admin|web-)/, { revoked: /\[pod-service-account\] spec\.serviceAccountName: ServiceAccount "api" has no OIDCGroupBinding/ }],
  [/(deployments|replicasets)-create-/, { revoked: /\[workload-template\] spec\.template\.spec\.serviceAccountName: breaks pod-service-account/ }],
  // ...while scaling, finalizer and owner-reference removal and deletions still pass (not listed).
];

function expected(file: string, where: 'enrolled' | 'plain' | 'revoked'): RegExp | null {
  const matches = DENIED.filter(([re]) => re.test(file));
  assert.ok(matches.length <= 1, `${file} matches ${matches.length} rows`);
  return matches[0]?.[1][where] ?? null;
}

describe('the recorded kube-apiserver reviews through the webhook', () => {
  const reviews = recordedReviews();
  const bound = app(true);
  const revoked = app(false);

  it('covers every recording: 25 mutating and 25 validating reviews', () => {
    assert.equal(reviews.filter((r) => r.webhook === 'mutate').length, 25);
    assert.equal(reviews.filter((r) => r.webhook === 'validate').length, 25);
  });

  it('the mutating webhook patches exactly the Pod CREATEs (dry runs too) and lets everything else through untouched', async () => {
    let patched = 0;
    for (const rec of reviews.filter((r) => r.webhook === 'mutate')) {
      const answer = await post(bound, '/mutate/pods', rec.review);
      assert.equal(answer.allowed, true, `${rec.file}: ${answer.message}`);
      const shouldPatch = rec.resource === 'pods' && rec.operation === 'CREATE';
      assert.equal(answer.patched, shouldPatch, `${rec.file}: patched`);
      if (shouldPatch) patched++;
    }
    console.log(`# ${patched} Pod CREATEs patched, ${25 - patched} other mutating reviews admitted unchanged`);
    assert.equal(patched, 5);
  });

  for (const [where, path, listener] of [
    ['enrolled', '/validate', () => bound],
    ['plain', '/validate/integrity', () => bound],
    ['revoked', '/validate', () => revoked],
  ] as const) {
    it(`every validating review gets its scope-and-lifecycle answer (docs/design.md) (${where}, ${path})`, async () => {
      const tally = { admitted: 0, denied: 0 };
      for (const rec of reviews.filter((r) => r.webhook === 'validate')) {
        const answer = await post(listener(), path, await asValidated(listener(), rec, where !== 'plain'));
        const want = expected(rec.file, where);
        if (want === null) {
          assert.equal(answer.allowed, true, `${rec.file} must be admitted (${where}): ${answer.message}`);
          tally.admitted++;
        } else {
          assert.equal(answer.allowed, false, `${rec.file} must be denied (${where})`);
          assert.match(answer.message, want, rec.file);
          tally.denied++;
        }
      }
      console.log(`# ${where}: ${tally.admitted} admitted, ${tally.denied} denied`);
    });
  }
});
