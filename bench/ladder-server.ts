/**
 * Rungs between the yardstick and the whole webhook, for bench/ladder.ts: idgate's admission
 * app (src/webhook/app.ts, with the real handlers, metrics and decision log) served by the
 * yardstick's plain node:https server (`app`), then by idgate's own server module with the
 * default process metrics (`server`), then the composition root, src/webhook/start.ts, with its
 * watches and readiness (`start`). Beyond it the ladder runs the CLI itself.
 *
 *   node bench/ladder-server.ts CERT_DIR BINDINGS_FILE RUNG   (RUNG: app | server | start, :warn for no decision line; prints the port)
 */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import type { RequestListener } from 'node:http';
import { createServer } from 'node:https';
import { join } from 'node:path';
import { loadBaseline } from '../src/baseline/config.ts';
import { createValidateHandler } from '../src/baseline/handler.ts';
import { createFileCertificateSource } from '../src/certs/source.ts';
import { createLogger } from '../src/cli/logger.ts';
import { createFileIdentitySource } from '../src/identity/file-source.ts';
import { createMutateHandler } from '../src/mutate/handler.ts';
import { serve } from '../src/server/serve.ts';
import { VERSION } from '../src/version.ts';
import { createApp } from '../src/webhook/app.ts';
import { createReadiness } from '../src/webhook/health.ts';
import { createMetrics } from '../src/webhook/metrics.ts';
import { createWebhookServer } from '../src/webhook/server.ts';

const [dir = 'certs', bindingsFile = '', rungArg = 'app'] = process.argv.slice(2);
// `app:warn`, `server:warn`: the same rung without the decision line (the logger at warn).
// `app:info:null`: the decision line written in the same batches to /dev/null instead of the
// stdout pipe; `app:info:drop`: built, then dropped.
const [rung, level = 'info', sink = 'stdout'] = rungArg.split(':') as [string, 'info' | 'warn', 'stdout' | 'null' | 'drop'];
const destination = (
  sink === 'null' ? pino.destination({ dest: '/dev/null', sync: true, minLength: 4096 }) : sink === 'drop' ? { write: (_line: string) => {} } : undefined
) as NodeJS.WritableStream | undefined;
// Quiet until the port is printed: bench/ladder.ts reads it from the first line of stdout.
const logger = createLogger('warn', 'idgate', destination);

/** idgate's admission app over the bindings file, as start.ts builds it, without its watches and readiness checks. */
async function admissionApp(): Promise<RequestListener> {
  const baseline = loadBaseline('examples/baseline.yaml');
  const identity = createFileIdentitySource({ path: bindingsFile, logger, watch: false });
  await identity.start();
  const metrics = createMetrics(undefined, { processMetrics: rung !== 'app' });
  const deps = { baseline: () => baseline, identity: identity.index, logger, selfUsername: () => undefined };
  return createApp({
    logger,
    metrics,
    readiness: createReadiness(),
    mutate: createMutateHandler({ ...deps, version: VERSION, onOutcome: (r) => metrics.mutationOutcomes.add(r) }),
    validate: createValidateHandler(deps),
    validateIntegrity: createValidateHandler({ ...deps, scope: 'integrity' }),
  });
}

if (rung === 'start') {
  // The composition root itself (src/webhook/start.ts), as the CLI calls it, without the CLI.
  const { startWebhook } = await import('../src/webhook/start.ts');
  const webhook = await startWebhook({
    listen: { host: '127.0.0.1', port: 0 },
    configFile: 'examples/baseline.yaml',
    tlsCert: join(dir, 'tls.crt'),
    tlsKey: join(dir, 'tls.key'),
    bindingsFile,
    logger,
  });
  process.stdout.write(`${webhook.server.address.port}\n`);
  logger.level = level;
  process.on('SIGTERM', () => process.exit(0));
} else if (rung === 'app') {
  const server = createServer({ cert: readFileSync(join(dir, 'tls.crt')), key: readFileSync(join(dir, 'tls.key')) }, await admissionApp());
  server.keepAliveTimeout = 95_000;
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${(server.address() as { port: number }).port}\n`);
    logger.level = level;
  });
  process.on('SIGTERM', () => process.exit(0));
} else {
  const certificates = createFileCertificateSource({ certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), logger });
  const served = await serve(createWebhookServer({ app: await admissionApp(), certificates, logger }), { host: '127.0.0.1', port: 0 }, logger);
  process.stdout.write(`${served.address.port}\n`);
  logger.level = level;
  process.on('SIGTERM', () => process.exit(0));
}
