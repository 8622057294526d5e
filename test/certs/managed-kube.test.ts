/**
 * `--manage-certs` against the fake API server: real client-node code, real Secrets and webhook
 * configurations (from manifests/base/webhooks.yaml), real files and a real TLS server.
 */
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { startFakeApiServer, type FakeApiServer, type KubeObject } from '../support/fake-apiserver.ts';
import { captureLogger, silentLogger } from '../support/logger.ts';
import { httpsCall } from '../support/tls.ts';
import { eventually } from '../support/eventually.ts';
import { loadKubeConfig } from '../../src/kube/config.ts';
import { createKubeCertsApi } from '../../src/kube/certs-client.ts';
import { createCA, issueCertificate, serviceHosts } from '../../src/certs/generate.ts';
import { createCertManager, type CertManager, type CertManagerOptions, type CertsApi } from '../../src/certs/managed.ts';
import { SECRET_KEYS, caBundleOf } from '../../src/certs/rotation.ts';
import { startTestWebhook } from '../support/webhook.ts';
import { startCli } from '../support/cli.ts';
import { writeCertFiles } from '../../src/certs/files.ts';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const SECRET = { namespace: 'idgate-system', name: 'idgate-webhook-tls' };
const HOSTS = serviceHosts('idgate-webhook', 'idgate-system');
const CONFIGS = [
  { kind: 'mutating', name: 'idgate' },
  { kind: 'validating', name: 'idgate' },
] as const;
const SECRET_REF = { apiVersion: 'v1', kind: 'Secret', metadata: SECRET };
const MUTATING_REF = { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: 'idgate' } };
const VALIDATING_REF = { ...MUTATING_REF, kind: 'ValidatingWebhookConfiguration' };

const manifests = async (): Promise<KubeObject[]> =>
  parseAllDocuments(await readFile('manifests/base/webhooks.yaml', 'utf8')).map((d) => d.toJS() as KubeObject);
const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
const certsIn = (pemBundle: string) => pemBundle.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];

interface Webhooks {
  webhooks: Array<{ name: string; clientConfig: { caBundle?: string }; rules?: unknown }>;
}

describe('managed certificates against the fake API server', () => {
  let api: FakeApiServer;
  let dir: string;
  let kubeconfig: string;
  const managers: CertManager[] = [];

  const kubeApi = (): CertsApi => createKubeCertsApi({ kubeConfig: loadKubeConfig(kubeconfig), secret: SECRET });
  const manager = (options: Partial<CertManagerOptions> & { tlsDir: string }): CertManager => {
    const m = createCertManager({ api: kubeApi(), hosts: HOSTS, webhookConfigs: CONFIGS, logger: silentLogger, ...options });
    managers.push(m);
    return m;
  };
  const secretData = (): Record<string, string> =>
    Object.fromEntries(Object.entries((api.get(SECRET_REF) as { data?: Record<string, string> }).data ?? {}).map(([k, v]) => [k, unb64(v)]));
  /** The caBundle of every webhook of both configurations, decoded. */
  const bundles = (): string[] =>
    [MUTATING_REF, VALIDATING_REF].flatMap((ref) => (api.get(ref) as unknown as Webhooks).webhooks.map((w) => unb64(w.clientConfig.caBundle ?? '')));

  /** Wraps an API so that the first readSecret of each of `n` callers waits until all `n` have read: a forced race. */
  const racing = (n: number) => {
    let waiting: Array<() => void> = [];
    return (inner: CertsApi): CertsApi => {
      let first = true;
      return {
        ...inner,
        async readSecret() {
          const result = await inner.readSecret();
          if (first) {
            first = false;
            await new Promise<void>((resolve) => {
              waiting.push(resolve);
              if (waiting.length === n) {
                for (const w of waiting) w();
                waiting = [];
              }
            });
          }
          return result;
        },
      };
    };
  };

  before(async () => {
    api = await startFakeApiServer();
  });
  after(() => api.close());
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'idgate-managed-'));
    kubeconfig = await api.writeKubeconfig(dir);
    for (const ref of [SECRET_REF, MUTATING_REF, VALIDATING_REF]) if (api.get(ref)) api.delete(ref);
    api.seed(await manifests());
  });
  afterEach(async () => {
    for (const m of managers.splice(0)) await m.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('two replicas starting at once create one Secret with one CA, and every webhook trusts it', async () => {
    const race = racing(2);
    const { logger, lines } = captureLogger();
    const [a, b] = [join(dir, 'a'), join(dir, 'b')].map((tlsDir) => manager({ tlsDir, api: race(kubeApi()), logger }));
    await Promise.all([a!.start(), b!.start()]);
    assert.deepEqual(
      lines.filter((l) => (l.level as number) >= 50),
      [],
      'the loser re-read the Secret instead of failing',
    );

    const posts = api.requests.filter((r) => r.method === 'POST' && r.resource === '/v1/secrets');
    assert.equal(posts.length, 2, 'both replicas tried to create the Secret (one got 409 AlreadyExists)');
    assert.equal(api.list('v1', 'Secret', SECRET.namespace).length, 1);
    const data = secretData();
    assert.equal(certsIn(data[SECRET_KEYS.caCert]!).length, 1);
    assert.equal(data[SECRET_KEYS.previousCA], undefined);
    for (const tlsDir of ['a', 'b']) {
      assert.equal(await readFile(join(dir, tlsDir, 'ca.crt'), 'utf8'), data[SECRET_KEYS.caCert]);
      assert.equal(await readFile(join(dir, tlsDir, 'tls.crt'), 'utf8'), data[SECRET_KEYS.cert]);
    }
    const all = bundles();
    assert.equal(all.length, 3, 'one mutating and two validating webhooks');
    for (const bundle of all) assert.equal(bundle, data[SECRET_KEYS.caCert]);
    // The patch kept every other field of the configurations.
    const seeded = await manifests();
    assert.deepEqual(
      (api.get(VALIDATING_REF) as unknown as Webhooks).webhooks.map((w) => w.rules),
      (seeded[1] as unknown as Webhooks).webhooks.map((w) => w.rules),
    );
  });

  it('a replica with a stale view gets 409 Conflict and keeps the CA the other replica just wrote', async () => {
    const old = createCA({ days: 30, now: new Date(Date.now() - 25 * DAY) }); // in its last third
    const serving = issueCertificate(old, { commonName: HOSTS[0]!, hosts: HOSTS, days: 60, usage: 'server' });
    api.create({
      ...SECRET_REF,
      type: 'kubernetes.io/tls',
      data: { 'ca.crt': b64(old.cert), 'ca.key': b64(old.key), 'tls.crt': b64(serving.cert), 'tls.key': b64(serving.key), other: b64('kept') },
    });
    const race = racing(2);
    const policy = { caLifetimeMs: 365 * DAY, servingLifetimeMs: 90 * DAY };
    const { logger, lines } = captureLogger();
    const [a, b] = [join(dir, 'a'), join(dir, 'b')].map((tlsDir) => manager({ tlsDir, api: race(kubeApi()), policy, logger }));
    await Promise.all([a!.start(), b!.start()]);
    assert.deepEqual(
      lines.filter((l) => (l.level as number) >= 50),
      [],
    );
    assert.equal(lines.filter((l) => l.msg === 'certificate Secret updated').length, 1, 'exactly one replica rotated the CA');

    assert.equal(api.requests.filter((r) => r.method === 'PUT' && r.resource === '/v1/secrets').length, 2, 'both replicas tried to rotate');
    const data = secretData();
    assert.notEqual(data[SECRET_KEYS.caCert], old.cert, 'rotated');
    assert.equal(data[SECRET_KEYS.previousCA], old.cert, 'the old CA is kept for the overlap, not overwritten by a second new CA');
    assert.equal(data[SECRET_KEYS.cert], serving.cert, 'the serving certificate waits for the grace period');
    assert.equal(data.other, 'kept', 'keys the manager does not own survive');
    for (const bundle of bundles()) assert.deepEqual(certsIn(bundle), [...certsIn(data[SECRET_KEYS.caCert]!), ...certsIn(old.cert)]);
    // Both replicas' files hold the one bundle in the Secret: the loser did not keep a CA of its own.
    for (const tlsDir of ['a', 'b']) assert.equal(await readFile(join(dir, tlsDir, 'ca.crt'), 'utf8'), caBundleOf(data));
  });

  it('CA rotation: both CAs in every caBundle during the overlap, the old one removed after it', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const policy = { caLifetimeMs: 30 * DAY, servingLifetimeMs: 3 * DAY, graceMs: HOUR };
    const m = manager({ tlsDir: dir, policy, intervalMs: HOUR / 2, now: () => now });
    await m.ensure();
    const first = secretData()[SECRET_KEYS.caCert]!;
    // Days pass, reconciled twice a day: serving certificates renewed, same CA.
    for (let i = 0; i < 42 && secretData()[SECRET_KEYS.caCert] === first; i++) {
      now += DAY / 2;
      await m.ensure();
    }
    const rotated = secretData();
    assert.notEqual(rotated[SECRET_KEYS.caCert], first, 'the CA was renewed in its last third');
    assert.equal(rotated[SECRET_KEYS.previousCA], first);
    const both = [...certsIn(rotated[SECRET_KEYS.caCert]!), ...certsIn(first)];
    for (const bundle of bundles()) assert.deepEqual(certsIn(bundle), both);
    assert.deepEqual(certsIn(await readFile(join(dir, 'ca.crt'), 'utf8')), both);
    const oldServing = rotated[SECRET_KEYS.cert]!;
    assert.ok(new X509Certificate(oldServing).verify(new X509Certificate(first).publicKey), 'still the certificate the old CA signed');

    now += HOUR + 1000; // step 2: re-issued by the new CA
    assert.match((await m.ensure()).reasons.join(), /re-issued by the new CA/);
    const reissued = await readFile(join(dir, 'tls.crt'), 'utf8');
    assert.notEqual(reissued, oldServing);
    assert.ok(new X509Certificate(reissued).verify(new X509Certificate(rotated[SECRET_KEYS.caCert]!).publicKey));
    for (const bundle of bundles()) assert.equal(certsIn(bundle).length, 2, 'the old CA stays during the grace period');

    now += HOUR + 1000; // step 3: the old CA is dropped
    assert.match((await m.ensure()).reasons.join(), /previous CA/);
    assert.equal(secretData()[SECRET_KEYS.previousCA], undefined);
    for (const bundle of bundles()) assert.deepEqual(certsIn(bundle), certsIn(rotated[SECRET_KEYS.caCert]!));
    assert.deepEqual(certsIn(await readFile(join(dir, 'ca.crt'), 'utf8')), certsIn(rotated[SECRET_KEYS.caCert]!));
    // Settled: another reconcile writes nothing.
    const settled = await m.ensure();
    assert.deepEqual(settled, { reasons: [], filesWritten: false, patched: [] });
  });

  it('a certificate about to expire is renewed, and the running server serves the new one without a restart', async () => {
    // Real clock: a 6-second serving certificate is due for renewal after 4 seconds.
    const m = manager({
      tlsDir: dir,
      policy: { caLifetimeMs: DAY, servingLifetimeMs: 6000, graceMs: 1000 },
      intervalMs: 200,
      backoffMs: { initial: 50, max: 200 },
    });
    const webhook = await startTestWebhook(dir, { certManager: m });
    try {
      const port = webhook.server.address.port;
      const ca = secretData()[SECRET_KEYS.caCert]!;
      const firstCert = secretData()[SECRET_KEYS.cert]!;
      const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
      assert.equal((await httpsCall(port, { ca })).fingerprint, fp(firstCert));
      await eventually(
        async () => {
          const current = secretData()[SECRET_KEYS.cert]!;
          if (current === firstCert) return false;
          const res = await httpsCall(port, { ca }).catch(() => undefined);
          return res?.status === 200 && res.fingerprint === fp(current);
        },
        15_000,
        'the renewed certificate to be served',
      );
      assert.equal(webhook.server.address.port, port, 'same server');
      assert.deepEqual(webhook.readiness.failing(), [], 'ready throughout');
    } finally {
      await webhook.stop(1000);
    }
  });

  it('with the API down at start-up, files left by an earlier run are served at once and brought in line later', async () => {
    const ca = createCA({ days: 365 });
    const leftover = issueCertificate(ca, { commonName: HOSTS[0]!, hosts: HOSTS, days: 30, usage: 'server' });
    await writeCertFiles(dir, { ca: ca.cert, cert: leftover.cert, key: leftover.key });
    api.injectFault({ method: 'GET', resource: 'secrets', status: 503, count: 2 });
    const { logger, lines } = captureLogger();
    const m = manager({ tlsDir: dir, logger, intervalMs: 100, policy: { graceMs: 1000 }, backoffMs: { initial: 50, max: 100 } });
    await m.start();
    assert.equal(lines.filter((l) => l.level === 50).length, 1, 'start returned after one failure: the files were usable');
    assert.equal(api.get(SECRET_REF), undefined);
    assert.equal(await readFile(join(dir, 'tls.crt'), 'utf8'), leftover.cert, 'the earlier files are kept while the API is down');
    await eventually(
      async () => api.get(SECRET_REF) !== undefined && (await readFile(join(dir, 'tls.crt'), 'utf8')) === secretData()[SECRET_KEYS.cert],
      5000,
      'files from the Secret',
    );
  });

  it('API errors are logged and retried with backoff; the manager neither crashes nor gives up', async () => {
    const { logger, lines } = captureLogger();
    api.injectFault({ method: 'GET', resource: 'secrets', status: 500, count: 3 });
    const m = manager({ tlsDir: dir, logger, intervalMs: 100, policy: { graceMs: 1000 }, backoffMs: { initial: 20, max: 100 } });
    await m.start(); // no files yet: start retries until it could write them
    const failures = () => lines.filter((l) => l.msg === 'certificate management failed; serving the last good files and retrying');
    assert.equal(failures().length, 3);
    assert.match(String(failures()[0]!.err), /reading Secret idgate-system\/idgate-webhook-tls: 500/);
    const served = await readFile(join(dir, 'tls.crt'), 'utf8');
    assert.equal(served, secretData()[SECRET_KEYS.cert]);

    // Someone clears a caBundle while patches fail for a while: the manager keeps retrying and repairs it.
    const cfg = api.get(VALIDATING_REF) as unknown as Webhooks & KubeObject;
    for (const w of cfg.webhooks) delete w.clientConfig.caBundle;
    api.update(cfg);
    api.injectFault({ method: 'PATCH', resource: 'validatingwebhookconfigurations', status: 503, count: 2 });
    await eventually(() => bundles().every((b) => b === secretData()[SECRET_KEYS.caCert]), 5000, 'caBundle repaired');
    assert.ok(failures().some((l) => /patching caBundle of ValidatingWebhookConfiguration idgate: 503/.test(String(l.err))));
    assert.equal(await readFile(join(dir, 'tls.crt'), 'utf8'), served, 'the files were left as they were');
  });

  it('idgate webhook --manage-certs: the program creates the Secret, patches caBundle and serves the managed certificate', async () => {
    const { child, line, exited } = await startCli(
      [
        'webhook',
        '--manage-certs',
        '--cert-secret',
        `${SECRET.namespace}/${SECRET.name}`,
        '--webhook-configs',
        'idgate,idgate',
        '--tls-dir',
        dir,
        '--kubeconfig',
        kubeconfig,
        '--bindings-file',
        'examples/bindings.yaml',
        '--config',
        'examples/baseline.yaml',
        '--listen',
        '127.0.0.1:0',
      ],
      (l) => l.msg === 'webhook listening',
    );
    try {
      const ca = secretData()[SECRET_KEYS.caCert]!;
      assert.ok(
        bundles().every((b) => b === ca),
        'both configurations trust the managed CA',
      );
      const answer = await httpsCall(Number(line.port), { ca, path: '/readyz' });
      assert.equal(answer.status, 200);
    } finally {
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
  });
});
