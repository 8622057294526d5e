/**
 * The 96-stall attack against a real `idgate webhook` process with the Deployment's heap flags:
 * 96 connections each declare a 3 MiB body, send all of it but the last byte, and stall; each
 * one cut or refused is opened again, so the pressure holds for the whole run. Meanwhile
 * well-formed reviews and /healthz must all be answered, and the process's RSS must stay under
 * the Deployment's 256 Mi memory limit. Loopback only.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { parseAllDocuments } from 'yaml';
import { MAIN } from '../support/cli.ts';
import { httpsCall, makeCertDir } from '../support/tls.ts';
import { Agent } from 'node:https';
import { MAX_BODY_BYTES } from '../../src/admission/review.ts';

const ATTACKERS = 96;
/**
 * The attack lasts until the server has cut stalled uploads at its 10 s receive deadline (so
 * both the shedding and the cutting are seen), and no longer than this.
 */
const ATTACK_MAX_MS = 30_000;
const MEMORY_LIMIT_BYTES = 256 * 1024 * 1024;

/** The webhook container's NODE_OPTIONS and memory limit, read from the Deployment itself. */
function deploymentRuntime(): { nodeOptions: string; memoryLimit: string } {
  const docs = parseAllDocuments(readFileSync('manifests/base/deployment.yaml', 'utf8')).map((d) => d.toJS());
  const container = docs.find((d) => d?.kind === 'Deployment')?.spec.template.spec.containers.find((c: { name: string }) => c.name === 'webhook');
  const nodeOptions = container.env.find((e: { name: string }) => e.name === 'NODE_OPTIONS')?.value;
  assert.match(nodeOptions, /--max-old-space-size=\d+/);
  return { nodeOptions, memoryLimit: container.resources.limits.memory };
}

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : 0;
}

const MiB = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MiB`;

describe('webhook under 96 stalled 3 MiB uploads', () => {
  it('keeps answering reviews and /healthz, sheds the excess with 503, cuts stalls, and stays under 256 MiB RSS', async () => {
    const { nodeOptions, memoryLimit } = deploymentRuntime();
    assert.equal(memoryLimit, '256Mi', 'the limit this test holds the webhook to');
    const certs = await makeCertDir();
    const child = spawn(
      process.execPath,
      [MAIN, 'webhook', '--config', 'examples/baseline.yaml', '--bindings-file', 'examples/bindings.yaml', '--tls-dir', certs.dir, '--listen', '127.0.0.1:0'],
      {
        env: { ...process.env, NODE_OPTIONS: nodeOptions },
      },
    );
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // The server logs one line per refused review: read them all (a full pipe would block it).
    const logged = { busy: 0, incomplete: 0 };
    let port = 0;
    let buffered = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const listening = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        buffered += d;
        for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line.includes('"ERR_BUSY"')) logged.busy++;
          else if (line.includes('"ERR_BODY_INCOMPLETE"')) logged.incomplete++;
          else if (line.includes('webhook listening')) {
            port = Number(JSON.parse(line).port);
            resolve();
          }
        }
      });
      void exited.then((code) => reject(new Error(`webhook exited with ${code}: ${stderr}`)));
    });
    await Promise.race([listening, new Promise((_, reject) => setTimeout(() => reject(new Error(`not listening; stderr: ${stderr}`)), 15_000))]).catch(
      async (err) => {
        child.kill('SIGKILL');
        throw err;
      },
    );

    try {
      let peakRss = 0;
      const idleRss = rssBytes(child.pid!);
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssBytes(child.pid!))), 50);

      // Well-formed reviews, as the API server sends them (over a kept-alive connection and over
      // new ones), and the kubelet's liveness probe, each one after another for the whole attack.
      // Paced rather than flat out: the point is that they are answered, and the test shares two
      // cores with the server and with other tests.
      const review = readFileSync('examples/reviews/pod-create.json', 'utf8');
      const uid = JSON.parse(review).request.uid;
      const reviews = { ok: 0, failed: 0, errors: [] as string[] };
      const health = { ok: 0, failed: 0 };
      let attacking = true;
      const paced = async (send: () => Promise<boolean>, counts: { ok: number; failed: number }) => {
        while (attacking) {
          if (await send()) counts.ok++;
          else counts.failed++;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      };
      const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
      const sendReview = (agent?: Agent) => async () => {
        const r = await httpsCall(port, {
          ca: certs.ca.cert,
          method: 'POST',
          path: '/mutate/pods?timeout=5s',
          body: review,
          ...(agent ? { agent } : {}),
        }).catch((err: Error) => err);
        if (r instanceof Error || r.status !== 200 || JSON.parse(r.body).response?.uid !== uid) {
          reviews.errors.push(r instanceof Error ? r.message : `${r.status} ${r.body.slice(0, 200)}`);
          return false;
        }
        return true;
      };
      const probe = async () => (await httpsCall(port, { ca: certs.ca.cert, path: '/healthz' }).catch(() => undefined))?.status === 200;
      const senders = Promise.all([paced(sendReview(keepAlive), reviews), paced(sendReview(), reviews), paced(probe, health)]);

      // The attack: a Content-Length of 3 MiB, then 3 MiB minus one byte of body, then nothing.
      const head = `POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${MAX_BODY_BYTES}\r\n\r\n`;
      const body = Buffer.alloc(MAX_BODY_BYTES - 1, 0x20);
      // Refused uploads mostly see a reset rather than the 503: the server closes while the
      // client is still writing. The server's own log counts every one it shed.
      const attack = { opened: 0, shed503: 0, cut408: 0, closedOtherwise: 0 };
      const attacker = (): Promise<void> =>
        new Promise((resolve) => {
          attack.opened++;
          let answer = '';
          // Written in 64 KiB steps as the socket drains, as a streaming client would (one 3 MiB
          // write is encrypted at once and stalled this process for seconds at the first wave).
          let sent = 0;
          const pump = () => {
            while (sent < body.length && !socket.destroyed) {
              const chunk = body.subarray(sent, sent + 64 * 1024);
              sent += chunk.length;
              if (!socket.write(chunk)) {
                socket.once('drain', pump);
                return;
              }
            }
          };
          const socket = connect({ host: '127.0.0.1', port, ca: certs.ca.cert, servername: 'localhost' }, () => {
            socket.write(head);
            pump();
          });
          socket.on('data', (d) => (answer += d));
          socket.on('error', () => undefined);
          socket.on('close', () => {
            if (answer.startsWith('HTTP/1.1 503')) attack.shed503++;
            else if (answer.startsWith('HTTP/1.1 408')) attack.cut408++;
            else attack.closedOtherwise++;
            resolve();
          });
        });
      // A hostile client need not wait; these wait 1 s (the Retry-After) only to leave the two
      // cores of a test machine to the server rather than to TLS handshakes.
      const slots = Array.from({ length: ATTACKERS }, async () => {
        while (attacking) {
          await attacker();
          if (attacking) await new Promise((r) => setTimeout(r, 1000));
        }
      });
      const started = performance.now();
      const deadline = Date.now() + ATTACK_MAX_MS;
      while (attack.cut408 < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const attackSeconds = ((performance.now() - started) / 1000).toFixed(1);
      attacking = false;
      await senders;
      keepAlive.destroy();
      clearInterval(sampler);
      peakRss = Math.max(peakRss, rssBytes(child.pid!));

      console.log(
        `96-stall attack for ${attackSeconds} s: ${attack.opened} stalled uploads opened; server shed ${logged.busy} with 503 (${attack.shed503} read by the client, ${attack.closedOtherwise} reset),` +
          ` cut ${attack.cut408} with 408 at the receive deadline (server logged ${logged.incomplete} incomplete bodies); reviews ${reviews.ok} answered, ${reviews.failed} failed;` +
          ` /healthz ${health.ok} answered, ${health.failed} failed; RSS ${MiB(idleRss)} idle, ${MiB(peakRss)} peak (limit ${memoryLimit}, NODE_OPTIONS ${nodeOptions})`,
      );
      assert.ok(peakRss < MEMORY_LIMIT_BYTES, `peak RSS ${MiB(peakRss)} under the limit`);
      assert.equal(reviews.failed, 0, reviews.errors.slice(0, 5).join('; '));
      assert.ok(reviews.ok > 0, 'reviews were answered during the attack');
      assert.equal(health.failed, 0);
      assert.ok(health.ok > 0, '/healthz was answered during the attack');
      assert.ok(logged.busy > 0, 'the excess was shed');
      assert.ok(attack.cut408 > 0, 'stalled uploads were cut');

      // The stalled uploads still open close with the process.
      child.kill('SIGKILL');
      await Promise.all(slots);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  });
});
