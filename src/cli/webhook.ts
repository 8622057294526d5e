/** `idgate webhook`: the admission server. Flags become a {@link WebhookConfig}; src/webhook/process.ts runs it. */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, type Option } from 'commander';
import type { LevelWithSilent } from 'pino';
import type { WebhookConfigRef } from '../certs/managed.ts';
import { CONTROLLER_NAMES, type ControllerName } from '../controller/manager.ts';
import type { WebhookConfigInput } from '../webhook/process.ts';
import { runUntilSignal } from './lifecycle.ts';
import { LOG_LEVELS, createLogger } from './logger.ts';
import { option, parseDuration, parseListen } from './options.ts';

type WebhookFlags = Omit<WebhookConfigInput, 'namespace'> & { namespace?: string; logLevel: LevelWithSilent };

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

/** The webhook's flags, in --help's order. */
function webhookOptions(): Option[] {
  return [
    option('--config <file>', 'IdentityBaseline file (hot-reloaded)'),
    option('--listen <host:port>', 'address to listen on').argParser(parseListen).default({ host: '0.0.0.0', port: 8443 }, '0.0.0.0:8443'),
    option('--tls-dir <dir>', 'directory holding tls.crt and tls.key').conflicts(['tlsCert', 'tlsKey']),
    option('--tls-cert <file>', 'serving certificate (PEM)'),
    option('--tls-key <file>', 'serving key (PEM)'),
    option('--client-ca <file>', "require a client certificate signed by this CA (the API server's)"),
    option('--kubeconfig <file>', 'kubeconfig (default: in-cluster)'),
    option('--bindings-file <file>', 'OIDCGroupBindings from a YAML file instead of the cluster'),
    option('--manage-certs', 'keep the CA and serving certificate in --cert-secret, write them to --tls-dir, set caBundle in --webhook-configs'),
    option('--cert-secret <ns/name>', 'Secret holding the managed CA and serving certificate').argParser(parseSecretRef),
    option('--webhook-configs <mutating,validating>', 'webhook configurations whose caBundle is managed').argParser(parseWebhookConfigs),
    option('--service <name>', "the webhook's Service (in --cert-secret's namespace), for the certificate's names").default('idgate-webhook'),
    option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'),
    option('--controllers <list>', 'reconcile loops to run while this replica leads: default-deny,relabel, a subset, or none')
      .argParser(parseControllers)
      .default([...CONTROLLER_NAMES], CONTROLLER_NAMES.join(',')),
    option('--namespace <ns>', "namespace of the controllers' leader-election Lease (default: the webhook's own, else idgate-system)"),
    option('--shutdown-grace <duration>', 'how long in-flight requests may take after SIGTERM').argParser(parseDuration).default(20_000, '20s'),
  ];
}

export function webhookCommand(): Command {
  const cmd = new Command('webhook').description('serve the mutating and validating admission webhooks over HTTPS');
  for (const o of webhookOptions()) cmd.addOption(o);
  return cmd.action(async (flags: WebhookFlags) => {
    const { buildWebhookConfig, start } = await import('../webhook/process.ts');
    const config = buildWebhookConfig({ ...flags, namespace: flags.namespace ?? defaultNamespace() });
    await runUntilSignal(config, createLogger(flags.logLevel), start, 'shutting down: readiness off, finishing in-flight requests');
  });
}
