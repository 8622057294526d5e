/**
 * Fault: identity values that break naive headers (issue 14). Correctly signed tokens whose
 * `sub` or groups hold a comma, non-ASCII text or CRLF must reach the app as exactly the
 * groups the token names (see the encoding in src/proxy/identity.ts), never split into two
 * groups, never a 500; a `sub` that is an array or a number, or values that cannot be encoded,
 * are refused with 401. The app decodes the headers as the README tells apps to.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeGroupsHeader } from '../../src/proxy/identity.ts';
import { captureLogger } from '../support/logger.ts';
import { headerValues, startEchoUpstream, startProxy, type Echo, type Running, type RunningProxy } from '../proxy/helpers.ts';
import { startSigningIssuer, type SigningIssuer } from '../proxy/signing-issuer.ts';

describe('fault: identity values that cannot be written into a header as they are', () => {
  let issuer: SigningIssuer;
  let app: Running & { seen: Echo[] };
  let proxy: RunningProxy;
  const log = captureLogger();

  before(async () => {
    [issuer, app] = await Promise.all([startSigningIssuer(), startEchoUpstream()]);
    proxy = await startProxy({ upstream: app.url, issuers: [issuer.issuer], audiences: ['idgate'] }, { logger: log.logger });
  });
  after(async () => {
    await Promise.all([proxy.close(), app.close(), issuer.close()]);
  });

  const cases: Array<{ name: string; sub: unknown; groups?: unknown; want: { status: 200; subject: string; groups: string[] } | { status: 401 } }> = [
    {
      name: 'comma in a group',
      sub: 'alice',
      groups: ['team-a,cluster-admins', 'readers'],
      want: { status: 200, subject: 'alice', groups: ['team-a,cluster-admins', 'readers'] },
    },
    {
      name: 'non-ASCII subject and group',
      sub: 'José Müller',
      groups: ['équipe-ß', '日本'],
      want: { status: 200, subject: 'José Müller', groups: ['équipe-ß', '日本'] },
    },
    {
      name: 'CRLF in a group (header injection)',
      sub: 'alice',
      groups: ['a\r\nX-Auth-Subject: root'],
      want: { status: 200, subject: 'alice', groups: ['a\r\nX-Auth-Subject: root'] },
    },
    {
      name: 'CRLF in the subject',
      sub: 'alice\r\nX-Auth-Groups: cluster-admins',
      groups: [],
      want: { status: 200, subject: 'alice\r\nX-Auth-Groups: cluster-admins', groups: [] },
    },
    {
      name: 'percent sign and plus (decoded back, not double-decoded)',
      sub: 'a%2Cb+c',
      groups: ['50%'],
      want: { status: 200, subject: 'a%2Cb+c', groups: ['50%'] },
    },
    {
      name: 'Kubernetes-style names stay readable',
      sub: 'system:serviceaccount:shop:web',
      groups: ['/team/admins', 'alice@example.com'],
      want: { status: 200, subject: 'system:serviceaccount:shop:web', groups: ['/team/admins', 'alice@example.com'] },
    },
    { name: 'sub as an array', sub: ['alice', 'root'], want: { status: 401 } },
    { name: 'sub as a number', sub: 42, want: { status: 401 } },
    { name: 'sub empty', sub: '', want: { status: 401 } },
    { name: 'sub as an object', sub: { name: 'root' }, want: { status: 401 } },
    { name: 'groups as a number', sub: 'alice', groups: 7, want: { status: 401 } },
    { name: 'groups holding a non-string', sub: 'alice', groups: ['a', { admin: true }], want: { status: 401 } },
    { name: 'lone surrogate in a group', sub: 'alice', groups: ['\ud800'], want: { status: 401 } },
    { name: 'groups too large for a header', sub: 'alice', groups: Array.from({ length: 1500 }, (_, i) => `g${i}`), want: { status: 401 } },
  ];

  it('forwards each value intact or refuses the token with 401, never splits and never 500s', async () => {
    const counts = { intact: 0, refused401: 0, other: 0 };
    for (const c of cases) {
      const token = await issuer.sign({ sub: c.sub as string, ...(c.groups === undefined ? {} : { groups: c.groups }) });
      const before = app.seen.length;
      const res = await fetch(`${proxy.url}/orders`, { headers: { authorization: `Bearer ${token}` } });
      const body = await res.text();
      if (res.status === 401) counts.refused401++;
      else if (res.status !== 200) counts.other++;
      assert.equal(res.status, c.want.status, `${c.name}: ${body}`);
      if (c.want.status === 401) {
        assert.equal(app.seen.length, before, `${c.name}: the app saw nothing`);
        assert.equal((JSON.parse(body) as { error: string }).error, 'invalid_token', c.name);
        continue;
      }
      const raw = app.seen.at(-1)!.rawHeaders;
      const subjects = headerValues(raw, 'x-auth-subject');
      const groups = headerValues(raw, 'x-auth-groups');
      assert.equal(subjects.length, 1, `${c.name}: one subject header`);
      assert.equal(groups.length, 1, `${c.name}: one groups header`);
      assert.equal(groups[0]!.split(',').filter((g) => g !== '').length, c.want.groups.length, `${c.name}: as many comma-separated items as groups`);
      assert.match(subjects[0]! + groups[0]!, /^[\x21-\x7e]*$/, `${c.name}: visible ASCII only`);
      assert.deepEqual(
        { subject: decodeURIComponent(subjects[0]!), groups: decodeGroupsHeader(groups[0]!) },
        { subject: c.want.subject, groups: c.want.groups },
        c.name,
      );
      counts.intact++;
    }
    assert.equal(counts.other, 0);
    assert.deepEqual(
      log.lines.filter((l) => (l.level as number) >= 50 || JSON.stringify(l).includes('"stack"')),
      [],
      'no errors or stack traces logged',
    );
    console.log(
      `identity encoding: ${cases.length} tokens, ${counts.intact} forwarded intact, ${counts.refused401} refused 401, ${counts.other} other answers`,
    );
  });

  it('a group with a comma does not satisfy --allowed-groups by one of its halves', async () => {
    const strict = await startProxy({ upstream: app.url, issuers: [issuer.issuer], audiences: ['idgate'], allowedGroups: ['cluster-admins'] });
    try {
      const token = await issuer.sign({ sub: 'mallory', groups: ['team-a,cluster-admins'] });
      assert.equal((await fetch(`${strict.url}/x`, { headers: { authorization: `Bearer ${token}` } })).status, 403);
    } finally {
      await strict.close();
    }
  });
});
