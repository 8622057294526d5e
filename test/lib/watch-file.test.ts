/** The one file watcher (src/lib/watch-file.ts): settle, keep the last good, report each content once. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createReloader, readSettled, UnsettledError, watchFiles, type WatchFailure } from '../../src/lib/watch-file.ts';
import { eventually } from '../support/eventually.ts';

describe('lib/watch-file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'idgate-watch-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** A reloader of `file` whose values are the file's numbers; parse rejects anything else. */
  function numbers(file: string) {
    const applied: number[] = [];
    const failures: WatchFailure['reason'][] = [];
    const reloader = createReloader({
      files: [file],
      settleMs: 10,
      parse: ([text]) => {
        const n = Number(text);
        if (!Number.isInteger(n)) throw new Error(`not a number: ${text}`);
        return n;
      },
      apply: (n) => applied.push(n),
      onError: (f) => failures.push(f.reason),
    });
    return { reloader, applied, failures };
  }

  it('applies valid content once, and keeps the last good value on empty or invalid content, reporting each once', async () => {
    const file = join(dir, 'n.txt');
    await writeFile(file, '1');
    const { reloader, applied, failures } = numbers(file);
    assert.equal(await reloader.reload(), true);
    assert.equal(await reloader.reload(), true, 'unchanged content is still in force');
    assert.deepEqual(applied, [1]);

    await writeFile(file, '');
    assert.equal(await reloader.reload(), false);
    await writeFile(file, 'x');
    assert.equal(await reloader.reload(), false);
    assert.equal(await reloader.reload(), false, 'the same rejected content again');
    assert.deepEqual(failures, ['empty', 'invalid']);
    assert.deepEqual(applied, [1]);

    await writeFile(file, '2');
    assert.equal(await reloader.reload(), true);
    assert.deepEqual(applied, [1, 2]);
    await reloader.close();
  });

  it('reports an unreadable file and applies nothing', async () => {
    const { reloader, applied, failures } = numbers(join(dir, 'missing.txt'));
    assert.equal(await reloader.reload(), false);
    assert.deepEqual(failures, ['unreadable']);
    assert.deepEqual(applied, []);
  });

  it('seeded content is not applied again', async () => {
    const file = join(dir, 'seeded.txt');
    await writeFile(file, '7');
    const { reloader, applied } = numbers(file);
    reloader.seed(['7']);
    assert.equal(await reloader.reload(), true);
    assert.deepEqual(applied, []);
  });

  it('readSettled waits out a writer and gives up on one that never stops', async () => {
    const file = join(dir, 'busy.txt');
    await writeFile(file, 'a');
    assert.deepEqual(await readSettled([file], 5), ['a']);
    const handle = await open(file, 'w');
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        await handle.write(String(i % 10));
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    try {
      await assert.rejects(readSettled([file], 50, undefined, 3), (err: unknown) => err instanceof UnsettledError && err.waitedMs === 150);
    } finally {
      writing = false;
      await writer;
      await handle.close();
    }
  });

  it('watchFiles applies a change noticed by the directory watch or the poll', async () => {
    const file = join(dir, 'watched.txt');
    await writeFile(file, '1');
    const applied: number[] = [];
    const watcher = watchFiles({
      files: [file],
      initial: ['1'],
      settleMs: 10,
      debounceMs: 10,
      pollMs: 50,
      parse: ([text]) => Number(text),
      apply: (n) => applied.push(n),
      onError: () => {},
    });
    try {
      await writeFile(file, '3');
      await eventually(() => applied.includes(3), 5000, 'the new value');
      assert.deepEqual(applied, [3]);
    } finally {
      await watcher.close();
    }
  });
});
