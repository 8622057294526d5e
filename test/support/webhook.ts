/** A real webhook for tests: TLS on an ephemeral loopback port, the example baseline and bindings. */
import { join } from 'node:path';
import { startWebhook, type Webhook, type WebhookOptions } from '../../src/webhook/start.ts';
import { silentLogger } from './logger.ts';

/**
 * Starts `idgate webhook` in-process with `tls.crt`/`tls.key` from `certDir`,
 * examples/baseline.yaml and examples/bindings.yaml; `overrides` replace any of those.
 */
export function startTestWebhook(certDir: string, overrides: Partial<WebhookOptions> = {}): Promise<Webhook> {
  return startWebhook({
    listen: { host: '127.0.0.1', port: 0 },
    configFile: 'examples/baseline.yaml',
    bindingsFile: 'examples/bindings.yaml',
    tlsCert: join(certDir, 'tls.crt'),
    tlsKey: join(certDir, 'tls.key'),
    logger: silentLogger,
    ...overrides,
  });
}
