/**
 * The yardstick of bench/bare-server.ts with idgate's server-side features switched on one by
 * one, for bench/features.ts. Usage: node bench/feature-server.ts CERT_DIR PATCH_BYTES FEATURES
 * where FEATURES is a comma-separated subset of: tls (idgate's TLS options), timeouts (its
 * receive limits), drain (src/server/drain.ts's connection tracking), log (the decision log
 * line through src/cli/logger.ts). Prints the port on stdout.
 */
import { createLogger } from '../src/cli/logger.ts';
import { drainable } from '../src/server/drain.ts';
import { CIPHERS } from '../src/webhook/server.ts';
import { bareServer, listenAndReport } from './bare-server.ts';

const [dir = 'certs', patchBytesArg = '1000', featureList = ''] = process.argv.slice(2);
const features = new Set(featureList.split(','));
const logger = createLogger('info');

const server = bareServer(
  dir,
  Number(patchBytesArg),
  {
    ...(features.has('tls') ? { minVersion: 'TLSv1.2' as const, ciphers: CIPHERS } : {}),
    // The values of src/webhook/server.ts's RECEIVE_LIMITS.
    ...(features.has('timeouts') ? { handshakeTimeout: 10_000, headersTimeout: 10_000, requestTimeout: 10_000, connectionsCheckingInterval: 1_000 } : {}),
  },
  features.has('log')
    ? ({ request: r }) => {
        const kind = r.kind as { kind?: string } | undefined;
        const user = r.userInfo as { username?: string } | undefined;
        const line = { webhook: 'mutate', uid: r.uid, kind: kind?.kind, namespace: r.namespace, name: r.name, operation: r.operation, user: user?.username };
        logger.info({ ...line, allowed: true, dryRun: false, durationMs: 0.12 }, 'admission decision');
      }
    : undefined,
);
if (features.has('drain')) drainable(server, 'secureConnection', logger);
listenAndReport(server);
