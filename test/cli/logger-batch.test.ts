/**
 * The process logger batches its stdout writes (src/cli/logger.ts): no line may be lost or
 * reordered, whether the process exits at once, throws, or stays idle with a line waiting.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { eventually } from '../support/eventually.ts';

const LOGGER = fileURLToPath(new URL('../../src/cli/logger.ts', import.meta.url));

/** Runs `body` in a child with `logger` in scope; collects its stdout lines. */
function child(body: string) {
  const script = `import { createLogger } from ${JSON.stringify(LOGGER)}; const logger = createLogger('info'); ${body}`;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const lines = () =>
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { msg: string; n?: number });
  return { proc, exited, lines };
}

describe('the batched stdout logger', () => {
  it('writes every line, in order, when the process exits right after logging', async () => {
    const c = child(`for (let n = 0; n < 1000; n++) logger.info({ n }, 'decision'); process.exit(0);`);
    assert.equal(await c.exited, 0);
    assert.deepEqual(
      c.lines().map((l) => l.n),
      Array.from({ length: 1000 }, (_, n) => n),
    );
  });

  it('writes the lines logged before an uncaught exception', async () => {
    const c = child(`logger.info('one'); logger.error('two'); setImmediate(() => { throw new Error('boom'); });`);
    assert.equal(await c.exited, 1);
    assert.deepEqual(
      c.lines().map((l) => l.msg),
      ['one', 'two'],
    );
  });

  it('writes a lone line while the process stays idle', async () => {
    const c = child(`logger.info('alone'); setInterval(() => {}, 1000);`);
    try {
      await eventually(() => c.lines().length === 1, 5000, 'the line');
      assert.equal(c.lines()[0]!.msg, 'alone');
    } finally {
      c.proc.kill();
      await c.exited;
    }
  });
});
