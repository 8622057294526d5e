/** scanCluster with a client of the test's own: objects listed as judged kinds are always judged. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { scanCluster } from '../../src/audit/scan.ts';
import { ERR_UNJUDGED, type AuditClient } from '../../src/audit/cluster.ts';
import type { KubeObject } from '../../src/admission/k8s.ts';
import { parseBaseline } from '../../src/baseline/config.ts';

const baseline = parseBaseline(
  'apiVersion: idgate.dev/v1alpha1\nkind: IdentityBaseline\ntrustedIssuers: [https://issuer.example]\nsidecar: { image: registry.example.com/idgate:1 }\n',
  'b.yaml',
);

/** A client that lists `pods` for Pods and nothing else, items as given. */
function clientListing(pods: KubeObject[]): AuditClient {
  return {
    async *listPages(resource) {
      if (resource.kind === 'Pod') yield pods;
    },
    upsert: () => Promise.reject(new Error('not in this test')),
    serves: () => Promise.resolve(true),
  };
}

const pod = (extra: Partial<KubeObject>): KubeObject => ({
  metadata: { name: 'p', namespace: 'team' },
  spec: { serviceAccountName: 'default', containers: [{ name: 'a', image: 'a' }] },
  ...extra,
});

describe('scanCluster', () => {
  it('judges listed Pods', async () => {
    const report = (await scanCluster({ client: clientListing([pod({ apiVersion: 'v1', kind: 'Pod' })]), baseline, version: 't' })).build(new Date());
    assert.equal(report.summary.judged, 1);
    assert.ok(report.summary.denied > 0);
  });

  it('refuses to call a cluster clean when a listed object was not judged (a kind the client did not set)', async () => {
    await assert.rejects(
      scanCluster({ client: clientListing([pod({})]), baseline, version: 't' }),
      (err: Error & { code?: string }) => err.code === ERR_UNJUDGED && /1 of 1 objects .*Pod team\/p with kind null.*bug in idgate/.test(err.message),
    );
  });
});
