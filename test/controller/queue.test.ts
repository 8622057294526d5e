/** The work queue and the token bucket. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket, WorkQueue, type WorkResult } from '../../src/controller/queue.ts';

describe('WorkQueue', () => {
  it('collapses repeated adds of a waiting key and never runs one key twice at once', async () => {
    const runs: string[] = [];
    let concurrent = 0;
    let maxSameKey = 0;
    const q = new WorkQueue(
      async (key) => {
        concurrent++;
        maxSameKey = Math.max(maxSameKey, concurrent);
        runs.push(key);
        await new Promise((r) => setTimeout(r, 10));
        concurrent--;
        return 'done';
      },
      { workers: 4 },
    );
    for (let i = 0; i < 5; i++) q.add('a');
    await new Promise((r) => setTimeout(r, 2));
    q.add('a'); // while running: runs once more after
    q.add('a');
    await q.idle();
    assert.deepEqual(runs, ['a', 'a']);
    assert.equal(maxSameKey, 1);
  });

  it('retries a failing key with growing delays, then forgets its failures', async () => {
    const times: number[] = [];
    let left = 3;
    const q = new WorkQueue(
      async (): Promise<WorkResult> => {
        times.push(performance.now());
        return left-- > 0 ? 'retry' : 'done';
      },
      { backoffMs: { initial: 10, max: 1000 } },
    );
    q.add('k');
    await q.idle();
    assert.equal(times.length, 4);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    console.log(`retry gaps (ms): ${gaps.map((g) => g.toFixed(0)).join(', ')}`);
  });

  it('a worker that throws is retried, and stop() drops what waits', async () => {
    let calls = 0;
    const errors: string[] = [];
    const q = new WorkQueue(
      async () => {
        calls++;
        if (calls === 1) throw new Error('bug');
        return 'done';
      },
      { backoffMs: { initial: 5, max: 5 }, onError: (k) => errors.push(k) },
    );
    q.add('x');
    await q.idle();
    assert.equal(calls, 2);
    assert.deepEqual(errors, ['x']);
    await q.stop();
    q.add('y');
    await q.idle();
    assert.equal(calls, 2);
  });
});

describe('TokenBucket', () => {
  it('lets a burst through, then only as the clock refills it', async () => {
    let clock = 0;
    const bucket = new TokenBucket(100, 5, () => clock);
    for (let i = 0; i < 5; i++) await bucket.take();
    let sixth = false;
    const pending = bucket.take().then(() => {
      sixth = true;
    });
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(sixth, false, 'no token without time passing');
    clock += 10; // 100/s: one token per 10 ms
    await pending;
    assert.equal(sixth, true);
  });
});

describe('WorkQueue superseding', () => {
  it('an add drops the retry scheduled for the same key', async () => {
    let calls = 0;
    const q = new WorkQueue(async (): Promise<WorkResult> => (++calls === 1 ? 'retry' : 'done'), { backoffMs: { initial: 200, max: 200 } });
    q.add('k');
    await new Promise((r) => setTimeout(r, 20)); // failed once; a retry is scheduled in 200 ms
    q.add('k'); // runs now instead
    await q.idle();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(calls, 2);
  });
});
