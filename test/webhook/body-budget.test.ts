/** Bodies read at once are bounded in number and bytes; the excess gets a fast 503 with Retry-After. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { createApp } from '../../src/webhook/app.ts';
import { createMetrics } from '../../src/webhook/metrics.ts';
import { createReadiness } from '../../src/webhook/health.ts';
import { BodyBudget, BODY_LIMITS, type BodyLimits } from '../../src/admission/body.ts';
import { allowed } from '../../src/admission/response.ts';
import { review } from '../support/review.ts';
import { silentLogger } from '../support/logger.ts';
import { eventually } from '../support/eventually.ts';

describe('BodyBudget.admits', () => {
  const limits: BodyLimits = { reads: 3, bytes: 1000, largeBytes: 600, largeBody: 100 };
  const cases: Array<[string, { reads: number; bytes: number; largeBytes: number }, number, boolean]> = [
    ['empty budget, small body', { reads: 0, bytes: 0, largeBytes: 0 }, 50, true],
    ['empty budget, large body', { reads: 0, bytes: 0, largeBytes: 0 }, 600, true],
    ['large body past the large share', { reads: 1, bytes: 500, largeBytes: 500 }, 101, false],
    ['small body while large ones hold their whole share', { reads: 2, bytes: 600, largeBytes: 600 }, 100, true],
    ['small body past all bytes', { reads: 2, bytes: 950, largeBytes: 600 }, 51, false],
    ['exactly all bytes', { reads: 2, bytes: 950, largeBytes: 600 }, 50, true],
    ['too many reads, however small', { reads: 3, bytes: 3, largeBytes: 0 }, 1, false],
  ];
  for (const [name, state, size, admits] of cases) {
    it(name, () => {
      const budget = Object.assign(new BodyBudget(limits), state);
      assert.equal(budget.admits(size), admits);
    });
  }

  it('the default limits keep room for small reviews when large ones hold all theirs', () => {
    const budget = new BodyBudget();
    let large = 0;
    while (large < 100 && budget.take(3 * 1024 * 1024)) large++;
    assert.equal(large, BODY_LIMITS.largeBytes / (3 * 1024 * 1024));
    let small = 0;
    while (small < 200 && budget.take(4096)) small++;
    assert.equal(small, 200, 'two hundred 4 KB reviews (one API server at its mutating in-flight limit) still fit');
  });
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function post(port: number, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/validate',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A request that declares `length` bytes, sends `sent` of them and stalls. */
function stall(port: number, length: number, sent: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n${'{'.padEnd(sent, ' ')}`);
      resolve(socket);
    });
    socket.on('error', () => undefined);
    socket.once('error', reject);
  });
}

async function listen(budget: BodyBudget): Promise<{ server: Server; port: number }> {
  const metrics = createMetrics(undefined, { processMetrics: false });
  const app = createApp({
    logger: silentLogger,
    metrics,
    readiness: createReadiness(),
    mutate: () => allowed(),
    validate: () => allowed(),
    validateIntegrity: () => allowed(),
    bodyBudget: budget,
  });
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

function close(server: Server): void {
  server.closeAllConnections();
  server.close();
}

describe('admission routes under a body budget (real HTTP on loopback)', () => {
  it('answers the excess with 503, Retry-After and Connection: close; small reviews still pass; stalled reads give their room back when cut', async () => {
    const budget = new BodyBudget({ reads: 4, bytes: 20_000, largeBytes: 10_000, largeBody: 4_000 });
    const { server, port } = await listen(budget);
    after(() => close(server));
    const small = JSON.stringify(review({ uid: 'small' }));
    const large = [await stall(port, 5_000, 100), await stall(port, 5_000, 100)];
    await eventually(() => budget.largeBytes === 10_000, 2000, 'both large reads to be admitted');
    const refused = await post(port, JSON.stringify(review({ uid: 'big', object: { pad: 'x'.repeat(6_000) } })));
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['retry-after'], '1');
    assert.equal(refused.headers.connection, 'close');
    assert.equal(JSON.parse(refused.body).error.code, 'ERR_BUSY');
    // The large share is spent, the small share is not.
    const ok = await post(port, small);
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.body).response.uid, 'small');

    const smallStalls = [await stall(port, 500, 10), await stall(port, 500, 10)];
    await eventually(() => budget.reads === 4, 2000, 'four reads in progress');
    const tooMany = await post(port, small);
    assert.equal(tooMany.status, 503, 'the count is bounded too');
    console.log(
      `body budget: 4 stalled reads held ${budget.bytes} bytes; a large and a fifth small review shed with 503, a small review answered while the large share was spent`,
    );

    for (const s of [...large, ...smallStalls]) s.destroy();
    await eventually(() => budget.reads === 0 && budget.bytes === 0 && budget.largeBytes === 0, 2000, 'every cut read to give its room back');
    assert.equal((await post(port, small)).status, 200);
  });

  it('gives the room back after a 200, a 400 and a 413 (a chunked body past 3 MiB)', async () => {
    const budget = new BodyBudget();
    const { server, port } = await listen(budget);
    after(() => close(server));
    assert.equal((await post(port, JSON.stringify(review()))).status, 200);
    assert.equal((await post(port, '{not json')).status, 400);
    const status = await new Promise<number>((resolve) => {
      const req = request(
        { host: '127.0.0.1', port, method: 'POST', path: '/validate', agent: false, headers: { 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', () => resolve(-1)); // the server may close before every chunk is written
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      for (let i = 0; i < 4; i++) req.write(chunk);
      req.end();
    });
    assert.ok(status === 413 || status === -1, `a chunked 4 MiB body is refused (${status})`);
    await eventually(() => budget.reads === 0 && budget.bytes === 0 && budget.largeBytes === 0, 2000, 'nothing held');
  });
});
