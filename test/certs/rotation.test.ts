import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createCA, issueCertificate, serviceHosts, type KeyPairPem } from '../../src/certs/generate.ts';
import {
  SECRET_KEYS,
  applyDecision,
  caBundleOf,
  changes,
  decide,
  readState,
  resolvePolicy,
  type RotationPolicy,
  type SecretData,
} from '../../src/certs/rotation.ts';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2030-01-01T00:00:00Z');
const HOSTS = serviceHosts('idgate-webhook', 'idgate-system');
const POLICY: RotationPolicy = resolvePolicy({ caLifetimeMs: 30 * DAY, servingLifetimeMs: 3 * DAY, graceMs: HOUR });

const ca = (at: number, lifetime = POLICY.caLifetimeMs) => createCA({ days: lifetime / DAY, now: new Date(at) });
const leaf = (signer: KeyPairPem, at: number, lifetime = POLICY.servingLifetimeMs, hosts = HOSTS) =>
  issueCertificate(signer, { commonName: hosts[0]!, hosts, days: lifetime / DAY, usage: 'server', now: new Date(at) });
const secret = (c: KeyPairPem | undefined, serving: KeyPairPem | undefined, previous?: KeyPairPem): SecretData => ({
  ...(c ? { [SECRET_KEYS.caCert]: c.cert, [SECRET_KEYS.caKey]: c.key } : {}),
  ...(previous ? { [SECRET_KEYS.previousCA]: previous.cert } : {}),
  ...(serving ? { [SECRET_KEYS.cert]: serving.cert, [SECRET_KEYS.key]: serving.key } : {}),
});

// Shared material (RSA keys take tens of milliseconds each).
const caOld = ca(T0);
const servingOld = leaf(caOld, T0 + 20 * DAY);
const T1 = T0 + 21 * DAY; // caOld has 9 days left: inside its last third (10 days)
const caNew = ca(T1);
const T2 = T1 + 2 * HOUR;
const servingNew = leaf(caNew, T2);
const foreign = ca(T0);

interface Case {
  data: SecretData;
  now: number;
  newCA?: boolean;
  issueServing?: boolean;
  dropPrevious?: boolean;
  keepsPrevious?: string;
  reason?: RegExp;
}

const freshServing = leaf(caOld, T0);
const cases: Record<string, Case> = {
  'empty Secret: a CA and a serving certificate': { data: {}, now: T0, newCA: true, issueServing: true, reason: /no CA/ },
  'fresh pair: nothing to do': { data: secret(caOld, freshServing), now: T0 + HOUR },
  'serving certificate with less than a third of its lifetime left is renewed': {
    data: secret(caOld, freshServing),
    now: T0 + 2.1 * DAY,
    issueServing: true,
    reason: /serving certificate expires/,
  },
  'serving certificate with more than a third left is kept': { data: secret(caOld, freshServing), now: T0 + 1.9 * DAY },
  'expired serving certificate is re-issued': { data: secret(caOld, freshServing), now: T0 + 4 * DAY, issueServing: true, reason: /has expired/ },
  'serving certificate without the Service names is re-issued': {
    data: secret(caOld, leaf(caOld, T0, undefined, ['localhost'])),
    now: T0 + HOUR,
    issueServing: true,
    reason: /lacks a Service name/,
  },
  'serving certificate signed by a foreign CA is re-issued': {
    data: secret(caOld, leaf(foreign, T0)),
    now: T0 + HOUR,
    issueServing: true,
    reason: /not signed by a CA in the bundle/,
  },
  'serving key that does not match is re-issued': {
    data: { ...secret(caOld, freshServing), [SECRET_KEYS.key]: servingOld.key },
    now: T0 + HOUR,
    issueServing: true,
    reason: /no usable serving/,
  },
  'CA key that does not match: new CA, the old certificate kept as previous': {
    data: { ...secret(caOld, freshServing), [SECRET_KEYS.caKey]: foreign.key },
    now: T0 + HOUR,
    newCA: true,
    issueServing: true,
    keepsPrevious: caOld.cert,
    reason: /CA in the Secret is unusable/,
  },
  'a leaf certificate where the CA should be: new CA, and the leaf is not trusted as a previous CA': {
    data: { [SECRET_KEYS.caCert]: freshServing.cert, [SECRET_KEYS.caKey]: freshServing.key },
    now: T0 + HOUR,
    newCA: true,
    issueServing: true,
    reason: /CA in the Secret is unusable/,
  },
  'CA in its last third: new CA, old kept as previous, serving certificate kept for now': {
    data: secret(caOld, servingOld),
    now: T1,
    newCA: true,
    keepsPrevious: caOld.cert,
    reason: /the CA expires/,
  },
  'rotation step 2 waits for the grace period': { data: secret(caNew, servingOld, caOld), now: T1 + 30 * 60 * 1000 },
  'rotation step 2: serving certificate re-issued by the new CA after the grace period': {
    data: secret(caNew, servingOld, caOld),
    now: T1 + HOUR + 1000,
    issueServing: true,
    reason: /re-issued by the new CA/,
  },
  'rotation step 3 waits for the grace period after the re-issue': { data: secret(caNew, servingNew, caOld), now: T2 + 30 * 60 * 1000 },
  'rotation step 3: previous CA dropped once the new serving certificate is old enough': {
    data: secret(caNew, servingNew, caOld),
    now: T2 + HOUR + 1000,
    dropPrevious: true,
    reason: /previous CA is in use/,
  },
  'an expired previous CA is dropped at once': {
    data: secret(caNew, leaf(caNew, T0 + 30.5 * DAY), caOld),
    now: T0 + 31 * DAY,
    dropPrevious: true,
    reason: /previous CA has expired/,
  },
};

describe('decide: what to renew, given the Secret and the clock', () => {
  for (const [name, c] of Object.entries(cases)) {
    it(name, () => {
      const d = decide(readState(c.data, HOSTS), c.now, POLICY);
      assert.equal(d.newCA, c.newCA ?? false, 'newCA');
      assert.equal(d.issueServing, c.issueServing ?? false, 'issueServing');
      assert.equal(d.dropPrevious, c.dropPrevious ?? false, 'dropPrevious');
      assert.equal(d.keepAsPrevious, c.keepsPrevious);
      if (c.reason) assert.match(d.reasons.join('; '), c.reason);
      else assert.deepEqual(d.reasons, []);
    });
  }
});

describe('applyDecision and the bundle', () => {
  it('a CA rotation keeps the serving pair and puts both CAs in the bundle, new first', () => {
    const state = readState(secret(caOld, servingOld), HOSTS);
    const data = applyDecision(state, decide(state, T1, POLICY), { now: T1, hosts: HOSTS, policy: POLICY });
    assert.notEqual(data[SECRET_KEYS.caCert], caOld.cert);
    assert.equal(data[SECRET_KEYS.previousCA], caOld.cert);
    assert.equal(data[SECRET_KEYS.cert], servingOld.cert);
    const bundle = caBundleOf(data);
    assert.ok(bundle.startsWith(data[SECRET_KEYS.caCert]!));
    assert.ok(bundle.includes(caOld.cert.trim()));
  });

  it('a new serving certificate is signed by the current CA, valid for the Service names, for the policy lifetime', () => {
    const state = readState(secret(caOld, freshServing), HOSTS);
    const now = T0 + 2.5 * DAY;
    const data = applyDecision(state, decide(state, now, POLICY), { now, hosts: HOSTS, policy: POLICY });
    const x = new X509Certificate(data[SECRET_KEYS.cert]!);
    assert.ok(x.verify(new X509Certificate(caOld.cert).publicKey));
    assert.equal(Date.parse(x.validTo), Math.floor((now + POLICY.servingLifetimeMs) / 1000) * 1000);
    for (const h of HOSTS) assert.ok(x.subjectAltName!.includes(h), h);
    assert.equal(readState(data, HOSTS).serving?.coversHosts, true);
  });

  it('dropping the previous CA leaves one CA in the bundle', () => {
    const state = readState(secret(caNew, servingNew, caOld), HOSTS);
    const now = T2 + 2 * HOUR;
    const data = applyDecision(state, decide(state, now, POLICY), { now, hosts: HOSTS, policy: POLICY });
    assert.equal(data[SECRET_KEYS.previousCA], undefined);
    assert.equal(caBundleOf(data), caNew.cert.endsWith('\n') ? caNew.cert : `${caNew.cert}\n`);
  });
});

describe('resolvePolicy', () => {
  it('has the documented defaults: 10-year CA, 90-day serving certificate, renew in the last third', () => {
    const p = resolvePolicy();
    assert.deepEqual(p, { caLifetimeMs: 3650 * DAY, servingLifetimeMs: 90 * DAY, renewFraction: 1 / 3, graceMs: 2 * HOUR });
  });
  it('refuses a CA renewal window too short for a serving lifetime and two grace periods', () => {
    assert.throws(() => resolvePolicy({ caLifetimeMs: 9 * DAY, servingLifetimeMs: 3 * DAY }), /must exceed servingLifetimeMs/);
    assert.throws(() => resolvePolicy({ renewFraction: 1 }), /renewFraction/);
  });
});

describe('a hundred simulated days of hourly reconciles', () => {
  it('always serves a certificate trusted by the bundle, and each CA leaves the bundle only after the grace', () => {
    const policy = resolvePolicy({ caLifetimeMs: 30 * DAY, servingLifetimeMs: 3 * DAY, graceMs: 3 * HOUR });
    let data: SecretData = {};
    const cas = new Set<string>();
    let rotations = 0;
    let lastCAChange = -Infinity;
    for (let now = T0; now < T0 + 100 * DAY; now += HOUR) {
      const state = readState(data, HOSTS);
      const d = decide(state, now, policy);
      if (changes(d)) data = applyDecision(state, d, { now, hosts: HOSTS, policy });
      if (d.newCA) {
        rotations++;
        assert.ok(now - lastCAChange > policy.caLifetimeMs / 2, 'a CA lives at least two thirds of its lifetime');
        lastCAChange = now;
      }
      cas.add(data[SECRET_KEYS.caCert]!);
      const after = readState(data, HOSTS);
      // Invariant: the serving certificate is valid now and signed by a CA in the bundle.
      assert.ok(after.serving && after.serving.signer !== 'other' && after.serving.notAfter > now, `serving certificate at ${new Date(now).toISOString()}`);
      assert.ok(after.ca!.notAfter > now);
      // Invariant: a serving certificate from a new CA only appears once the grace has passed since the CA appeared.
      if (d.issueServing && rotations > 1) assert.ok(now - after.ca!.issuedAt >= policy.graceMs || !state.serving);
    }
    assert.equal(rotations, 5, 'one bootstrap CA, then a rotation a little after days 20, 40, 60 and 80');
    assert.equal(cas.size, rotations);
    assert.equal(readState(data, HOSTS).previousCA, undefined, 'the last rotation has finished');
  });
});
