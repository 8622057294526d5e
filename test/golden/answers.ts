/**
 * The reviews of the byte-for-byte answer test (answers-bytes.test.ts) and of its generator
 * (answers-generate.ts), and how each is sent: through the webhook's real request listener
 * (createApp with the real mutate and validate handlers) on a loopback node:http server, the
 * answer read as raw bytes.
 *
 * The cases: every Pod fixture (test/fixtures/pods) to `/mutate/pods`; every mutated golden Pod
 * (test/golden/pods) to `/validate` in its enrolled namespace and to `/validate/integrity` from
 * a plain namespace; the example review (examples/reviews); the benchmark's requests
 * (bench/fixtures.ts: three Pod sizes, a NetworkPolicy, an integrity-only review); and every
 * AdmissionReview recorded from a real kube-apiserver (../shared/k8s-recorded/reviews).
 */
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import { type IncomingMessage, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { SCENARIOS } from '../../bench/fixtures.ts';
import { createValidateHandler } from '../../src/baseline/handler.ts';
import { createMutateHandler } from '../../src/mutate/handler.ts';
import { createApp } from '../../src/webhook/app.ts';
import { createReadiness } from '../../src/webhook/health.ts';
import { createMetrics } from '../../src/webhook/metrics.ts';
import { BASELINE_FOR, BINDINGS_FILE, FIXTURES_DIR, GOLDEN_DIR, fixtureBindings } from '../mutate/fixtures.ts';
import { testBaseline } from '../support/baseline.ts';
import { captureLogger } from '../support/logger.ts';
import { recordedReviews } from '../support/recorded.ts';

export const ANSWERS_DIR = fileURLToPath(new URL('./answers/', import.meta.url));
/**
 * One line per case, in case order: its name, HTTP status, content type and the log lines it
 * wrote (the decision line among them), without their volatile fields.
 */
export const INDEX_FILE = 'index.jsonl';

const SELF = 'system:serviceaccount:idgate-system:idgate';
const PLAIN_NAMESPACE = 'shop';

export interface AnswerCase {
  /** File name under answers/ (without `.json`): `<route>--<source>--<name>`. */
  readonly name: string;
  readonly path: '/mutate/pods' | '/validate' | '/validate/integrity';
  /** The exact request body. */
  readonly body: string;
  /** A key of BASELINE_FOR, for fixtures that need another baseline. */
  readonly baseline?: string;
}

type Obj = Record<string, unknown>;
interface ReviewDoc {
  kind?: string;
  metadata?: { namespace?: string };
  request: { namespace?: string; object?: { metadata?: { namespace?: string } } };
}

function reviewOf(uid: string, object: Obj, namespace: string): Obj {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts', 'system:authenticated'] },
      object,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

/** A fixture or golden file as a review (a bare Pod is wrapped; a review keeps its own uid). */
function asReview(file: string, uid: string, namespace?: string): ReviewDoc {
  const doc = parse(readFileSync(file, 'utf8')) as ReviewDoc;
  const review = doc.kind === 'AdmissionReview' ? doc : (reviewOf(uid, doc as unknown as Obj, doc.metadata?.namespace ?? '') as unknown as ReviewDoc);
  if (namespace !== undefined) {
    review.request.namespace = namespace;
    if (review.request.object?.metadata?.namespace) review.request.object.metadata.namespace = namespace;
  }
  return review;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && f !== BINDINGS_FILE)
    .sort();
}

/** Every case, in a fixed order. */
export function answerCases(): AnswerCase[] {
  const cases: AnswerCase[] = [];
  const uid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  let n = 0;
  for (const file of yamlFiles(FIXTURES_DIR)) {
    const name = file.replace(/\.yaml$/, '');
    cases.push({
      name: `mutate--fixture--${name}`,
      path: '/mutate/pods',
      body: JSON.stringify(asReview(FIXTURES_DIR + file, uid(++n))),
      ...(BASELINE_FOR[name] ? { baseline: name } : {}),
    });
  }
  for (const file of yamlFiles(GOLDEN_DIR)) {
    const name = file.replace(/\.yaml$/, '');
    const baseline = BASELINE_FOR[name] ? { baseline: name } : {};
    cases.push({ name: `validate--golden--${name}`, path: '/validate', body: JSON.stringify(asReview(GOLDEN_DIR + file, uid(++n))), ...baseline });
    cases.push({
      name: `integrity--golden--${name}`,
      path: '/validate/integrity',
      body: JSON.stringify(asReview(GOLDEN_DIR + file, uid(++n), PLAIN_NAMESPACE)),
      ...baseline,
    });
  }
  const example = readFileSync(fileURLToPath(new URL('../../examples/reviews/pod-create.json', import.meta.url)), 'utf8');
  cases.push({ name: 'mutate--example--pod-create', path: '/mutate/pods', body: example });
  cases.push({ name: 'validate--example--pod-create', path: '/validate', body: example });
  cases.push({ name: 'integrity--example--pod-create', path: '/validate/integrity', body: example });
  for (const [name, s] of Object.entries(SCENARIOS)) {
    const route = s.path === '/mutate/pods' ? 'mutate' : s.path === '/validate' ? 'validate' : 'integrity';
    cases.push({ name: `${route}--bench--${name}`, path: s.path, body: s.body });
  }
  for (const rec of recordedReviews()) {
    const name = rec.file.replace(/\.json$/, '');
    const body = JSON.stringify(rec.review);
    if (rec.webhook === 'mutate') cases.push({ name: `mutate--recorded--${name}`, path: '/mutate/pods', body });
    else {
      cases.push({ name: `validate--recorded--${name}`, path: '/validate', body });
      cases.push({ name: `integrity--recorded--${name}`, path: '/validate/integrity', body });
    }
  }
  return cases;
}

/** Fields of a decision log line that change from run to run. */
const VOLATILE = new Set(['time', 'pid', 'hostname', 'durationMs']);

export interface Answerer {
  /** The answer to one case: HTTP status, content type and the exact body bytes. */
  answer(c: AnswerCase): Promise<{ status: number; contentType: string; body: Buffer }>;
  /** The log lines written since the last call, volatile fields removed, one JSON text each. */
  takeLogLines(): string[];
  close(): Promise<void>;
}

/** Starts one loopback server per baseline the cases need, each with the real handlers. */
export async function startAnswerer(): Promise<Answerer> {
  const { logger, lines } = captureLogger();
  const servers = new Map<string, { port: number; close: () => Promise<void> }>();
  async function serverFor(baselineKey: string | undefined) {
    const key = baselineKey ?? '';
    const existing = servers.get(key);
    if (existing) return existing;
    const identity = fixtureBindings();
    identity.setNamespace('payments', { 'kubernetes.io/metadata.name': 'payments', 'idgate.dev/inject': 'enabled' });
    identity.setNamespace(PLAIN_NAMESPACE, { 'kubernetes.io/metadata.name': PLAIN_NAMESPACE });
    const baseline = testBaseline(baselineKey ? BASELINE_FOR[baselineKey] : {});
    const deps = { baseline: () => baseline, identity, logger, selfUsername: () => SELF };
    const app = createApp({
      logger,
      metrics: createMetrics(undefined, { processMetrics: false }),
      readiness: createReadiness(),
      mutate: createMutateHandler({ ...deps, version: '0.1.0' }),
      validate: createValidateHandler(deps),
      validateIntegrity: createValidateHandler({ ...deps, scope: 'integrity' }),
    });
    const server = createServer(app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const entry = {
      port: (server.address() as AddressInfo).port,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
    servers.set(key, entry);
    return entry;
  }
  return {
    async answer(c) {
      const { port } = await serverFor(c.baseline);
      return new Promise((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port, path: c.path, method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' } },
          (res: IncomingMessage) => {
            const chunks: Buffer[] = [];
            res.on('data', (d: Buffer) => chunks.push(d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), body: Buffer.concat(chunks) }));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(c.body);
      });
    },
    takeLogLines() {
      const out = lines.splice(0).map((line) => JSON.stringify(Object.fromEntries(Object.entries(line).filter(([k]) => !VOLATILE.has(k)))));
      return out;
    },
    async close() {
      for (const s of servers.values()) await s.close();
    },
  };
}
