/** Shared pieces of the proxy tests: a silent proxy on 127.0.0.1:0 and an echoing upstream. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { buildProxyConfig, type ProxyConfigInput } from '../../src/proxy/config.ts';
import { createProxy, type ProxyDeps } from '../../src/proxy/server.ts';

/** A listening server and how to reach and close it. */
export interface Running {
  readonly url: string;
  readonly port: number;
  readonly server: http.Server;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:0; `close` also ends keep-alive connections so tests do not hang. */
export async function listen(server: http.Server): Promise<Running> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A running proxy with its own metrics Registry. */
export interface RunningProxy extends Running {
  readonly registry: Registry;
  /** The value of one sample of a metric, e.g. metric('idgate_proxy_requests_total', { decision: 'allowed' }). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

/** Starts a proxy with a silent logger and its own Registry. */
export async function startProxy(input: ProxyConfigInput, deps: Partial<Omit<ProxyDeps, 'config'>> = {}): Promise<RunningProxy> {
  const registry = new Registry();
  const server = createProxy({ config: buildProxyConfig(input), logger: pino({ level: 'silent' }), registry, ...deps });
  const running = await listen(server);
  return {
    ...running,
    registry,
    async metric(name, labels = {}) {
      const m = await registry.getSingleMetric(name)?.get();
      const sample = m?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
      return sample?.value ?? 0;
    },
  };
}

/** What the echo upstream saw of a request. */
export interface Echo {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: string[];
  readonly bodyBytes: number;
}

/** An upstream that answers every request with a JSON description of it. */
export async function startEchoUpstream(): Promise<Running & { seen: Echo[] }> {
  const seen: Echo[] = [];
  const server = http.createServer((req, res) => {
    let bodyBytes = 0;
    req.on('data', (c: Buffer) => (bodyBytes += c.length));
    req.on('end', () => {
      const echo = { method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, bodyBytes };
      seen.push(echo);
      res.writeHead(200, { 'content-type': 'application/json', connection: 'x-internal', 'x-internal': 'hop', 'set-cookie': ['a=1', 'b=2'] });
      res.end(JSON.stringify(echo));
    });
  });
  return { ...(await listen(server)), seen };
}

/** Header values (case-insensitive name) in a raw header list. */
export function headerValues(raw: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!);
  return out;
}
