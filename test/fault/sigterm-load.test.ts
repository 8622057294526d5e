/** SIGTERM while 16 keep-alive clients hammer a real `idgate webhook` process. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startCli } from '../support/cli.ts';
import { makeCertDir } from '../support/tls.ts';
import { startLoad } from '../support/load.ts';
import { eventually } from '../support/eventually.ts';

describe('SIGTERM under load', () => {
  it('answers every request the server accepted, then exits 0', async () => {
    const certs = await makeCertDir();
    const { child, line, exited } = await startCli(
      [
        'webhook',
        '--config',
        'examples/baseline.yaml',
        '--bindings-file',
        'examples/bindings.yaml',
        '--tls-dir',
        certs.dir,
        '--listen',
        '127.0.0.1:0',
        '--shutdown-grace',
        '10s',
      ],
      (l) => l.msg === 'webhook listening',
    );
    const review = readFileSync('examples/reviews/pod-create.json', 'utf8');
    const load = startLoad({
      port: Number(line.port),
      ca: certs.ca.cert,
      path: '/mutate/pods',
      body: review,
      workers: 16,
      keepAlive: (i) => i % 4 !== 0, // mostly keep-alive, some new connections per request
      uid: JSON.parse(review).request.uid,
    });
    // SIGTERM once every worker has been answered a few times, so every connection (keep-alive
    // ones reused) is in use. (This replaced a 1 s sleep and `before > 50`, which failed on a
    // loaded machine with 0 connections dropped: 28 answers in that second.)
    await eventually(() => load.answered.every((n) => n >= 3), 60_000, 'every load worker answered 3 times');
    const before = load.counts.ok;
    child.kill('SIGTERM');
    const counts = await load.finished;
    const code = await exited;
    console.log(
      `SIGTERM under load: ${counts.ok} answered (${before} before the signal), ${counts.refused} refused after the listener closed, ${counts.failed} failed`,
    );
    assert.ok(before >= 16 * 3, 'the load was running');
    assert.equal(counts.failed, 0, counts.errors.slice(0, 5).join('; '));
    assert.equal(code, 0);
  });
});
