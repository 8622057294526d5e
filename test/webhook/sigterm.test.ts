import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type TLSSocket } from 'node:tls';
import { review } from '../support/review.ts';
import { startCli } from '../support/cli.ts';
import { makeCertDir } from '../support/tls.ts';

/** An HTTP/1.1 POST over TLS whose body is sent in two halves, so the request is in flight in between. */
function splitRequest(port: number, ca: string, uid: string) {
  const body = JSON.stringify(review({ uid, name: `pod-${uid}` }));
  const head = `POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  const half = Math.floor(body.length / 2);
  let socket!: TLSSocket;
  const connected = new Promise<void>((resolve, reject) => {
    socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      socket.write(head + body.slice(0, half));
      resolve();
    });
    socket.on('error', reject);
  });
  let raw = '';
  const answered = new Promise<string>((resolve, reject) => {
    socket.on('data', (d) => {
      raw += d;
      const end = raw.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(raw)?.[1];
      if (end >= 0 && length && raw.length >= end + 4 + Number(length)) resolve(raw);
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(raw));
  });
  return { connected, finish: () => socket.write(body.slice(half)), answered };
}

describe('SIGTERM', () => {
  it('answers every in-flight request, refuses new connections and exits 0', async () => {
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
    const port = Number(line.port);
    const uids = Array.from({ length: 20 }, (_, i) => `inflight-${i}`);
    const requests = uids.map((uid) => splitRequest(port, certs.ca.cert, uid));
    await Promise.all(requests.map((r) => r.connected));
    await new Promise((r) => setTimeout(r, 200)); // the server has read every request's headers

    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    // The listener is closed: a new connection is refused.
    await assert.rejects(
      new Promise((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, ca: certs.ca.cert, servername: 'localhost' }, () => resolve(s));
        s.on('error', reject);
      }),
      /ECONNREFUSED|ECONNRESET/,
    );

    for (const r of requests) r.finish();
    const answers = await Promise.all(requests.map((r) => r.answered));
    let answered = 0;
    answers.forEach((raw, i) => {
      assert.match(raw, /^HTTP\/1\.1 200 /, `request ${i} answered 200`);
      // In flight when the server began stopping: the answer tells the client not to reuse the connection.
      assert.match(raw.slice(0, raw.indexOf('\r\n\r\n')), /\r\nConnection: close(\r\n|$)/i, `request ${i} answered with Connection: close`);
      const json = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
      assert.equal(json.response.uid, uids[i]);
      assert.equal(json.response.allowed, true);
      answered++;
    });
    assert.equal(await exited, 0);
    console.log(`SIGTERM: ${answered} of ${uids.length} in-flight requests answered, 0 failed`);
  });
});
