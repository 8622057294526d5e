/**
 * `idgate proxy` as a process: the proxy's validated configuration (src/proxy/config.ts) with
 * where to listen, and {@link start}, which builds the proxy and serves it. It lives here, not in
 * proxy/, because proxy/ imports nothing outside itself (test/architecture/cycles.test.ts).
 */
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { ProxyConfig } from '../proxy/config.ts';
import { createProxy } from '../proxy/server.ts';
import { serve, type ListenAddress, type Served } from './serve.ts';

export interface ProxyProcessConfig {
  readonly proxy: ProxyConfig;
  readonly listen: ListenAddress;
  /** How long in-flight requests may take after SIGTERM. */
  readonly shutdownGraceMs: number;
}

/** Starts the proxy `config` describes; `stop(graceMs)` drains it (docs/design.md#shutdown). */
export async function start(config: ProxyProcessConfig, logger: Logger): Promise<Served<Server>> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const served = await serve(createProxy({ config: config.proxy, logger, registry }), config.listen, logger);
  const { proxy } = config;
  logger.info(
    {
      listen: { host: served.address.address, port: served.address.port },
      upstream: proxy.upstream.origin,
      issuers: proxy.issuers,
      audiences: proxy.audiences,
      allowedGroups: proxy.allowedGroups,
      skipPaths: proxy.skipPaths,
    },
    'proxy listening',
  );
  return served;
}
