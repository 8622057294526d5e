/**
 * Fault: identity header spoofing (issue 14). A caller sends its own identity and forwarding
 * headers in every spelling an app server could read as the proxy's: other case, `_` for `-`,
 * duplicates, names listed in `Connection:`, trailers. The app behind the proxy reads headers
 * the way WSGI/CGI do (PEP 3333: `HTTP_` + upper case + `-` → `_`, repeated headers joined with
 * `,`), so `X_Auth_Subject: root` would become HTTP_X_AUTH_SUBJECT; it must see only the
 * proxy's values, whatever the caller sent. The tokens come from the real OIDC provider.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startTestProvider, type TestProvider } from '../support/oidc-provider.ts';
import { listen, startProxy, type Running, type RunningProxy } from '../proxy/helpers.ts';

const AUDIENCE = 'urn:idgate:test-api';

/** The CGI/WSGI environ of a request's headers (RFC 3875 section 4.1.18, PEP 3333). */
function wsgiEnviron(rawHeaders: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const key = `HTTP_${rawHeaders[i]!.toUpperCase().replace(/-/g, '_')}`;
    env[key] = key in env ? `${env[key]},${rawHeaders[i + 1]!}` : rawHeaders[i + 1]!;
  }
  return env;
}

interface Seen {
  environ: Record<string, string>;
  trailers: string[];
}

/** An app that records the environ it would build, and the trailers it received. */
async function startWsgiApp(): Promise<Running & { seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({ environ: wsgiEnviron(req.rawHeaders), trailers: req.rawTrailers });
      res.end('ok');
    });
  });
  return { ...(await listen(server)), seen };
}

/** Sends a raw HTTP/1.1 request and resolves with the status code once the answer arrives. */
function rawStatus(port: number, request: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let data = '';
    socket.on('data', (c: Buffer) => {
      data += c.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (m && data.includes('\r\n\r\n')) {
        socket.destroy();
        resolve(Number(m[1]));
      }
    });
    socket.on('error', reject);
  });
}

describe('fault: identity headers in every spelling a server could read', () => {
  let idp: TestProvider;
  let app: Running & { seen: Seen[] };
  let proxy: RunningProxy;
  let token: string;

  before(async () => {
    [idp, app] = await Promise.all([startTestProvider(), startWsgiApp()]);
    proxy = await startProxy({ upstream: app.url, issuers: [idp.issuer], audiences: [AUDIENCE], skipPaths: ['/ready'] });
    token = await idp.token('payments-api');
  });
  after(async () => {
    await Promise.all([proxy.close(), app.close(), idp.close()]);
  });

  const forged = 'root';
  const cases: Array<{ name: string; path?: string; headers: string[]; body?: string }> = [
    { name: 'other case', headers: ['x-AUTH-subject: root', 'X-AUTH-GROUPS: root'] },
    { name: '`_` for `-`', headers: ['X_Auth_Subject: root', 'x_auth_groups: root'] },
    { name: '`_` and `-` mixed', headers: ['X-Auth_Subject: root', 'X_Auth-Groups: root'] },
    { name: 'duplicates', headers: ['X-Auth-Subject: root', 'X-Auth-Subject: root', 'X-Auth-Groups: root', 'X-Auth-Groups: root'] },
    {
      name: "named in Connection (to strip the proxy's own copy downstream)",
      headers: ['Connection: keep-alive, X-Auth-Subject, X-Auth-Groups, X-Forwarded-For', 'X-Auth-Subject: root'],
    },
    { name: '`_` spelling named in Connection', headers: ['Connection: X_Auth_Subject', 'X_Auth_Subject: root'] },
    {
      name: 'trailers',
      headers: ['Transfer-Encoding: chunked', 'Trailer: X-Auth-Subject, X-Auth-Groups'],
      body: '2\r\nhi\r\n0\r\nX-Auth-Subject: root\r\nX-Auth-Groups: root\r\n\r\n',
    },
    {
      name: 'forwarding headers',
      headers: [
        'X-Forwarded-For: root',
        'X_Forwarded_For: root',
        'Forwarded: for=root',
        'X-Forwarded-Host: root',
        'X-Forwarded-Proto: root',
        'X-Real-IP: root',
      ],
    },
    {
      name: "other proxies' identity headers",
      headers: ['X-Forwarded-User: root', 'X-Auth-Request-User: root', 'X-Remote-User: root', 'Remote-User: root', 'X_Remote_Group: root'],
    },
    { name: 'on a skip path (no identity set at all)', path: '/ready', headers: ['X_Auth_Subject: root', 'X-Auth-Subject: root', 'x-forwarded-for: root'] },
  ];

  it("the app sees only the proxy's identity and forwarding headers", async () => {
    let clean = 0;
    for (const c of cases) {
      const before = app.seen.length;
      const path = c.path ?? '/orders';
      const status = await rawStatus(
        proxy.port,
        [
          `${c.body ? 'POST' : 'GET'} ${path} HTTP/1.1`,
          'Host: app.local',
          ...(path === '/ready' ? [] : [`Authorization: Bearer ${token}`]),
          ...c.headers,
          ...(c.body ? [] : ['Content-Length: 0']),
          '',
          c.body ?? '',
        ].join('\r\n'),
      );
      assert.equal(status, 200, c.name);
      assert.equal(app.seen.length, before + 1, c.name);
      const { environ, trailers } = app.seen.at(-1)!;
      const want =
        path === '/ready'
          ? { HTTP_X_AUTH_SUBJECT: undefined, HTTP_X_AUTH_GROUPS: undefined }
          : { HTTP_X_AUTH_SUBJECT: 'payments-api', HTTP_X_AUTH_GROUPS: 'payments,readers' };
      assert.deepEqual({ HTTP_X_AUTH_SUBJECT: environ.HTTP_X_AUTH_SUBJECT, HTTP_X_AUTH_GROUPS: environ.HTTP_X_AUTH_GROUPS }, want, c.name);
      assert.equal(environ.HTTP_X_FORWARDED_FOR, '127.0.0.1', `${c.name}: X-Forwarded-For is the peer`);
      assert.equal(environ.HTTP_X_FORWARDED_PROTO, 'http', c.name);
      assert.equal(environ.HTTP_X_FORWARDED_HOST, 'app.local', c.name);
      assert.equal(environ.HTTP_AUTHORIZATION, undefined, `${c.name}: the token stays with the proxy`);
      const leaked = Object.entries(environ).filter(([, v]) => v.includes(forged));
      assert.deepEqual(leaked, [], `${c.name}: nothing the caller forged reaches the app`);
      assert.deepEqual(trailers, [], `${c.name}: no trailers reach the app`);
      clean++;
    }
    console.log(`identity headers: ${cases.length} forged variants sent, ${clean} reached the app with only the proxy's values`);
  });
});
