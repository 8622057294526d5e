/**
 * Renders every overlay with `kubectl kustomize`, validates every object against the Kubernetes
 * OpenAPI schemas (kubernetes-models for types, client-node's field lists for unknown fields, as
 * `kubectl apply --validate=strict` would) and the CRDs we ship, and asserts the safety
 * properties an admission controller's install must have.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { Ajv } from 'ajv';
import { parseBaseline } from '../../src/baseline/config.ts';
import { modelName, unknownFields } from '../support/k8s-fields.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OVERLAYS = ['enforce', 'audit', 'cert-manager'] as const;
const EXEMPT = ['kube-system', 'kube-node-lease', 'idgate-system'];
/** Kinds of CRDs from other projects (cert-manager): no schema here, checked by hand below. */
const EXTERNAL_KINDS = new Set(['cert-manager.io/v1/Issuer', 'cert-manager.io/v1/Certificate']);

type Obj = Record<string, any>;

async function render(overlay: string): Promise<Obj[]> {
  const { stdout } = await run('kubectl', ['kustomize', `manifests/overlays/${overlay}`], { cwd: ROOT, maxBuffer: 16 << 20 });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
}

/** The kubernetes-models class for an apiVersion/kind, or undefined. */
async function modelFor(apiVersion: string, kind: string): Promise<(new (o: Obj) => { validate(): void }) | undefined> {
  const path = apiVersion.includes('/') ? apiVersion : `v1`;
  try {
    const mod = (await import(`kubernetes-models/${path}`)) as Record<string, unknown>;
    return mod[kind] as (new (o: Obj) => { validate(): void }) | undefined;
  } catch {
    return undefined;
  }
}

const rendered = Object.fromEntries(await Promise.all(OVERLAYS.map(async (o) => [o, await render(o)] as const)));
const find = (objs: Obj[], kind: string, name?: string) => objs.filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));

describe('the unknown-field check', () => {
  it('reports a misspelt field at any depth, and accepts maps and lists of known types', () => {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'x', labels: { a: 'b' } },
      spec: {
        selector: { matchLabels: { a: 'b' } },
        replicas: 2,
        strategy: { rollingUpdate: { maxSurge: '25%' } },
        template: {
          metadata: { labels: { a: 'b' } },
          spec: { containers: [{ name: 'c', image: 'i', imagePullPolicyy: 'Always', resources: { limits: { memory: '1Gi' } } }], nodeSelecter: {} },
        },
      },
    };
    assert.equal(modelName('apps/v1', 'Deployment'), 'V1Deployment');
    assert.equal(modelName('v1', 'ConfigMap'), 'V1ConfigMap');
    assert.equal(modelName('cert-manager.io/v1', 'Certificate'), undefined);
    assert.deepEqual(unknownFields(deployment, 'V1Deployment'), ['spec.template.spec.containers[0].imagePullPolicyy', 'spec.template.spec.nodeSelecter']);
  });
});

describe('kustomize overlays', () => {
  for (const overlay of OVERLAYS) {
    describe(overlay, () => {
      const objs = rendered[overlay]!;

      it('every object validates against the Kubernetes OpenAPI schema or its CRD', async () => {
        const crds = find(objs, 'CustomResourceDefinition');
        let validated = 0;
        for (const obj of objs) {
          const id = `${obj.kind}/${obj.metadata?.name}`;
          const Model = await modelFor(obj.apiVersion, obj.kind);
          if (Model) {
            assert.doesNotThrow(() => new Model(obj).validate(), id);
            const type = modelName(obj.apiVersion, obj.kind);
            assert.ok(type, `${id}: no field list for ${obj.apiVersion} ${obj.kind}`);
            assert.deepEqual(unknownFields(obj, type), [], `${id}: fields the API does not declare`);
            validated++;
            continue;
          }
          const [group, version] = String(obj.apiVersion).split('/');
          const crd = crds.find((c) => c.spec.group === group && c.spec.names.kind === obj.kind);
          if (crd) {
            const schema = crd.spec.versions.find((v: Obj) => v.name === version).schema.openAPIV3Schema;
            const validate = new Ajv({ strict: false }).compile(schema);
            assert.ok(validate(obj), `${id}: ${JSON.stringify(validate.errors)}`);
            validated++;
            continue;
          }
          assert.ok(EXTERNAL_KINDS.has(`${obj.apiVersion}/${obj.kind}`), `${id}: no schema for ${obj.apiVersion} ${obj.kind}`);
        }
        assert.ok(validated >= 12, `validated ${validated} objects`);
      });

      it('webhooks never see the exempt namespaces, speak v1 only, have no side effects and short timeouts', () => {
        const configs = [...find(objs, 'MutatingWebhookConfiguration'), ...find(objs, 'ValidatingWebhookConfiguration')];
        assert.equal(configs.length, 2);
        for (const config of configs) {
          for (const hook of config.webhooks) {
            const exclusion = hook.namespaceSelector.matchExpressions.find((e: Obj) => e.key === 'kubernetes.io/metadata.name');
            assert.equal(exclusion?.operator, 'NotIn', hook.name);
            for (const ns of EXEMPT) assert.ok(exclusion.values.includes(ns), `${hook.name} excludes ${ns}`);
            assert.deepEqual(hook.admissionReviewVersions, ['v1']);
            assert.equal(hook.sideEffects, 'None');
            assert.equal(hook.matchPolicy, 'Equivalent');
            assert.ok(hook.timeoutSeconds >= 1 && hook.timeoutSeconds <= 10, `${hook.name} timeout ${hook.timeoutSeconds}`);
            assert.equal(hook.clientConfig.service.namespace, 'idgate-system');
          }
        }
        const [mutating] = find(objs, 'MutatingWebhookConfiguration');
        assert.equal(mutating!.webhooks[0].reinvocationPolicy, 'IfNeeded');
        assert.ok(mutating!.webhooks[0].matchConditions.some((c: Obj) => c.expression.includes('kubernetes.io/config.mirror')));
      });

      it('each validating webhook matches exactly the operations and resources its route needs', () => {
        const [validating] = find(objs, 'ValidatingWebhookConfiguration');
        const matched = (name: string) => {
          const hook = validating!.webhooks.find((h: Obj) => h.name === name);
          assert.ok(hook, name);
          const seen = new Map<string, string[]>();
          for (const rule of hook.rules) {
            for (const group of rule.apiGroups) for (const res of rule.resources) seen.set(`${group}/${res}`, [...rule.operations].sort());
          }
          return Object.fromEntries(seen);
        };
        const cu = ['CREATE', 'UPDATE'];
        const podsAndWorkloads = {
          '/pods': cu,
          // The API server lets a status UPDATE change labels and annotations.
          '/pods/status': ['UPDATE'],
          'apps/deployments': cu,
          'apps/statefulsets': cu,
          'apps/daemonsets': cu,
          'apps/replicasets': cu,
          'batch/jobs': cu,
          'batch/cronjobs': cu,
        };
        assert.deepEqual(
          validating!.webhooks.map((h: Obj) => h.name),
          ['baseline.validate.idgate.dev', 'integrity.validate.idgate.dev'],
        );
        assert.deepEqual(matched('baseline.validate.idgate.dev'), {
          ...podsAndWorkloads,
          'networking.k8s.io/networkpolicies': ['CREATE', 'DELETE', 'UPDATE'],
          'idgate.dev/oidcgroupbindings': cu,
        });
        assert.deepEqual(matched('integrity.validate.idgate.dev'), podsAndWorkloads);
      });

      it('failure policy follows the overlay; identity integrity fails closed in every overlay', () => {
        const expected = overlay === 'audit' ? 'Ignore' : 'Fail';
        for (const config of [...find(objs, 'MutatingWebhookConfiguration'), ...find(objs, 'ValidatingWebhookConfiguration')]) {
          for (const hook of config.webhooks) {
            assert.equal(hook.failurePolicy, hook.name === 'integrity.validate.idgate.dev' ? 'Fail' : expected, `${overlay} ${hook.name}`);
          }
        }
        const text = find(objs, 'ConfigMap', 'idgate-baseline')[0]!.data['baseline.yaml'] as string;
        // The shipped baseline loads with the webhook's own loader, in the overlay's mode.
        const baseline = parseBaseline(text, `${overlay}/baseline.yaml`);
        assert.equal(baseline.mode, overlay === 'audit' ? 'audit' : 'enforce');
      });

      it('the webhook Deployment is hardened, replicated and probed', () => {
        const [deployment] = find(objs, 'Deployment', 'idgate-webhook');
        const spec = deployment!.spec.template.spec;
        assert.ok(deployment!.spec.replicas >= 2);
        assert.equal(spec.securityContext.runAsNonRoot, true);
        assert.ok(spec.securityContext.runAsUser > 0);
        assert.equal(spec.securityContext.seccompProfile.type, 'RuntimeDefault');
        assert.ok(spec.priorityClassName);
        assert.ok(spec.topologySpreadConstraints.length > 0);
        for (const c of spec.containers) {
          assert.equal(c.securityContext.runAsNonRoot, true, c.name);
          assert.equal(c.securityContext.readOnlyRootFilesystem, true, c.name);
          assert.equal(c.securityContext.allowPrivilegeEscalation, false, c.name);
          assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
          assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory, c.name);
          assert.equal(c.readinessProbe.httpGet.path, '/readyz');
          assert.equal(c.livenessProbe.httpGet.path, '/healthz');
        }
        const pdbs = find(objs, 'PodDisruptionBudget');
        assert.equal(pdbs.length, 1);
        assert.deepEqual(pdbs[0]!.spec.selector.matchLabels, deployment!.spec.selector.matchLabels);
        const [service] = find(objs, 'Service', 'idgate-webhook');
        assert.deepEqual(service!.spec.selector, deployment!.spec.selector.matchLabels);
      });

      it('RBAC has no wildcards and no cluster-wide Secret access; webhook configs only by name', () => {
        for (const role of [...find(objs, 'ClusterRole'), ...find(objs, 'Role')]) {
          for (const rule of role.rules) {
            for (const field of ['verbs', 'resources', 'apiGroups']) {
              assert.ok(!(rule[field] ?? []).includes('*'), `${role.kind}/${role.metadata.name} ${field} has a wildcard`);
            }
            if (role.kind === 'ClusterRole') assert.ok(!rule.resources.includes('secrets'), 'no Secret access in a ClusterRole');
            if (rule.resources.some((r: string) => r.endsWith('webhookconfigurations'))) {
              assert.deepEqual(rule.resourceNames, ['idgate']);
              assert.ok(!rule.verbs.includes('list') && !rule.verbs.includes('update'));
            }
            if (rule.resources.includes('secrets') && !rule.verbs.every((v: string) => v === 'create')) {
              assert.deepEqual(rule.resourceNames, ['idgate-webhook-tls']);
            }
          }
        }
        for (const binding of find(objs, 'RoleBinding')) assert.equal(binding.metadata.namespace, 'idgate-system');
      });
    });
  }

  it('cert-manager overlay hands certificates to cert-manager and drops Secret access', () => {
    const objs = rendered['cert-manager']!;
    for (const config of [...find(objs, 'MutatingWebhookConfiguration'), ...find(objs, 'ValidatingWebhookConfiguration')]) {
      assert.equal(config.metadata.annotations['cert-manager.io/inject-ca-from'], 'idgate-system/idgate-webhook-tls');
    }
    const [deployment] = find(objs, 'Deployment', 'idgate-webhook');
    assert.ok(!deployment!.spec.template.spec.containers[0].args.includes('--manage-certs'));
    assert.equal(find(objs, 'Role', 'idgate-certs').length, 0);
    const [cert] = find(objs, 'Certificate', 'idgate-webhook-tls');
    assert.ok(cert!.spec.dnsNames.includes('idgate-webhook.idgate-system.svc'));
  });
});
