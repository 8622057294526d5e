/**
 * `idgate audit` as a real CLI process against the fake API server: several hundred objects in
 * eight namespaces, a known set of planted violations, paging, PolicyReports written and updated.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { startFakeApiServer, type FakeApiServer, type KubeObject } from '../support/fake-apiserver.ts';
import { runCli } from '../support/cli.ts';
import { policyReportValidator, reportValidator } from './schemas.ts';
import { asAdmitted } from '../../src/audit/as-admitted.ts';
import { parseBaseline } from '../../src/baseline/config.ts';
import { BindingIndex } from '../../src/identity/index.ts';
import type { Pod } from '../../src/admission/k8s.ts';
import type { Report } from '../../src/audit/report.ts';

const ISSUER = 'https://keycloak.example.com/realms/prod';
const NAMESPACES = Array.from({ length: 8 }, (_, i) => `team-${i}`);
const PODS_PER_NAMESPACE = 50;

const BASELINE_YAML = `apiVersion: idgate.dev/v1alpha1
kind: IdentityBaseline
mode: enforce
trustedIssuers: [${ISSUER}]
namespaces:
${NAMESPACES.map((ns) => `  ${ns}: { allowedGroups: ["${ns}-*"]${ns === 'team-7' ? ', mode: audit' : ''} }`).join('\n')}
sidecar: { image: registry.example.com/idgate:0.1.0 }
`;
const baseline = parseBaseline(BASELINE_YAML, 'baseline.yaml');

const binding = (ns: string, name: string, groups: string[], issuer = ISSUER): KubeObject => ({
  apiVersion: 'idgate.dev/v1alpha1',
  kind: 'OIDCGroupBinding',
  metadata: { name, namespace: ns },
  spec: { issuer, groups, serviceAccounts: ['app'] },
});

const rawPod = (ns: string, name: string, spec: Partial<NonNullable<Pod['spec']>> = {}): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns, labels: { app: 'app' } },
  spec: { serviceAccountName: 'app', containers: [{ name: 'app', image: 'app:1', ports: [{ containerPort: 8080 }] }], ...spec },
});

/** A Pod as it runs after the injector: mutated with the bindings of `index`. */
const admitted = (pod: Pod, index: BindingIndex): KubeObject =>
  asAdmitted(pod, { baseline, identity: index, namespace: pod.metadata?.namespace ?? '', version: '0.1.0' }) as KubeObject;

const deployment = (ns: string, name: string, serviceAccountName: string): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: ns },
  spec: {
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { serviceAccountName, containers: [{ name: 'app', image: 'app:1', ports: [{ containerPort: 8080 }] }] },
    },
  },
});

const policy = (ns: string, name: string, spec: Record<string, unknown>): KubeObject => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace: ns },
  spec,
});

/** Seeds the cluster; returns the violations planted, as `Kind ns/name rule path action`. */
function seed(api: FakeApiServer): string[] {
  const index = new BindingIndex();
  index.markSynced();
  for (const ns of NAMESPACES) {
    api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'idgate.dev/inject': 'enabled' } } });
    const b = binding(ns, 'app', [`${ns}-callers`]);
    api.create(b);
    index.upsert({ namespace: ns, name: 'app', issuer: ISSUER, groups: [`${ns}-callers`], serviceAccounts: ['app'] });
    index.setNamespace(ns, { 'idgate.dev/inject': 'enabled' });
  }
  api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system' } });
  const objects: KubeObject[] = [];
  for (const ns of NAMESPACES) {
    for (let i = 0; i < PODS_PER_NAMESPACE; i++) objects.push(admitted(rawPod(ns, `app-${String(i).padStart(2, '0')}`), index));
    objects.push(deployment(ns, 'app', 'app'));
    objects.push(policy(ns, 'idgate-default-deny', { podSelector: {}, policyTypes: ['Ingress'] }));
    objects.push(
      policy(ns, 'callers', {
        podSelector: { matchLabels: { app: 'app' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: { matchLabels: { [`group.idgate.dev/${ns}-callers`]: 'true' } } }], ports: [{ port: 'idgate-proxy' }] }],
      }),
    );
  }
  // The planted violations.
  objects.push(admitted(rawPod('team-1', 'shared-sa', { serviceAccountName: 'default' }), index));
  objects.push(admitted(rawPod('team-2', 'on-host', { hostNetwork: true }), index));
  objects.push(deployment('team-3', 'shared-sa', 'default'));
  // Every other workload kind, standalone (not owned), each on the shared ServiceAccount.
  for (const kind of ['StatefulSet', 'DaemonSet', 'ReplicaSet'] as const) {
    objects.push({ ...deployment('team-3', `shared-${kind.toLowerCase()}`, 'default'), kind });
  }
  const template = (deployment('team-3', 'x', 'default').spec as { template: unknown }).template;
  objects.push({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'shared-job', namespace: 'team-3' }, spec: { template } });
  objects.push({
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'shared-cronjob', namespace: 'team-3' },
    spec: { schedule: '@daily', jobTemplate: { spec: { template } } },
  });
  objects.push(
    policy('team-4', 'world', {
      podSelector: {},
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ port: 4180 }] }],
    }),
  );
  objects.push(binding('team-5', 'rogue', ['team-5-admins'], 'https://evil.example.com'));
  // Labelled while a since-deleted binding still granted team-6-legacy: stale, not spoofed.
  const before = new BindingIndex();
  before.markSynced();
  before.upsert({ namespace: 'team-6', name: 'app', issuer: ISSUER, groups: ['team-6-callers', 'team-6-legacy'], serviceAccounts: ['app'] });
  before.setNamespace('team-6', { 'idgate.dev/inject': 'enabled' });
  objects.push(admitted(rawPod('team-6', 'started-last-year'), before));
  objects.push(admitted(rawPod('team-7', 'shared-sa', { serviceAccountName: 'default' }), index));
  // A namespace that is not enrolled: identity integrity only. A monitoring Pod on the default
  // ServiceAccount and a policy opening every port are none of idgate's business there; a Pod
  // carrying a group label is spoofing, whatever the namespace.
  api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'monitoring', labels: { team: 'sre' } } });
  objects.push(rawPod('monitoring', 'exporter', { serviceAccountName: 'default' }) as KubeObject);
  objects.push(policy('monitoring', 'scrape', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{}] }));
  const spoofer = rawPod('monitoring', 'spoofer') as KubeObject;
  spoofer.metadata = { ...spoofer.metadata, labels: { app: 'x', 'group.idgate.dev/team-0-callers': 'true' } };
  objects.push(spoofer);
  // Never judged: an exempt namespace, and a ReplicaSet judged through its Deployment.
  objects.push(rawPod('kube-system', 'on-host', { hostNetwork: true }) as KubeObject);
  objects.push({
    ...deployment('team-3', 'shared-sa-5d9c', 'default'),
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: 'shared-sa-5d9c',
      namespace: 'team-3',
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'shared-sa', uid: 'x', controller: true }],
    },
  });
  api.seed(objects);
  return [
    'CronJob team-3/shared-cronjob workload-template spec.jobTemplate.spec.template.spec.serviceAccountName deny',
    'DaemonSet team-3/shared-daemonset workload-template spec.template.spec.serviceAccountName deny',
    'Deployment team-3/shared-sa workload-template spec.template.spec.serviceAccountName deny',
    'Job team-3/shared-job workload-template spec.template.spec.serviceAccountName deny',
    'NetworkPolicy team-4/world networkpolicy-ipblock-world spec.ingress[0].from[0].ipBlock.cidr deny',
    'OIDCGroupBinding team-5/rogue binding-trusted-issuer spec.issuer deny',
    'Pod monitoring/spoofer pod-identity-labels metadata.labels[group.idgate.dev/team-0-callers] deny',
    'Pod team-1/shared-sa pod-service-account spec.serviceAccountName deny',
    'Pod team-2/on-host pod-host-network spec.hostNetwork deny',
    'Pod team-6/started-last-year pod-identity-labels metadata.labels stale',
    'Pod team-7/shared-sa pod-service-account spec.serviceAccountName warn',
    'ReplicaSet team-3/shared-replicaset workload-template spec.template.spec.serviceAccountName deny',
    'StatefulSet team-3/shared-statefulset workload-template spec.template.spec.serviceAccountName deny',
  ];
}

const rows = (report: Report) =>
  report.findings
    .map((f) => `${f.object.kind} ${f.object.namespace}/${f.object.name} ${f.rule} ${f.path} ${f.denies ? 'deny' : f.stale ? 'stale' : 'warn'}`)
    .sort();

describe('idgate audit', () => {
  let api: FakeApiServer;
  let dir: string;
  let kubeconfig: string;
  let baselineFile: string;
  let planted: string[];
  const audit = (...args: string[]) =>
    runCli(['audit', '--kubeconfig', kubeconfig, '--config', baselineFile, '--page-size', '50', ...args], { timeoutMs: 25_000 });

  before(async () => {
    api = await startFakeApiServer();
    dir = await mkdtemp(join(tmpdir(), 'idgate-audit-'));
    kubeconfig = await api.writeKubeconfig(dir);
    baselineFile = join(dir, 'baseline.yaml');
    await writeFile(baselineFile, BASELINE_YAML);
    planted = seed(api);
  });
  after(async () => {
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('pages through several hundred objects and reports exactly the planted violations, exit 1', async () => {
    const res = await audit('-o', 'json');
    assert.equal(res.code, 1, res.stderr);
    const report = JSON.parse(res.stdout) as Report;
    const validate = reportValidator();
    assert.ok(validate(report), JSON.stringify(validate.errors, null, 2));
    assert.deepEqual(rows(report), planted);
    // 400 app pods + 5 planted + the exempt one, 50 a page: more than one page was requested.
    assert.ok(api.listRequests('pods') >= 9, `pods listed in ${api.listRequests('pods')} requests`);
    const podLists = api.requests.filter((r) => r.method === 'GET' && !r.watch && !r.name && r.resource === '/v1/pods');
    assert.ok(podLists.length > 1 && podLists.every((r) => r.query.limit === '50'), 'every page asked for --page-size objects');
    assert.ok(
      podLists.slice(1).every((r) => r.query.continue),
      'later pages continue the first',
    );
    assert.equal(report.summary.exempt, 1);
    assert.equal(report.summary.owned, 1);
    assert.equal(report.summary.stalePods, 1);
    assert.equal(report.summary.deniedObjects, 11);
    assert.equal(report.summary.notJudged, 0, 'every listed object is of a judged kind');
    assert.deepEqual(report.summary.byRule['pod-service-account'], { findings: 2, denied: 1 });
    const stale = report.findings.find((f) => f.stale);
    assert.match(stale?.message ?? '', /identity labels are stale: .*revoked: team-6-legacy.*restart/);
    assert.ok(stale?.object.uid, 'live objects are referenced by uid');
    assert.doesNotMatch(res.stderr, /\r/, 'no progress display when stderr is not a terminal');
  });

  it('restricts to one namespace with -n and prints a table with the summary', async () => {
    const res = await audit('-n', 'team-2');
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stdout, /Pod team-2\/on-host\s+pod-host-network\s+spec\.hostNetwork\s+enforce\s+deny/);
    assert.doesNotMatch(res.stdout, /team-1\//);
    assert.match(res.stdout, /^team-2\s+\d+\s+1\s+1\s+1$/m);
  });

  it('prints PolicyReports that satisfy the v1alpha2 CRD schema', async () => {
    const res = await audit('-o', 'policyreport');
    assert.equal(res.code, 1, res.stderr);
    const reports = parseAllDocuments(res.stdout).map((d) => d.toJS() as Record<string, any>);
    assert.deepEqual(
      reports.map((r) => r.metadata.namespace),
      ['monitoring', ...NAMESPACES],
    );
    const validate = policyReportValidator();
    for (const r of reports) assert.ok(validate(r), `${r.metadata.namespace}: ${JSON.stringify(validate.errors)}`);
    const team1 = reports.find((r) => r.metadata.namespace === 'team-1')!;
    assert.equal(team1.metadata.name, 'idgate');
    assert.equal(team1.metadata.labels['app.kubernetes.io/managed-by'], 'idgate');
    assert.deepEqual(
      team1.results.map((r: any) => [r.policy, r.rule, r.result, r.source, r.scored, r.resources[0].kind, r.resources[0].name]),
      [['idgate', 'pod-service-account', 'fail', 'idgate', true, 'Pod', 'shared-sa']],
    );
    assert.ok(Number.isInteger(team1.results[0].timestamp.seconds) && Number.isInteger(team1.results[0].timestamp.nanos));
    // Judged there: 50 app pods, the planted pod, a Deployment, two NetworkPolicies, the binding.
    assert.deepEqual(team1.summary, { pass: 54, fail: 1, warn: 0, error: 0, skip: 0 });
    assert.equal(reports.find((r) => r.metadata.namespace === 'team-7')!.results[0].result, 'warn');
  });

  it('--apply-reports creates one PolicyReport per namespace; a second run updates them', async () => {
    const first = await audit('-o', 'json', '--apply-reports');
    assert.equal(first.code, 1, first.stderr);
    assert.match(first.stderr, /PolicyReports written: 9 created, 0 updated/);
    const stored = () => api.list('wgpolicyk8s.io/v1alpha2', 'PolicyReport');
    assert.equal(stored().length, 9);
    const team2Before = stored().find((r) => r.metadata?.namespace === 'team-2') as Record<string, any>;
    assert.equal(team2Before.summary.fail, 1);

    api.delete({ apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'team-2', name: 'on-host' } });
    const second = await audit('-o', 'json', '--apply-reports');
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, /PolicyReports written: 0 created, 9 updated/);
    assert.equal(stored().length, 9, 'updated, not duplicated');
    const team2After = stored().find((r) => r.metadata?.namespace === 'team-2') as Record<string, any>;
    assert.notEqual(team2After.metadata.resourceVersion, team2Before.metadata.resourceVersion);
    assert.deepEqual(team2After.results, []);
    assert.equal(team2After.summary.fail, 0);
    assert.ok(api.requests.some((r) => r.method === 'PUT' && r.path.includes('/policyreports/idgate')));
  });

  it('finds the cluster as kubectl does: $KUBECONFIG alone, and --context for another context', async () => {
    const viaEnv = await runCli(['audit', '--config', baselineFile, '-n', 'team-1', '-o', 'json'], { env: { KUBECONFIG: kubeconfig, HOME: dir } });
    assert.equal(viaEnv.code, 1, viaEnv.stderr);
    assert.deepEqual(rows(JSON.parse(viaEnv.stdout) as Report), ['Pod team-1/shared-sa pod-service-account spec.serviceAccountName deny']);

    // ~/.kube/config whose current context points nowhere; --context picks the fake server.
    const home = join(dir, 'home');
    await mkdir(join(home, '.kube'), { recursive: true });
    await writeFile(
      join(home, '.kube', 'config'),
      [
        'apiVersion: v1',
        'kind: Config',
        'current-context: gone',
        'clusters:',
        '- name: gone',
        '  cluster: { server: "https://127.0.0.1:1" }',
        `- name: fake`,
        `  cluster: { server: "${api.url}", insecure-skip-tls-verify: true }`,
        'users:',
        '- name: u',
        '  user: { token: fake-token }',
        'contexts:',
        '- name: gone',
        '  context: { cluster: gone, user: u }',
        '- name: fake',
        '  context: { cluster: fake, user: u }',
        '',
      ].join('\n'),
    );
    const env = { HOME: home, KUBECONFIG: '' };
    const current = await runCli(['audit', '--config', baselineFile, '-n', 'team-1'], { env });
    assert.equal(current.code, 2, 'the current context is unreachable');
    assert.match(current.stderr, /cannot read the cluster at https:\/\/127\.0\.0\.1:1: .*check --kubeconfig\/--context/);
    const picked = await runCli(['audit', '--config', baselineFile, '-n', 'team-1', '--context', 'fake', '-o', 'json'], { env });
    assert.equal(picked.code, 1, picked.stderr);
    assert.equal((JSON.parse(picked.stdout) as Report).summary.deniedObjects, 1);
    const unknown = await runCli(['audit', '--config', baselineFile, '--context', 'prod'], { env });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--context prod: no such context \(the kubeconfig has: gone, fake\)/);
  });

  it('exits 2 when the kubeconfig or the baseline is unusable', async () => {
    const noKube = await runCli(['audit', '--kubeconfig', join(dir, 'missing'), '--config', baselineFile]);
    assert.equal(noKube.code, 2);
    assert.match(noKube.stderr, /cannot load the kubeconfig .*missing \(from --kubeconfig\): no such file/);
    const noConfig = await runCli(['audit', '--kubeconfig', kubeconfig]);
    assert.equal(noConfig.code, 2);
    assert.match(noConfig.stderr, /--config FILE/);
  });
});

describe('idgate audit --apply-reports without the PolicyReport CRD', () => {
  it('exits 2 before scanning, naming the CRD and how to install it, and writes nothing', async () => {
    const api = await startFakeApiServer({ omit: ['policyreports'] });
    const dir = await mkdtemp(join(tmpdir(), 'idgate-audit-nocrd-'));
    try {
      const baselineFile = join(dir, 'baseline.yaml');
      await writeFile(baselineFile, BASELINE_YAML);
      api.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'team-1' }, spec: { containers: [{ name: 'a', image: 'a' }] } });
      const res = await runCli(['audit', '--kubeconfig', await api.writeKubeconfig(dir), '--config', baselineFile, '--apply-reports']);
      assert.equal(res.code, 2, res.stderr);
      assert.equal(res.stderr.trim().split('\n').length, 1, 'one line');
      assert.match(res.stderr, /--apply-reports: the cluster does not serve PolicyReport .*policyreports\.wgpolicyk8s\.io .*Kyverno/);
      assert.equal(res.stdout, '', 'no report printed');
      assert.equal(api.listRequests('pods'), 0, 'nothing scanned');
    } finally {
      await api.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
