/**
 * The webhook's composition root: builds every dependency from validated options and starts
 * the HTTPS server. process.ts builds {@link WebhookOptions} from the command line's config;
 * tests call this directly.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:https';
import type { RequestListener } from 'node:http';
import type { Logger } from 'pino';
import { createFileCertificateSource, type CertificateSource } from '../certs/source.ts';
import type { CertManager } from '../certs/managed.ts';
import { createBaselineStore, type BaselineStore } from '../baseline/store.ts';
import { createValidateHandler } from '../baseline/handler.ts';
import type { JudgedViolation } from '../baseline/evaluate.ts';
import { createFileIdentitySource } from '../identity/file-source.ts';
import type { IdentitySource } from '../identity/source.ts';
import { createMutateHandler } from '../mutate/handler.ts';
import type { ControllerManager } from '../controller/manager.ts';
import type { ControllerMetrics } from '../controller/metrics.ts';
import type { Baseline } from '../config/baseline.ts';
import { VERSION } from '../version.ts';
import { createApp } from './app.ts';
import { createReadiness, type Readiness } from './health.ts';
import { createMetrics, type WebhookMetrics } from './metrics.ts';
import { createWebhookServer } from './server.ts';
import { serve, type Served } from '../server/serve.ts';
import { UsageError } from '../errors.ts';

export interface WebhookOptions {
  readonly listen: { host: string; port: number };
  /** The IdentityBaseline file (hot-reloaded). */
  readonly configFile: string;
  readonly tlsCert: string;
  readonly tlsKey: string;
  readonly clientCaFile?: string;
  /** Bindings from a file; without it, {@link WebhookOptions.kubeIdentity} must be given. */
  readonly bindingsFile?: string;
  /**
   * Builds the Kubernetes identity source (the CLI passes one that loads the kubeconfig), kept
   * behind a factory so this module does not import @kubernetes/client-node.
   */
  readonly kubeIdentity?: () => IdentitySource;
  /**
   * `--manage-certs`: writes tlsCert/tlsKey from the cluster's Secret before the server opens
   * them, then keeps them renewed (src/certs/managed.ts).
   */
  readonly certManager?: CertManager;
  /**
   * The reconcile loops of docs/design.md#identity-controller (`--controllers`), built by the CLI around the same
   * index as `kubeIdentity`; started with the server, stopped (Lease released) on shutdown.
   */
  readonly controllers?: (deps: ControllerDeps) => ControllerManager;
  /** Learns idgate's own username (a SelfSubjectReview); retried until it answers. */
  readonly whoami?: () => Promise<string>;
  /** First retry delay of `whoami`, ms (default 1000, doubling to 30 s). */
  readonly whoamiRetryMs?: number;
  readonly logger: Logger;
}

/** What the webhook hands the controllers. */
export interface ControllerDeps {
  readonly baseline: () => Baseline;
  readonly metrics: ControllerMetrics;
  readonly logger: Logger;
}

export interface Webhook {
  readonly server: Served<Server>;
  readonly readiness: Readiness;
  readonly metrics: WebhookMetrics;
  readonly baseline: BaselineStore;
  readonly identity: IdentitySource;
  readonly controllers: ControllerManager | undefined;
  /** idgate's own username once the SelfSubjectReview answered. */
  selfUsername(): string | undefined;
  /** Readiness false, stop accepting, let in-flight requests finish (at most graceMs), release resources. */
  stop(graceMs: number): Promise<void>;
}

function readOrThrow(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function openBaseline(options: WebhookOptions, metrics: WebhookMetrics, onReloaded: () => void): BaselineStore {
  return createBaselineStore({
    file: options.configFile,
    logger: options.logger,
    onReload: (ok) => {
      metrics.baselineReloads.inc({ result: ok ? 'ok' : 'failed' });
      if (ok) onReloaded();
    },
  });
}

function openCertificates(options: WebhookOptions): CertificateSource {
  try {
    return createFileCertificateSource({ certFile: options.tlsCert, keyFile: options.tlsKey, logger: options.logger });
  } catch (err) {
    throw new UsageError(`--tls-cert/--tls-key: ${(err as Error).message}; create them with 'idgate certs generate --out DIR'`);
  }
}

/** Starts the identity source: a bindings file must load now; the cluster syncs in the background. */
async function openIdentity(options: WebhookOptions): Promise<IdentitySource> {
  const { logger } = options;
  let source: IdentitySource;
  if (options.bindingsFile) {
    source = createFileIdentitySource({ path: options.bindingsFile, logger, watch: true });
    await source.start();
  } else if (options.kubeIdentity) {
    source = options.kubeIdentity();
    // Not awaited: the server answers /healthz at once, /readyz turns true at the first sync,
    // and until then the rules that need identity act as baseline.identity.onUnavailable says.
    source.start().catch((err: unknown) => logger.error({ err }, 'identity source failed to start'));
  } else {
    throw new UsageError('either --bindings-file or a cluster (--kubeconfig, or in-cluster) is needed for identity');
  }
  return source;
}

/** Asks who we are until the API server answers (it may be briefly unreachable at start-up). */
function learnSelfUsername(options: WebhookOptions, set: (username: string) => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let delay = options.whoamiRetryMs ?? 1000;
  const attempt = () => {
    options.whoami?.().then(
      (username) => {
        set(username);
        options.logger.info({ username }, 'learned own username (SelfSubjectReview)');
      },
      (err: unknown) => {
        if (stopped) return;
        options.logger.warn(
          { err: (err as Error).message, retryInMs: delay },
          'cannot learn own username; identity-label changes on running Pods are refused until it is known',
        );
        timer = setTimeout(attempt, delay);
        timer.unref();
        delay = Math.min(delay * 2, 30_000);
      },
    );
  };
  if (options.whoami) attempt();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** The controllers' view of the Prometheus metrics. */
function controllerMetrics(metrics: WebhookMetrics): ControllerMetrics {
  return {
    relabel: (outcome, count = 1) => metrics.relabel.inc({ outcome }, count),
    relabelBatch: (seconds) => metrics.relabelSeconds.observe(seconds),
    leader: (leading) => metrics.leader.set(leading ? 1 : 0),
  };
}

/** The admission app over the identity source and the baseline, counting into `metrics`. */
function buildApp(options: WebhookOptions, parts: AppParts): RequestListener {
  const { logger } = options;
  const { metrics } = parts;
  const deps = { baseline: () => parts.baseline.current(), identity: parts.identity.index, logger };
  const validation = {
    ...deps,
    selfUsername: parts.selfUsername,
    onViolation: (v: JudgedViolation): void => {
      metrics.violations.inc({ rule: v.rule, mode: v.mode });
    },
  };
  return createApp({
    logger,
    metrics,
    readiness: parts.readiness,
    mutate: createMutateHandler({ ...deps, version: VERSION, onOutcome: (result) => metrics.mutationOutcomes.add(result) }),
    validate: createValidateHandler(validation),
    validateIntegrity: createValidateHandler({ ...validation, scope: 'integrity' }),
  });
}

interface AppParts {
  readonly metrics: WebhookMetrics;
  readonly readiness: Readiness;
  readonly baseline: BaselineStore;
  readonly identity: IdentitySource;
  readonly selfUsername: () => string | undefined;
}

/** Serves `app` over HTTPS with `certificates`, asking for client certificates signed by `clientCA`. */
async function listen(
  options: WebhookOptions,
  app: RequestListener,
  certificates: CertificateSource,
  clientCA: string | undefined,
  metrics: WebhookMetrics,
): Promise<Served<Server>> {
  const server = createWebhookServer({
    app,
    certificates,
    ...(clientCA ? { clientCA } : {}),
    logger: options.logger,
    onCertificate: (m) => metrics.certExpiry.set(m.notAfter.getTime() / 1000),
  });
  const served = await serve(server, options.listen, options.logger);
  options.logger.info({ host: served.address.address, port: served.address.port, clientAuth: Boolean(clientCA) }, 'webhook listening');
  return served;
}

export async function startWebhook(options: WebhookOptions): Promise<Webhook> {
  const { logger } = options;
  let identity: IdentitySource | undefined;
  const metrics = createMetrics(undefined, { cacheSynced: () => identity?.index.ready() ?? false });
  const readiness = createReadiness();
  let controllers: ControllerManager | undefined;
  // A new baseline may trust other issuers or exempt other namespaces: every Pod's identity may
  // have changed, so the relabel loop sweeps (a no-op when it has not).
  const baseline = openBaseline(options, metrics, () => controllers?.relabel?.sweep());
  // The manager's first reconcile writes the files the certificate source opens next.
  await options.certManager?.start();
  const certificates = openCertificates(options);
  const clientCA = options.clientCaFile ? readOrThrow(options.clientCaFile, '--client-ca') : undefined;
  const source = await openIdentity(options);
  identity = source;
  readiness.register('tls', () => certificates.current().notAfter.getTime() > Date.now());
  readiness.register('identity-cache', () => source.index.ready());
  let selfUsername: string | undefined;
  const stopWhoami = learnSelfUsername(options, (u) => {
    selfUsername = u;
  });
  const app = buildApp(options, { metrics, readiness, baseline, identity: source, selfUsername: () => selfUsername });
  const server = await listen(options, app, certificates, clientCA, metrics);
  controllers = options.controllers?.({ baseline: () => baseline.current(), metrics: controllerMetrics(metrics), logger });
  controllers?.start();
  return {
    server,
    readiness,
    metrics,
    baseline,
    identity: source,
    controllers,
    selfUsername: () => selfUsername,
    async stop(graceMs) {
      readiness.markShuttingDown();
      stopWhoami();
      // Stepping down releases the Lease at once, so another replica takes over while this one
      // still drains its admission requests.
      await Promise.all([server.stop(graceMs), controllers?.stop()]);
      await options.certManager?.stop();
      certificates.close();
      baseline.close();
      await source.stop();
    },
  };
}
