/** `idgate proxy` on the command line: usage errors name the flag; SIGTERM stops it cleanly. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, get } from 'node:http';
import { createInterface } from 'node:readline';
import { CommanderError } from 'commander';
import { proxyCommand } from '../../src/cli/proxy.ts';
import { exitFor, isCatalogued } from '../../src/errors.ts';

const REQUIRED = ['--upstream', 'http://127.0.0.1:8080', '--issuer', 'https://issuer.example', '--audience', 'api'];

async function parseError(args: string[]): Promise<{ message: string; exit: number }> {
  const cmd = proxyCommand()
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} });
  try {
    await cmd.parseAsync(args, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return { message: err.message, exit: 2 };
    if (isCatalogued(err)) return exitFor(err);
    throw err;
  }
  assert.fail('expected a usage error');
}

describe('idgate proxy usage errors', () => {
  const cases: Array<{ name: string; args: string[]; flag: RegExp }> = [
    { name: 'missing --upstream', args: REQUIRED.slice(2), flag: /--upstream/ },
    { name: 'missing --issuer', args: [...REQUIRED.slice(0, 2), ...REQUIRED.slice(4)], flag: /--issuer/ },
    { name: 'missing --audience', args: REQUIRED.slice(0, 4), flag: /--audience/ },
    { name: 'bad --listen', args: [...REQUIRED, '--listen', 'nowhere'], flag: /--listen/ },
    { name: 'bad --upstream-timeout', args: [...REQUIRED, '--upstream-timeout', 'soon'], flag: /--upstream-timeout/ },
    { name: 'https --upstream', args: ['--upstream', 'https://127.0.0.1:1', ...REQUIRED.slice(2)], flag: /^--upstream: / },
    { name: 'wildcard --skip-paths', args: [...REQUIRED, '--skip-paths', '/public/*'], flag: /^--skip-paths: / },
    { name: 'bad --pass-authorization value', args: [...REQUIRED, '--pass-authorization', 'perhaps'], flag: /--pass-authorization/ },
  ];
  for (const c of cases) {
    it(`${c.name}: exit 2 naming the flag`, async () => {
      const { message, exit } = await parseError(c.args);
      assert.equal(exit, 2);
      assert.match(message, c.flag);
    });
  }
});

/** `idgate proxy` in a child process, configured only by IDGATE_* variables, on an ephemeral port. */
function spawnProxy() {
  const script = `import { proxyCommand } from ${JSON.stringify(new URL('../../src/cli/proxy.ts', import.meta.url).href)};
await proxyCommand().parseAsync([], { from: 'user' });`;
  return spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: {
      ...process.env,
      IDGATE_UPSTREAM: 'http://127.0.0.1:9',
      IDGATE_ISSUER: 'https://issuer.example',
      IDGATE_AUDIENCE: 'api',
      IDGATE_LISTEN: '127.0.0.1:0',
      IDGATE_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

describe('idgate proxy process', () => {
  it('reads flags from IDGATE_* variables, serves /healthz and exits 0 on SIGTERM', async () => {
    const child = spawnProxy();
    try {
      let port = 0;
      for await (const line of createInterface({ input: child.stdout! })) {
        const log = JSON.parse(line) as { msg: string; listen?: { port: number } };
        if (log.msg === 'proxy listening') {
          port = log.listen!.port;
          break;
        }
      }
      assert.ok(port > 0);
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(res.status, 200);
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('answers a keep-alive client that reuses its connection after SIGTERM, with Connection: close', async () => {
    const child = spawnProxy();
    const logged = (msg: string) =>
      new Promise<{ listen?: { port: number } }>((resolve) => {
        const lines = createInterface({ input: child.stdout! });
        lines.on('line', (line) => {
          const log = JSON.parse(line) as { msg: string; listen?: { port: number } };
          if (log.msg === msg) {
            lines.close();
            resolve(log);
          }
        });
      });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const port = (await logged('proxy listening')).listen!.port;
      const healthz = () =>
        new Promise<{ status?: number; connection?: string; reused: boolean }>((resolve, reject) => {
          const req = get({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection, reused: req.reusedSocket }));
          });
          req.on('error', reject);
        });
      assert.equal((await healthz()).status, 200);
      const stopping = logged('shutting down: no new connections, finishing in-flight requests');
      child.kill('SIGTERM');
      await stopping;
      // The connection is idle on the proxy's side and the client sends on it now, as a client
      // between two requests does. Closing idle connections at once reset this request.
      const next = await healthz();
      assert.deepEqual(next, { status: 200, connection: 'close', reused: true });
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0);
    } finally {
      agent.destroy();
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
