/** `idgate check` as a real CLI process: examples, kustomize output on stdin, Lists, errors. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../support/cli.ts';
import { reportValidator } from './schemas.ts';
import type { Report } from '../../src/audit/report.ts';

const BASELINE = 'examples/baseline.yaml';
const validReport = reportValidator();

function parseReport(stdout: string): Report {
  const report = JSON.parse(stdout) as Report;
  assert.ok(validReport(report), JSON.stringify(validReport.errors, null, 2));
  return report;
}

const rows = (report: Report) =>
  report.findings.map((f) => `${f.object.kind} ${f.object.namespace}/${f.object.name} ${f.rule} ${f.path} ${f.mode} ${f.denies ? 'deny' : 'warn'}`).sort();

describe('idgate check', () => {
  it('reports exactly the violations planted in examples/manifests, exit 1', async () => {
    const res = await runCli(['check', '-f', 'examples/manifests', '--config', BASELINE, '-o', 'json']);
    assert.equal(res.code, 1, res.stderr);
    const report = parseReport(res.stdout);
    assert.deepEqual(rows(report), [
      'Deployment payments/legacy-batch workload-template spec.template.metadata.labels[group.idgate.dev/payments-admins] enforce deny',
      'Deployment payments/legacy-batch workload-template spec.template.spec.hostNetwork enforce deny',
      'Deployment payments/legacy-batch workload-template spec.template.spec.serviceAccountName enforce deny',
      'NetworkPolicy payments/orders-legacy-callers networkpolicy-identity-peers spec.ingress[0].from[1].podSelector.matchLabels[app] audit warn',
      'NetworkPolicy payments/orders-legacy-callers networkpolicy-ipblock-world spec.ingress[0].from[0].ipBlock.cidr enforce deny',
      'NetworkPolicy payments/orders-legacy-callers networkpolicy-policy-types spec.policyTypes enforce deny',
      'NetworkPolicy payments/orders-legacy-callers networkpolicy-sidecar-port spec.ingress[0].ports enforce deny',
      'NetworkPolicy payments/orders-legacy-callers networkpolicy-unknown-group spec.ingress[0].from[2].podSelector.matchLabels[group.idgate.dev/payments-auditors] enforce warn',
    ]);
    assert.deepEqual(
      report.findings
        .filter((f) => f.rule === 'workload-template')
        .map((f) => f.podRule)
        .sort(),
      ['pod-host-network', 'pod-identity-labels', 'pod-service-account'],
    );
    // Every object of the directory judged: 2 Deployments, 3 NetworkPolicies, the binding and the bare Pod.
    assert.equal(report.summary.judged, 7);
    assert.equal(report.summary.deniedObjects, 2);
    const legacy = report.findings.find((f) => f.object.name === 'legacy-batch');
    assert.deepEqual([legacy?.object.file, legacy?.object.line], ['examples/manifests/deployment-bad.yaml', 5]);
  });

  it('prints a table with object, rule, path, mode and a summary per rule and namespace', async () => {
    const res = await runCli(['check', '-f', 'examples/manifests/networkpolicy-bad.yaml', '--baseline', BASELINE]);
    assert.equal(res.code, 1, res.stderr);
    const lines = res.stdout.split('\n');
    assert.match(lines[0] ?? '', /^LOCATION\s+OBJECT\s+RULE\s+PATH\s+MODE\s+ACTION\s+MESSAGE$/);
    assert.match(
      res.stdout,
      /networkpolicy-bad\.yaml:7\s+NetworkPolicy payments\/orders-legacy-callers\s+networkpolicy-ipblock-world\s+spec\.ingress\[0\]\.from\[0\]\.ipBlock\.cidr\s+enforce\s+deny/,
    );
    assert.match(res.stdout, /5 findings: 3 would be denied \(1 object refused\), 2 warnings\./);
    assert.match(res.stdout, /^NAMESPACE\s+JUDGED\s+FAILING\s+FINDINGS\s+DENIED\npayments\s+1\s+1\s+5\s+3$/m);
  });

  it("passes the project's own manifests (kubectl kustomize on stdin) against their own baseline, exit 0", async () => {
    const { stdout: manifests } = await promisify(execFile)('kubectl', ['kustomize', 'manifests/overlays/enforce'], { maxBuffer: 16 * 1024 * 1024 });
    const res = await runCli(['check', '-f', '-', '--config', 'manifests/base/baseline.yaml', '-o', 'json'], { input: manifests });
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const report = parseReport(res.stdout);
    assert.deepEqual(report.findings, []);
    assert.ok(report.summary.objects > 10, 'every document of the kustomize output read');
  });

  it('resolves identity from bindings in the input or --bindings-file, and judges bare Pods as the injector leaves them', async () => {
    const alone = await runCli(['check', '-f', 'examples/manifests/pod-good.yaml', '--config', BASELINE, '-o', 'json']);
    assert.equal(alone.code, 1);
    assert.deepEqual(rows(parseReport(alone.stdout)), ['Pod payments/orders-debug pod-service-account spec.serviceAccountName enforce deny']);
    const withBinding = await runCli([
      'check',
      '-f',
      'examples/manifests/pod-good.yaml',
      '-f',
      'examples/manifests/binding.yaml',
      '--config',
      BASELINE,
      '-o',
      'json',
    ]);
    assert.equal(withBinding.code, 0, withBinding.stdout);
    // examples/bindings.yaml grants payments/api nothing for "orders": still unbound.
    const fromFile = await runCli([
      'check',
      '-f',
      'examples/manifests/pod-good.yaml',
      '--config',
      BASELINE,
      '--bindings-file',
      'examples/bindings.yaml',
      '-o',
      'json',
    ]);
    assert.equal(fromFile.code, 1);
    // A namespace in the input that is not enrolled: identity integrity only
    // (docs/design.md#enrolled-and-plain-namespaces).
    const notInjected = await runCli([
      'check',
      '-f',
      'test/fixtures/check/namespace-not-injected.yaml',
      '-f',
      'examples/manifests/binding.yaml',
      '--config',
      BASELINE,
      '-o',
      'json',
    ]);
    assert.equal(notInjected.code, 1);
    const report = parseReport(notInjected.stdout);
    assert.deepEqual(rows(report), ['Pod payments/orders-spoof pod-identity-labels metadata.labels[group.idgate.dev/payments-admins] enforce deny']);
    assert.match(report.findings[0]?.message ?? '', /in namespace payments, which is not enrolled/);
  });

  it('unwraps (nested) Lists from JSON on stdin and places objects without a namespace in default, or -n', async () => {
    const input = (await import('node:fs')).readFileSync('test/fixtures/check/list.json', 'utf8');
    const res = await runCli(['check', '-f', '-', '--config', BASELINE, '-o', 'json'], { input });
    assert.equal(res.code, 1, res.stderr);
    const report = parseReport(res.stdout);
    assert.deepEqual(rows(report), [
      'NetworkPolicy default/open networkpolicy-allow-all spec.ingress[0].from enforce deny',
      'NetworkPolicy default/open networkpolicy-sidecar-port spec.ingress[0].ports enforce deny',
      'Pod default/shared-sa pod-service-account spec.serviceAccountName enforce deny',
    ]);
    assert.equal(report.summary.notJudged, 1);
    assert.deepEqual(
      report.findings.map((f) => f.object.file),
      ['-', '-', '-'],
    );
    // sandbox is in audit mode in the example baseline: the same findings warn, exit 0.
    const sandbox = await runCli(['check', '-f', '-', '-n', 'sandbox', '--config', BASELINE, '-o', 'json'], { input });
    assert.equal(sandbox.code, 0, sandbox.stdout);
    assert.deepEqual(
      parseReport(sandbox.stdout).findings.map((f) => `${f.object.namespace} ${f.mode} ${f.denies}`),
      ['sandbox audit false', 'sandbox audit false', 'sandbox audit false'],
    );
  });

  it('exits 2 on unreadable input, naming file and line', async () => {
    const syntax = await runCli(['check', '-f', 'test/fixtures/check/bad-syntax.yaml', '--config', BASELINE]);
    assert.equal(syntax.code, 2);
    assert.match(syntax.stderr, /test\/fixtures\/check\/bad-syntax\.yaml:1[01]: YAML syntax error/);
    const binding = await runCli(['check', '-f', 'test/fixtures/check/bad-binding.yaml', '--config', BASELINE]);
    assert.equal(binding.code, 2);
    assert.match(binding.stderr, /bad-binding\.yaml:9: spec\.groups: must not be empty/);
    const missing = await runCli(['check', '-f', 'test/fixtures/check/nope.yaml', '--config', BASELINE]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope\.yaml: cannot read: no such file or directory/);
    const notObject = await runCli(['check', '-f', '-', '--config', BASELINE], { input: 'just: a map\n' });
    assert.equal(notObject.code, 2);
    assert.match(notObject.stderr, /-:1: not a Kubernetes object/);
  });

  it('exits 2 without a baseline, or with a broken one, naming the flag or file:line', async () => {
    const none = await runCli(['check', '-f', 'examples/manifests']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--config FILE .* is required/);
    const bad = await runCli(['check', '-f', 'examples/manifests', '--config', 'test/fixtures/baselines/invalid.yaml']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /test\/fixtures\/baselines\/invalid\.yaml:\d+:/);
    const both = await runCli(['check', '-f', 'examples/manifests', '--config', BASELINE, '--baseline', 'manifests/base/baseline.yaml']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /same option/);
  });
});
