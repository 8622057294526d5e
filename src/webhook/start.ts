/**
 * The webhook's composition root: builds every dependency from validated options and starts
 * the HTTPS server. The CLI parses flags into {@link WebhookOptions}; tests call this directly.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { createFileCertificateSource } from '../certs/source.ts';
import { allowed } from '../admission/response.ts';
import type { AdmissionHandler } from '../admission/types.ts';
import { createApp } from './app.ts';
import { createReadiness, type Readiness } from './health.ts';
import { createMetrics, type WebhookMetrics } from './metrics.ts';
import { serve, type RunningServer } from './server.ts';

export interface WebhookOptions {
  readonly listen: { host: string; port: number };
  readonly tlsCert: string;
  readonly tlsKey: string;
  readonly clientCaFile?: string;
  readonly logger: Logger;
}

export interface Webhook {
  readonly server: RunningServer;
  readonly readiness: Readiness;
  readonly metrics: WebhookMetrics;
  /** Readiness false, stop accepting, let in-flight requests finish (at most graceMs), release resources. */
  stop(graceMs: number): Promise<void>;
}

/** Thrown for options that cannot work; the CLI exits 2 with this message. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

function readOrThrow(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export async function startWebhook(options: WebhookOptions): Promise<Webhook> {
  const { logger } = options;
  const metrics = createMetrics();
  const readiness = createReadiness();

  let certificates;
  try {
    certificates = createFileCertificateSource({ certFile: options.tlsCert, keyFile: options.tlsKey, logger });
  } catch (err) {
    throw new ConfigError(`--tls-cert/--tls-key: ${(err as Error).message}; create them with 'idgate certs generate --out DIR'`);
  }
  const clientCA = options.clientCaFile ? readOrThrow(options.clientCaFile, '--client-ca') : undefined;
  readiness.register('tls', () => certificates.current().notAfter.getTime() > Date.now());

  const allowAll: AdmissionHandler = () => allowed();
  const app = createApp({ logger, metrics, readiness, mutate: allowAll, validate: allowAll });
  const server = await serve({
    app,
    certificates,
    ...(clientCA ? { clientCA } : {}),
    host: options.listen.host,
    port: options.listen.port,
    logger,
    onCertificate: (m) => metrics.certExpiry.set(m.notAfter.getTime() / 1000),
  });

  return {
    server,
    readiness,
    metrics,
    async stop(graceMs) {
      readiness.markShuttingDown();
      await server.shutdown(graceMs);
      certificates.close();
    },
  };
}
