/** Leader election's decision, pure: client-go's tryAcquireOrRenew as a table. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_TIMINGS, checkTimings, decideLease, observe, releasedRecord } from '../../src/controller/leader.ts';
import type { LeaseRecord, StoredLease } from '../../src/controller/ports.ts';

const T0 = new Date('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const lease = (holderIdentity: string, rv = '5', extra: Partial<LeaseRecord> = {}): StoredLease => ({
  resourceVersion: rv,
  record: { holderIdentity, leaseDurationSeconds: 15, acquireTime: T0, renewTime: T0, leaseTransitions: 3, ...extra },
});

describe('decideLease', () => {
  const base = { identity: 'me', timings: DEFAULT_TIMINGS };

  it('creates a missing Lease, holding it', () => {
    const d = decideLease({ ...base, current: undefined, observed: undefined, now: T0 });
    assert.equal(d.kind, 'create');
    assert.equal(d.kind === 'create' && d.record.holderIdentity, 'me');
    assert.equal(d.kind === 'create' && d.record.leaseDurationSeconds, 15);
  });

  it('waits while another holder renewed within its lease duration (by the local clock since the change was seen)', () => {
    const current = lease('other');
    const observed = observe(undefined, current, at(0).getTime());
    const d = decideLease({ ...base, current, observed, now: at(14_999) });
    assert.equal(d.kind, 'wait');
    assert.equal(d.kind === 'wait' && d.expiresInMs, 1);
  });

  it('a record never seen before starts the clock now, whatever its renewTime says (clock skew)', () => {
    const current = lease('other', '5', { renewTime: new Date(0) });
    const d = decideLease({ ...base, current, observed: undefined, now: at(60_000) });
    assert.equal(d.kind, 'wait');
  });

  it('takes an expired Lease with its resourceVersion as precondition and counts a transition', () => {
    const current = lease('other');
    const d = decideLease({ ...base, current, observed: observe(undefined, current, at(0).getTime()), now: at(15_000) });
    assert.equal(d.kind, 'update');
    if (d.kind !== 'update') return;
    assert.equal(d.resourceVersion, '5');
    assert.equal(d.record.holderIdentity, 'me');
    assert.equal(d.record.leaseTransitions, 4);
    assert.deepEqual(d.record.acquireTime, at(15_000));
  });

  it('takes a released Lease at once', () => {
    const released = { resourceVersion: '6', record: releasedRecord(lease('other').record, T0) };
    const d = decideLease({ ...base, current: released, observed: observe(undefined, released, T0.getTime()), now: T0 });
    assert.equal(d.kind, 'update');
  });

  it('renews its own Lease keeping acquireTime and transitions', () => {
    const d = decideLease({ ...base, current: lease('me'), observed: undefined, now: at(2000) });
    assert.equal(d.kind, 'update');
    if (d.kind !== 'update') return;
    assert.deepEqual(d.record.acquireTime, T0);
    assert.deepEqual(d.record.renewTime, at(2000));
    assert.equal(d.record.leaseTransitions, 3);
  });

  it('observe restarts the clock only when the resourceVersion changes', () => {
    const first = observe(undefined, lease('other', '5'), 100);
    assert.deepEqual(observe(first, lease('other', '5'), 900), { resourceVersion: '5', at: 100 });
    assert.deepEqual(observe(first, lease('other', '6'), 900), { resourceVersion: '6', at: 900 });
  });

  it('refuses timings under which two leaders could overlap', () => {
    assert.doesNotThrow(() => checkTimings(DEFAULT_TIMINGS));
    assert.throws(() => checkTimings({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 }), /lease duration/);
    assert.throws(() => checkTimings({ leaseDurationMs: 15_000, renewDeadlineMs: 2000, retryPeriodMs: 2000 }), /renew deadline/);
  });
});
