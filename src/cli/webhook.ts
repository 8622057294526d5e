/** `idgate webhook`: the admission server. */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { LevelWithSilent } from 'pino';
import { ConfigError, startWebhook } from '../webhook/start.ts';
import type { CertManager, WebhookConfigRef } from '../certs/managed.ts';
import { loadKube } from './kube.ts';
import { UsageError } from './errors.ts';
import { LOG_LEVELS, createLogger } from './logger.ts';
import { option, parseDuration, parseListen } from './options.ts';
import { ObservedBindingIndex } from '../controller/index-events.ts';
import { CONTROLLER_NAMES, createControllerManager, type ControllerName } from '../controller/manager.ts';

interface WebhookFlags {
  config?: string;
  listen: { host: string; port: number };
  tlsDir?: string;
  tlsCert?: string;
  tlsKey?: string;
  clientCa?: string;
  kubeconfig?: string;
  bindingsFile?: string;
  manageCerts?: boolean;
  certSecret?: { namespace: string; name: string };
  webhookConfigs?: WebhookConfigRef[];
  service: string;
  logLevel: LevelWithSilent;
  shutdownGrace: number;
  controllers: ControllerName[];
  namespace?: string;
}

/** `default-deny,relabel`, a subset, or `none` (--controllers). */
export function parseControllers(value: string): ControllerName[] {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length === 1 && names[0] === 'none') return [];
  const unknown = names.filter((n) => !(CONTROLLER_NAMES as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(`expected a comma list of ${CONTROLLER_NAMES.join(', ')}, or none; got "${value}"`);
  }
  return [...new Set(names)] as ControllerName[];
}

/** Where a Pod finds its own namespace (the ServiceAccount volume every Pod mounts by default). */
export const IN_CLUSTER_NAMESPACE_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** --namespace's default: the Pod's own namespace, else idgate-system (the manifests' namespace). */
export function defaultNamespace(path = IN_CLUSTER_NAMESPACE_PATH): string {
  try {
    const ns = readFileSync(path, 'utf8').trim();
    if (ns !== '') return ns;
  } catch {
    // Not in a Pod (or the token is not mounted): the manifests' namespace.
  }
  return 'idgate-system';
}

/** `NS/NAME` (--cert-secret). */
function parseSecretRef(value: string): { namespace: string; name: string } {
  const m = /^([a-z0-9-]+)\/([a-z0-9.-]+)$/.exec(value);
  if (!m) throw new InvalidArgumentError(`expected NAMESPACE/NAME (e.g. idgate-system/idgate-webhook-tls), got "${value}"`);
  return { namespace: m[1]!, name: m[2]! };
}

/** `MUTATING,VALIDATING` (--webhook-configs); an empty name skips that kind. */
function parseWebhookConfigs(value: string): WebhookConfigRef[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.length !== 2 || parts.every((p) => p === '')) {
    throw new InvalidArgumentError(`expected MUTATING,VALIDATING configuration names (e.g. idgate,idgate), got "${value}"`);
  }
  const [mutating, validating] = parts as [string, string];
  return [...(mutating ? [{ kind: 'mutating' as const, name: mutating }] : []), ...(validating ? [{ kind: 'validating' as const, name: validating }] : [])];
}

export function webhookCommand(): Command {
  return new Command('webhook')
    .description('serve the mutating and validating admission webhooks over HTTPS')
    .addOption(option('--config <file>', 'IdentityBaseline file (hot-reloaded)'))
    .addOption(option('--listen <host:port>', 'address to listen on').argParser(parseListen).default({ host: '0.0.0.0', port: 8443 }, '0.0.0.0:8443'))
    .addOption(option('--tls-dir <dir>', 'directory holding tls.crt and tls.key').conflicts(['tlsCert', 'tlsKey']))
    .addOption(option('--tls-cert <file>', 'serving certificate (PEM)'))
    .addOption(option('--tls-key <file>', 'serving key (PEM)'))
    .addOption(option('--client-ca <file>', "require a client certificate signed by this CA (the API server's)"))
    .addOption(option('--kubeconfig <file>', 'kubeconfig (default: in-cluster)'))
    .addOption(option('--bindings-file <file>', 'OIDCGroupBindings from a YAML file instead of the cluster'))
    .addOption(option('--manage-certs', 'keep the CA and serving certificate in --cert-secret, write them to --tls-dir, set caBundle in --webhook-configs'))
    .addOption(option('--cert-secret <ns/name>', 'Secret holding the managed CA and serving certificate').argParser(parseSecretRef))
    .addOption(option('--webhook-configs <mutating,validating>', 'webhook configurations whose caBundle is managed').argParser(parseWebhookConfigs))
    .addOption(option('--service <name>', "the webhook's Service (in --cert-secret's namespace), for the certificate's names").default('idgate-webhook'))
    .addOption(option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .addOption(
      option('--controllers <list>', 'reconcile loops to run while this replica leads: default-deny,relabel, a subset, or none')
        .argParser(parseControllers)
        .default([...CONTROLLER_NAMES], CONTROLLER_NAMES.join(',')),
    )
    .addOption(option('--namespace <ns>', "namespace of the controllers' leader-election Lease (default: the webhook's own, else idgate-system)"))
    .addOption(option('--shutdown-grace <duration>', 'how long in-flight requests may take after SIGTERM').argParser(parseDuration).default(20_000, '20s'))
    .action(async (flags: WebhookFlags) => {
      const tlsCert = flags.tlsCert ?? (flags.tlsDir ? join(flags.tlsDir, 'tls.crt') : undefined);
      const tlsKey = flags.tlsKey ?? (flags.tlsDir ? join(flags.tlsDir, 'tls.key') : undefined);
      if (!tlsCert || !tlsKey) throw new UsageError('--tls-dir or both --tls-cert and --tls-key are required');
      if (!flags.config) throw new UsageError('--config FILE (the IdentityBaseline) is required');
      if (flags.manageCerts) {
        if (!flags.tlsDir) throw new UsageError('--manage-certs writes the certificate files into --tls-dir DIR: set it (not --tls-cert/--tls-key)');
        if (!flags.certSecret) throw new UsageError('--manage-certs needs --cert-secret NAMESPACE/NAME');
        if (!flags.webhookConfigs) throw new UsageError('--manage-certs needs --webhook-configs MUTATING,VALIDATING');
      } else if (flags.certSecret || flags.webhookConfigs) {
        throw new UsageError('--cert-secret and --webhook-configs only apply with --manage-certs');
      }
      const logger = createLogger(flags.logLevel);
      const kubeconfig = flags.kubeconfig;
      const kube = flags.bindingsFile && !flags.manageCerts ? undefined : await loadKube();
      let webhook;
      try {
        let certManager: CertManager | undefined;
        if (kube && flags.manageCerts && flags.tlsDir && flags.certSecret && flags.webhookConfigs) {
          // Loaded only here: certificate generation brings node-forge (its sources alone stay
          // on the heap), which a webhook serving mounted certificates never uses.
          const [{ createCertManager }, { serviceHosts }] = await Promise.all([import('../certs/managed.ts'), import('../certs/generate.ts')]);
          certManager = createCertManager({
            api: kube.createKubeCertsApi({ kubeConfig: kube.loadKubeConfig(kubeconfig), secret: flags.certSecret }),
            tlsDir: flags.tlsDir,
            hosts: serviceHosts(flags.service, flags.certSecret.namespace),
            webhookConfigs: flags.webhookConfigs,
            logger,
          });
        }
        // The controllers hang off the identity source's index (its events), so both share one.
        // With --bindings-file they do not run (docs/design.md#identity-controller): they reconcile the cluster's
        // bindings, which that webhook does not read.
        const index = new ObservedBindingIndex();
        const clusterIdentity = kube !== undefined && !flags.bindingsFile;
        const controllerKube = clusterIdentity && flags.controllers.length > 0 ? await import('../kube/controller-apis.ts') : undefined;
        const whoami = kube ? (await import('../kube/whoami.ts')).whoami : undefined;
        webhook = await startWebhook({
          listen: flags.listen,
          configFile: flags.config,
          ...(flags.bindingsFile ? { bindingsFile: flags.bindingsFile } : {}),
          ...(kube && clusterIdentity
            ? { kubeIdentity: () => kube.createKubeIdentitySource({ kubeConfig: kube.loadKubeConfig(kubeconfig), logger, index }) }
            : {}),
          ...(kube && whoami ? { whoami: () => whoami(kube.loadKubeConfig(kubeconfig)) } : {}),
          ...(kube && controllerKube
            ? {
                controllers: (deps) =>
                  createControllerManager({
                    ...deps,
                    enabled: flags.controllers,
                    index,
                    apis: controllerKube.createControllerApis({
                      kubeConfig: kube.loadKubeConfig(kubeconfig),
                      namespace: flags.namespace ?? defaultNamespace(),
                      logger,
                    }),
                    // client-go's convention for holder identities: hostname (the Pod name) and a UUID.
                    identity: `${hostname()}_${randomUUID()}`,
                  }),
              }
            : {}),
          tlsCert,
          tlsKey,
          ...(flags.clientCa ? { clientCaFile: flags.clientCa } : {}),
          ...(certManager ? { certManager } : {}),
          logger,
        });
      } catch (err) {
        if (err instanceof ConfigError) throw new UsageError(err.message);
        if (kube && err instanceof kube.KubeConfigError) throw new UsageError(`--kubeconfig: ${err.message}`);
        throw err;
      }
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal, graceMs: flags.shutdownGrace }, 'shutting down: readiness off, finishing in-flight requests');
        await webhook.stop(flags.shutdownGrace);
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      };
      process.once('SIGTERM', () => void stop('SIGTERM'));
      process.once('SIGINT', () => void stop('SIGINT'));
    });
}
