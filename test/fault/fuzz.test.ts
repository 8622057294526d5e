/**
 * Property-based fuzzing of the HTTP layer (fast-check): malformed, truncated, deeply nested,
 * oversized and shape-shifted AdmissionReviews sent to a real webhook over TLS. Every answer
 * must be a 4xx with a JSON error or a valid AdmissionReview for the request's uid, and the
 * server must stay up.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:https';
import fc from 'fast-check';
import type { Webhook } from '../../src/webhook/start.ts';
import { startTestWebhook } from '../support/webhook.ts';
import { MAX_BODY_BYTES } from '../../src/admission/review.ts';
import { makeCertDir, type CertDir } from '../support/tls.ts';
import { review } from '../support/review.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

interface Answer {
  status: number;
  json: unknown;
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

type Obj = Record<string, any>;

describe('fuzzing the admission HTTP layer', () => {
  let certs: CertDir;
  let webhook: Webhook;
  let agent: Agent;
  let sent = 0;
  let failures = 0;

  const send = (path: string, body: string | Buffer, contentType = 'application/json'): Promise<Answer> =>
    new Promise((resolve, reject) => {
      sent++;
      const req = request(
        {
          host: '127.0.0.1',
          port: webhook.server.address.port,
          servername: 'localhost',
          ca: certs.ca.cert,
          agent,
          method: 'POST',
          path,
          headers: { 'content-type': contentType },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            resolve({ status: res.statusCode ?? 0, json: parseOrUndefined(text) });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  /** The property every answer must have. */
  function check(answer: Answer, uid: unknown): void {
    try {
      if (answer.status >= 400 && answer.status < 500) {
        const error = (answer.json as Obj | undefined)?.error;
        assert.equal(typeof error?.code, 'string', `4xx without a JSON error: ${JSON.stringify(answer.json)}`);
        assert.equal(typeof error?.message, 'string');
        return;
      }
      assert.equal(answer.status, 200, `unexpected status ${answer.status}: ${JSON.stringify(answer.json)?.slice(0, 300)}`);
      const json = answer.json as Obj;
      assert.equal(json.apiVersion, 'admission.k8s.io/v1');
      assert.equal(json.kind, 'AdmissionReview');
      assert.equal(json.response.uid, uid);
      assert.equal(typeof json.response.allowed, 'boolean');
    } catch (err) {
      failures++;
      throw err;
    }
  }

  before(async () => {
    certs = await makeCertDir();
    webhook = await startTestWebhook(certs.dir);
    agent = new Agent({ keepAlive: true, maxSockets: 4 });
  });
  after(async () => {
    agent.destroy();
    await webhook.stop(1000);
    console.log(`fuzz: ${sent} requests sent, ${failures} failed the property`);
  });

  const paths = fc.constantFrom('/mutate/pods', '/validate');
  const kinds = fc.constantFrom('Pod', 'Deployment', 'CronJob', 'NetworkPolicy', 'OIDCGroupBinding', 'ConfigMap', '');
  /** A JSON value with a bias towards the shapes the rules read. */
  const jsonish = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.string(),
      fc.constant('true'),
      fc.constant(4180),
      tie('array'),
      tie('object'),
    ),
    array: fc.array(tie('value'), { maxLength: 4 }),
    object: fc.dictionary(
      fc.oneof(
        fc.string(),
        fc.constantFrom(
          'metadata',
          'spec',
          'labels',
          'annotations',
          'containers',
          'initContainers',
          'ports',
          'containerPort',
          'name',
          'ingress',
          'from',
          'podSelector',
          'namespaceSelector',
          'matchLabels',
          'matchExpressions',
          'ipBlock',
          'cidr',
          'template',
          'jobTemplate',
          'groups',
          'serviceAccounts',
          'issuer',
          'hostNetwork',
          'policyTypes',
          'serviceAccountName',
        ),
      ),
      tie('value'),
      { maxKeys: 6 },
    ),
  })).value;

  it('answers reviews whose object and oldObject are arbitrary JSON', async () => {
    await fc.assert(
      fc.asyncProperty(
        paths,
        kinds,
        fc.constantFrom('CREATE', 'UPDATE', 'DELETE', 'CONNECT'),
        jsonish,
        jsonish,
        async (path, kind, operation, object, oldObject) => {
          const body = review({ kind, operation: operation as 'CREATE', namespace: 'payments', object, oldObject }) as Obj;
          const answer = await send(path, JSON.stringify(body));
          check(answer, body.request.uid);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('answers Pods and policies with fields of the wrong type in every place', async () => {
    const base: Obj = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', labels: { app: 'x' }, annotations: { 'idgate.dev/upstream-port': '8080' } },
      spec: { serviceAccountName: 'api', containers: [{ name: 'app', image: 'i', ports: [{ containerPort: 8080 }] }] },
    };
    const paths2 = [
      ['metadata'],
      ['metadata', 'labels'],
      ['metadata', 'annotations'],
      ['spec'],
      ['spec', 'containers'],
      ['spec', 'containers', 0],
      ['spec', 'containers', 0, 'ports'],
      ['spec', 'serviceAccountName'],
      ['metadata', 'annotations', 'idgate.dev/upstream-port'],
    ];
    await fc.assert(
      fc.asyncProperty(paths, fc.constantFrom(...paths2), jsonish, fc.constantFrom('Pod', 'NetworkPolicy', 'Deployment'), async (path, at, value, kind) => {
        const object = structuredClone(base);
        object.kind = kind;
        if (kind === 'Deployment') object.spec = { template: { metadata: object.metadata, spec: object.spec } };
        let node: Obj = object;
        for (const key of at.slice(0, -1)) node = node[key as string] ??= {};
        node[at.at(-1) as string] = value;
        const body = review({ kind, namespace: 'payments', object }) as Obj;
        check(await send(path, JSON.stringify(body)), body.request.uid);
      }),
      { numRuns: RUNS },
    );
  });

  it('answers truncated and corrupted bodies with 4xx JSON errors', async () => {
    const valid = JSON.stringify(review({ namespace: 'payments', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } } }));
    await fc.assert(
      fc.asyncProperty(paths, fc.nat({ max: valid.length - 1 }), fc.string({ maxLength: 3 }), async (path, cut, junk) => {
        const body = valid.slice(0, cut) + junk;
        const answer = await send(path, body);
        // The junk can close what the cut opened (cut the last `}`, junk `}`) and make a whole
        // review again: only a body that does not parse must get a 4xx; one that does is held to
        // the general property, against its own uid.
        const parsed = parseOrUndefined(body);
        if (parsed === undefined) assert.ok(answer.status >= 400 && answer.status < 500, `status ${answer.status} for ${JSON.stringify(body.slice(-40))}`);
        check(answer, (parsed as Obj | undefined)?.request?.uid);
      }),
      // The case CI drew once: the cut takes the last `}` and the junk puts it back.
      {
        numRuns: RUNS,
        examples: [
          ['/validate', valid.length - 1, '}'],
          ['/mutate/pods', valid.length - 2, '}}'],
        ],
      },
    );
  });

  it('answers deeply nested and oversized bodies without falling over', async () => {
    for (const depth of [1_000, 100_000]) {
      const nested = `${'['.repeat(depth)}${']'.repeat(depth)}`;
      const body = JSON.stringify(
        review({ namespace: 'payments', object: { kind: 'Pod', metadata: { name: 'deep' }, spec: { containers: '__N__' } } }),
      ).replace('"__N__"', nested);
      const uid = JSON.parse(body.replace(nested, '[]')).request.uid;
      for (const path of ['/mutate/pods', '/validate']) check(await send(path, body), uid);
    }
    const big = Buffer.alloc(MAX_BODY_BYTES + 1024, 0x20);
    for (const path of ['/mutate/pods', '/validate']) {
      const answer = await send(path, big);
      assert.equal(answer.status, 413);
      check(answer, undefined);
    }
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16']) {
      const answer = await send('/validate', JSON.stringify(review()), type);
      assert.ok(answer.status === 415 || answer.status === 400, `${type}: ${answer.status}`);
      check(answer, undefined);
    }
  });

  it('is still up and ready after the fuzzing', async () => {
    const answer = await new Promise<number>((resolve, reject) => {
      request({ host: '127.0.0.1', port: webhook.server.address.port, servername: 'localhost', ca: certs.ca.cert, path: '/readyz' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    assert.equal(answer, 200);
  });
});
