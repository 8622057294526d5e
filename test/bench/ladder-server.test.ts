/**
 * bench/ladder.ts cites the ladder's rungs as idgate's own layers, so each rung must be the
 * webhook's real admission app: for every benchmark review, the `app`, `server` and `start`
 * rungs of bench/ladder-server.ts answer byte for byte as `idgate webhook` does on the same
 * baseline and bindings file.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SCENARIOS, bindingsYaml } from '../../bench/fixtures.ts';
import { startCli } from '../support/cli.ts';
import { httpsCall, makeCertDir, type CertDir } from '../support/tls.ts';

const LADDER = new URL('../../bench/ladder-server.ts', import.meta.url).pathname;

/** Starts a rung; resolves with its port (the first line of its stdout). */
function startRung(certs: CertDir, bindingsFile: string, rung: string): Promise<{ child: ChildProcessWithoutNullStreams; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LADDER, certs.dir, bindingsFile, rung]);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.once('exit', (code) => reject(new Error(`rung ${rung} exited (${code}): ${stderr}`)));
    child.stdout.once('data', (d) => {
      child.stdout.resume();
      resolve({ child, port: Number(String(d).split('\n')[0]) });
    });
  });
}

async function answers(port: number, ca: string): Promise<string[]> {
  const out: string[] = [];
  for (const { path, body } of Object.values(SCENARIOS)) {
    const res = await httpsCall(port, { ca, method: 'POST', path, body });
    assert.equal(res.status, 200);
    out.push(res.body);
  }
  return out;
}

describe('the ladder of bench/ladder.ts', () => {
  let certs: CertDir;
  let bindingsFile: string;
  let expected: string[];

  before(async () => {
    certs = await makeCertDir();
    bindingsFile = join(certs.dir, 'bindings.yaml');
    await writeFile(bindingsFile, bindingsYaml(50));
    const args = ['webhook', '--config', 'examples/baseline.yaml', '--bindings-file', bindingsFile, '--tls-dir', certs.dir, '--listen', '127.0.0.1:0'];
    const { child, line, exited } = await startCli(args, (l) => l.msg === 'webhook listening');
    try {
      expected = await answers(line.port as number, certs.ca.cert);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    assert.match(expected[0]!, /"patch":"/, 'the small Pod is patched');
  });

  for (const rung of ['app', 'app:warn', 'server', 'start']) {
    it(`rung ${rung} answers every benchmark review as idgate webhook does`, async () => {
      const { child, port } = await startRung(certs, bindingsFile, rung);
      try {
        assert.deepEqual(await answers(port, certs.ca.cert), expected);
      } finally {
        child.removeAllListeners('exit');
        child.kill('SIGTERM');
      }
    });
  }
});
