/**
 * The whole webhook as the API server meets it: real TLS on loopback, the example baseline and
 * bindings, the real mutation and validation handlers, a baseline file edited under it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import request from 'supertest';
import jsonpatch from 'fast-json-patch';
import { parse, stringify } from 'yaml';
import type { Webhook } from '../../src/webhook/start.ts';
import { startTestWebhook } from '../support/webhook.ts';
import { makeCertDir, type CertDir } from '../support/tls.ts';
import { eventually } from '../support/eventually.ts';
import { review } from '../support/review.ts';

type Obj = Record<string, any>;

const podReview = JSON.parse(readFileSync('examples/reviews/pod-create.json', 'utf8'));
const exampleBaseline = parse(readFileSync('examples/baseline.yaml', 'utf8')) as Obj;

describe('idgate webhook with the example baseline and bindings', () => {
  let certs: CertDir;
  let webhook: Webhook;
  let baselineFile: string;
  let url: string;
  const post = (path: string, body: unknown) =>
    request(url)
      .post(path)
      .ca(certs.ca.cert)
      .send(body as object);

  /** Writes a baseline (the example with `changes`) and waits until the server judges by it. */
  async function useBaseline(changes: Obj): Promise<void> {
    const next = { ...exampleBaseline, ...changes };
    await writeFile(baselineFile, stringify(next));
    await eventually(
      () =>
        JSON.stringify(webhook.baseline.current().rules) === JSON.stringify(next.rules ?? {}) &&
        webhook.baseline.current().mode === next.mode &&
        JSON.stringify(webhook.baseline.current().namespaces) === JSON.stringify(next.namespaces ?? {}),
      5000,
      'the baseline to reload',
    );
  }

  /** The example Pod as it leaves the mutating webhook, then changed by `edit`. */
  async function admittedPod(edit: (pod: Obj) => void): Promise<Obj> {
    const res = await post('/mutate/pods', podReview).expect(200);
    const ops = JSON.parse(Buffer.from(res.body.response.patch, 'base64').toString());
    const pod = jsonpatch.applyPatch(structuredClone(podReview.request.object), ops, true, false).newDocument as Obj;
    edit(pod);
    return pod;
  }

  before(async () => {
    certs = await makeCertDir();
    baselineFile = join(certs.dir, 'baseline.yaml');
    await copyFile('examples/baseline.yaml', baselineFile);
    webhook = await startTestWebhook(certs.dir, {
      configFile: baselineFile,
    });
    url = `https://localhost:${webhook.server.address.port}`;
  });
  after(() => webhook.stop(1000));

  it('is ready once TLS is loaded and the bindings file is read', async () => {
    const res = await request(url).get('/readyz').ca(certs.ca.cert).expect(200);
    assert.equal(res.body.status, 'ok');
  });

  it('injects the sidecar and identity labels into examples/reviews/pod-create.json (what make run shows)', async () => {
    const res = await post('/mutate/pods', podReview).expect(200);
    assert.equal(res.body.response.uid, podReview.request.uid);
    assert.equal(res.body.response.patchType, 'JSONPatch');
    const pod = await admittedPod(() => {});
    assert.equal(pod.metadata.labels['idgate.dev/service-account'], 'api');
    for (const group of ['payments-writers', 'ledger-readers', 'payments-admins']) {
      assert.equal(pod.metadata.labels[`group.idgate.dev/${group}`], 'true', group);
    }
    const sidecar = pod.spec.initContainers[0];
    assert.equal(sidecar.name, 'idgate-proxy');
    assert.equal(sidecar.restartPolicy, 'Always');
    assert.ok(sidecar.args.includes('--upstream=http://127.0.0.1:8080'));
    assert.ok(sidecar.args.includes('--allowed-groups=payments-writers,payments-admins'));
    assert.ok(pod.spec.volumes.some((v: Obj) => v.name === 'idgate-token'));
    const injected = (await webhook.metrics.mutations.get()).values.find((v) => v.labels.result === 'injected');
    assert.ok((injected?.value ?? 0) >= 2, 'idgate_mutations_total{result="injected"} counts them');
  });

  it('validates the Pod the mutation produced without a violation', async () => {
    const pod = await admittedPod(() => {});
    const res = await post('/validate', review({ namespace: 'payments', object: pod })).expect(200);
    assert.equal(res.body.response.allowed, true, JSON.stringify(res.body.response));
    assert.equal(res.body.response.warnings, undefined);
  });

  it('enforce denies a violating Pod (403), audit warns, off says nothing; namespace and rule overrides flip it', async () => {
    const pod = await admittedPod((p) => {
      p.spec.hostNetwork = true;
    });
    const body = () => review({ namespace: 'payments', object: pod });

    await useBaseline({ mode: 'enforce' });
    const enforced = await post('/validate', body()).expect(200);
    assert.equal(enforced.body.response.allowed, false);
    assert.equal(enforced.body.response.status.code, 403);
    assert.match(enforced.body.response.status.message, /\[pod-host-network\] spec\.hostNetwork: /);

    await useBaseline({ mode: 'audit' });
    const audited = await post('/validate', body()).expect(200);
    assert.equal(audited.body.response.allowed, true);
    assert.equal(audited.body.response.warnings.length, 1);
    assert.match(audited.body.response.warnings[0], /^\[pod-host-network\] spec\.hostNetwork: /);
    assert.ok(audited.body.response.warnings[0].length <= 120);
    assert.deepEqual(audited.body.response.auditAnnotations, { violations: 'pod-host-network' });
    const counted = (await webhook.metrics.violations.get()).values.find((v) => v.labels.rule === 'pod-host-network' && v.labels.mode === 'audit');
    assert.equal(counted?.value, 1, 'idgate_violations_total counts the violation with its mode');

    await useBaseline({ mode: 'off' });
    const off = await post('/validate', body()).expect(200);
    assert.deepEqual(off.body.response, { uid: off.body.response.uid, allowed: true });

    // A namespace override beats the global mode…
    await useBaseline({ mode: 'enforce', namespaces: { ...exampleBaseline.namespaces, payments: { ...exampleBaseline.namespaces.payments, mode: 'audit' } } });
    const nsOverride = await post('/validate', body()).expect(200);
    assert.equal(nsOverride.body.response.allowed, true);
    assert.deepEqual(nsOverride.body.response.auditAnnotations, { violations: 'pod-host-network' });

    // …and a rule override beats both.
    await useBaseline({ mode: 'audit', rules: { 'pod-host-network': 'enforce' } });
    const ruleOverride = await post('/validate', body()).expect(200);
    assert.equal(ruleOverride.body.response.allowed, false);
    assert.equal(ruleOverride.body.response.status.code, 403);
  });

  it('a dry-run request is judged the same way', async () => {
    await useBaseline({ mode: 'enforce', rules: {} });
    const pod = await admittedPod((p) => {
      p.spec.hostNetwork = true;
    });
    const res = await post('/validate', review({ namespace: 'payments', object: pod, dryRun: true })).expect(200);
    assert.equal(res.body.response.allowed, false);
  });

  it('keeps the last good baseline when an invalid one is written, and counts the failure', async () => {
    await useBaseline({ mode: 'audit', rules: {} });
    const failedBefore = (await webhook.metrics.baselineReloads.get()).values.find((v) => v.labels.result === 'failed')?.value ?? 0;
    await writeFile(baselineFile, stringify({ ...exampleBaseline, mode: 'sometimes' }));
    await eventually(
      async () => ((await webhook.metrics.baselineReloads.get()).values.find((v) => v.labels.result === 'failed')?.value ?? 0) > failedBefore,
      5000,
      'the failed reload to be counted',
    );
    assert.equal(webhook.baseline.current().mode, 'audit');
    const pod = await admittedPod((p) => {
      p.spec.hostNetwork = true;
    });
    const res = await post('/validate', review({ namespace: 'payments', object: pod })).expect(200);
    assert.equal(res.body.response.allowed, true, 'still judged in audit mode');
  });

  it('allows kinds idgate does not judge', async () => {
    const res = await post(
      '/validate',
      review({ kind: 'ConfigMap', namespace: 'payments', object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } } }),
    ).expect(200);
    assert.equal(res.body.response.allowed, true);
  });
});
