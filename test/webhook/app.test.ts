import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { createApp } from '../../src/webhook/app.ts';
import { createMetrics } from '../../src/webhook/metrics.ts';
import { createReadiness } from '../../src/webhook/health.ts';
import { allowed, denied, patched } from '../../src/admission/response.ts';
import { MAX_BODY_BYTES } from '../../src/admission/review.ts';
import type { AdmissionHandler } from '../../src/admission/types.ts';
import { review } from '../support/review.ts';
import { captureLogger } from '../support/logger.ts';

function setup(handlers: { mutate?: AdmissionHandler; validate?: AdmissionHandler; validateIntegrity?: AdmissionHandler } = {}) {
  const { logger, lines } = captureLogger();
  const metrics = createMetrics(undefined, { processMetrics: false });
  const readiness = createReadiness();
  const app = createApp({
    logger,
    metrics,
    readiness,
    mutate: handlers.mutate ?? (() => allowed()),
    validate: handlers.validate ?? (() => allowed()),
    validateIntegrity: handlers.validateIntegrity ?? (() => allowed()),
  });
  return { app, lines, metrics, readiness };
}

describe('admission routes', () => {
  for (const path of ['/mutate/pods', '/validate', '/validate/integrity']) {
    it(`${path} answers a valid review with the same apiVersion, kind and uid`, async () => {
      const { app, lines } = setup();
      const res = await request(app)
        .post(path)
        .send(review({ uid: 'abc-123', name: 'web' }))
        .expect(200);
      assert.deepEqual(res.body, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'abc-123', allowed: true } });
      const decision = lines.find((l) => l.msg === 'admission decision');
      assert.ok(decision, 'one decision line is logged');
      assert.equal(decision.uid, 'abc-123');
      assert.equal(decision.kind, 'Pod');
      assert.equal(decision.namespace, 'default');
      assert.equal(decision.name, 'web');
      assert.equal(decision.operation, 'CREATE');
      assert.equal(decision.allowed, true);
      assert.equal(decision.dryRun, false);
      assert.equal(typeof decision.durationMs, 'number');
      assert.match(String(decision.user), /replicaset-controller/);
    });
  }

  const cases: Array<{ name: string; send: (t: request.Test) => request.Test; status: number; code: string }> = [
    { name: 'not JSON', send: (t) => t.set('content-type', 'application/json').send('{"apiVersion":'), status: 400, code: 'ERR_NOT_JSON' },
    { name: 'a JSON array', send: (t) => t.send([1, 2]), status: 400, code: 'ERR_NOT_OBJECT' },
    { name: 'wrong apiVersion', send: (t) => t.send({ ...review(), apiVersion: 'admission.k8s.io/v1beta1' }), status: 400, code: 'ERR_WRONG_API_VERSION' },
    { name: 'wrong kind', send: (t) => t.send({ ...review(), kind: 'TokenReview' }), status: 400, code: 'ERR_WRONG_KIND' },
    { name: 'no request', send: (t) => t.send({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), status: 400, code: 'ERR_NO_REQUEST' },
    {
      name: 'missing uid',
      send: (t) => {
        const body = review() as { request: Record<string, unknown> };
        delete body.request.uid;
        return t.send(body);
      },
      status: 400,
      code: 'ERR_NO_UID',
    },
    {
      name: 'bad operation',
      send: (t) => {
        const body = review() as { request: Record<string, unknown> };
        body.request.operation = 'PATCH';
        return t.send(body);
      },
      status: 400,
      code: 'ERR_BAD_OPERATION',
    },
    {
      name: 'object that is not an object',
      send: (t) => t.send(review({ object: 'a pod' })),
      status: 400,
      code: 'ERR_BAD_OBJECT',
    },
    {
      name: 'an object of another kind than request.kind',
      send: (t) => t.send(review({ kind: 'Pod', object: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' } } })),
      status: 400,
      code: 'ERR_WRONG_OBJECT_KIND',
    },
    {
      name: 'a Pod whose containers are not a list',
      send: (t) => t.send(review({ kind: 'Pod', object: { apiVersion: 'v1', kind: 'Pod', spec: { containers: 'app' } } })),
      status: 400,
      code: 'ERR_BAD_OBJECT',
    },
    { name: 'wrong content type', send: (t) => t.set('content-type', 'text/plain').send(JSON.stringify(review())), status: 415, code: 'ERR_CONTENT_TYPE' },
    {
      name: '3 MiB + 1 byte',
      send: (t) => {
        const base = JSON.stringify(review({ object: { padding: '' } }));
        const pad = 'x'.repeat(MAX_BODY_BYTES + 1 - base.length);
        const body = base.replace('"padding":""', `"padding":"${pad}"`);
        assert.equal(Buffer.byteLength(body), MAX_BODY_BYTES + 1);
        return t.set('content-type', 'application/json').send(body);
      },
      status: 413,
      code: 'ERR_BODY_TOO_LARGE',
    },
  ];
  for (const path of ['/mutate/pods', '/validate', '/validate/integrity']) {
    for (const c of cases) {
      it(`${path} refuses ${c.name} with ${c.status} and a JSON error`, async () => {
        const { app } = setup();
        const res = await c
          .send(request(app).post(path))
          .expect(c.status)
          .expect('content-type', /application\/json/);
        assert.equal(res.body.error.code, c.code);
        assert.equal(typeof res.body.error.message, 'string');
        assert.ok(res.body.error.message.length > 0);
      });
    }
  }

  it('serves the admission routes with the query string the API server appends', async () => {
    const { app } = setup();
    const res = await request(app)
      .post('/validate?timeout=10s')
      .send(review({ uid: 'q1' }))
      .expect(200);
    assert.equal(res.body.response.uid, 'q1');
    await request(app).post('/constructor').send(review()).expect(404);
  });

  it('accepts a body of exactly 3 MiB', async () => {
    const { app } = setup();
    const base = JSON.stringify(review({ uid: 'big', object: { padding: '' } }));
    const body = base.replace('"padding":""', `"padding":"${'x'.repeat(MAX_BODY_BYTES - base.length)}"`);
    assert.equal(Buffer.byteLength(body), MAX_BODY_BYTES);
    const res = await request(app).post('/validate').set('content-type', 'application/json').send(body).expect(200);
    assert.equal(res.body.response.uid, 'big');
  });

  it('turns a throwing handler into an errored response that keeps the uid, and keeps serving', async () => {
    const { app, lines } = setup({
      validate: () => {
        throw new Error('boom');
      },
    });
    const res = await request(app)
      .post('/validate')
      .send(review({ uid: 'u-throw' }))
      .expect(500);
    assert.equal(res.body.kind, 'AdmissionReview');
    assert.equal(res.body.response.uid, 'u-throw');
    assert.equal(res.body.response.allowed, false);
    assert.equal(res.body.response.status.code, 500);
    assert.match(res.body.response.status.message, /boom/);
    assert.ok(lines.some((l) => l.msg === 'admission handler threw' && l.uid === 'u-throw'));
    await request(app).get('/healthz').expect(200);
  });

  it('encodes a patch as base64 JSONPatch, and passes warnings and auditAnnotations through', async () => {
    const ops = [{ op: 'add' as const, path: '/metadata/labels/a', value: 'b' }];
    const { app } = setup({
      mutate: () => ({ ...patched(ops), warnings: ['w1'], auditAnnotations: { violations: 'x' } }),
    });
    const res = await request(app)
      .post('/mutate/pods')
      .send(review({ uid: 'p1' }))
      .expect(200);
    assert.equal(res.body.response.patchType, 'JSONPatch');
    assert.deepEqual(JSON.parse(Buffer.from(res.body.response.patch, 'base64').toString()), ops);
    assert.deepEqual(res.body.response.warnings, ['w1']);
    assert.deepEqual(res.body.response.auditAnnotations, { violations: 'x' });
  });

  it('answers a denial with status 403 and the message', async () => {
    const { app } = setup({ validate: () => denied('[pod-host-network] spec.hostNetwork: not allowed') });
    const res = await request(app)
      .post('/validate')
      .send(review({ uid: 'd1' }))
      .expect(200);
    assert.equal(res.body.response.allowed, false);
    assert.equal(res.body.response.status.code, 403);
    assert.match(res.body.response.status.message, /pod-host-network/);
  });

  it('counts requests by webhook, operation and decision, and observes latency', async () => {
    const { app } = setup({ validate: () => denied('no') });
    await request(app)
      .post('/validate')
      .send(review({ operation: 'UPDATE' }))
      .expect(200);
    await request(app).post('/validate').send('x').set('content-type', 'application/json').expect(400);
    const res = await request(app)
      .get('/metrics')
      .expect(200)
      .expect('content-type', /text\/plain/);
    assert.match(res.text, /idgate_admission_requests_total\{webhook="validate",operation="UPDATE",decision="denied"\} 1/);
    assert.match(res.text, /idgate_admission_duration_seconds_bucket\{le="0.005",webhook="validate",operation="UPDATE",decision="denied"\}/);
    assert.match(res.text, /idgate_admission_duration_seconds_bucket\{le="2.5"/);
    assert.match(res.text, /idgate_admission_in_flight_requests/);
    assert.match(res.text, /idgate_certificate_expiry_timestamp_seconds/);
  });
});

describe('health and errors', () => {
  it('GET /healthz is always ok', async () => {
    const { app } = setup();
    const res = await request(app).get('/healthz').expect(200);
    assert.deepEqual(res.body, { status: 'ok' });
  });

  it('GET /readyz is 503 until every registered check passes, and again when shutting down', async () => {
    const { app, readiness } = setup();
    let synced = false;
    readiness.register('identity-cache', () => synced);
    const notReady = await request(app).get('/readyz').expect(503);
    assert.deepEqual(notReady.body.failing, ['identity-cache']);
    synced = true;
    await request(app).get('/readyz').expect(200);
    readiness.markShuttingDown();
    const stopping = await request(app).get('/readyz').expect(503);
    assert.deepEqual(stopping.body.failing, ['shutting-down']);
  });

  it('unknown routes are 404 and wrong methods 405, in JSON', async () => {
    const { app } = setup();
    const notFound = await request(app).get('/nope').expect(404);
    assert.equal(notFound.body.error.code, 'ERR_NOT_FOUND');
    const wrongMethod = await request(app).get('/validate').expect(405).expect('allow', 'POST');
    assert.equal(wrongMethod.body.error.code, 'ERR_METHOD');
    await request(app).post('/healthz').expect(405).expect('allow', 'GET');
  });
});
