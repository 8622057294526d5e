/** idgate learns its own username from a SelfSubjectReview. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeApiServer } from '../support/fake-apiserver.ts';
import { loadKubeConfig } from '../../src/kube/config.ts';
import { whoami } from '../../src/kube/whoami.ts';

describe('whoami', () => {
  const cases = [
    { name: "the default: idgate's ServiceAccount", users: undefined, expect: 'system:serviceaccount:idgate-system:idgate' },
    { name: 'whoever the token belongs to', users: { 'fake-token': 'system:serviceaccount:platform:gate' }, expect: 'system:serviceaccount:platform:gate' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const api = await startFakeApiServer(c.users ? { users: c.users } : {});
      try {
        const kc = loadKubeConfig(await api.writeKubeconfig(await mkdtemp(join(tmpdir(), 'idgate-whoami-'))));
        assert.equal(await whoami(kc), c.expect);
        assert.equal(api.requests.at(-1)?.resource, 'authentication.k8s.io/v1/selfsubjectreviews');
      } finally {
        await api.close();
      }
    });
  }

  it('an unknown token fails with a message naming the review', async () => {
    const api = await startFakeApiServer({ users: {} });
    try {
      const kc = loadKubeConfig(await api.writeKubeconfig(await mkdtemp(join(tmpdir(), 'idgate-whoami-'))));
      await assert.rejects(whoami(kc), (err: Error & { status?: number }) => err.status === 401 && /SelfSubjectReview/.test(err.message));
    } finally {
      await api.close();
    }
  });
});
