/**
 * `idgate webhook` as a process: its validated, frozen configuration, and {@link start}, which
 * builds what the configuration asks for (the Kubernetes client, the certificate manager, the
 * controllers) around {@link startWebhook}. The command line (src/cli/webhook.ts) only turns
 * flags into a {@link WebhookConfig} and wires signals to `stop`.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { loadKubeConfig } from '../kube/config.ts';
import type { CertManager, WebhookConfigRef } from '../certs/managed.ts';
import { ObservedBindingIndex } from '../controller/index-events.ts';
import { createControllerManager, type ControllerName } from '../controller/manager.ts';
import { UsageError } from '../errors.ts';
import type { ListenAddress } from '../server/serve.ts';
import { startWebhook, type Webhook, type WebhookOptions } from './start.ts';

type KubeConfig = ReturnType<typeof loadKubeConfig>;

/** The webhook's configuration, as {@link buildWebhookConfig} validates and freezes it. */
export interface WebhookConfig {
  readonly listen: ListenAddress;
  /** The IdentityBaseline file (`--config`, hot-reloaded). */
  readonly configFile: string;
  readonly tlsCert: string;
  readonly tlsKey: string;
  readonly clientCaFile?: string;
  /** Without it, the kubeconfig is the in-cluster one. */
  readonly kubeconfig?: string;
  readonly bindingsFile?: string;
  /** `--manage-certs`: the Secret and webhook configurations the certificates are kept in. */
  readonly manageCerts?: {
    readonly tlsDir: string;
    readonly secret: { readonly namespace: string; readonly name: string };
    readonly webhookConfigs: readonly WebhookConfigRef[];
    /** The webhook Service, for the certificate's names. */
    readonly service: string;
  };
  readonly controllers: readonly ControllerName[];
  /** Namespace of the controllers' leader-election Lease. */
  readonly namespace: string;
  /** How long in-flight requests may take after SIGTERM. */
  readonly shutdownGraceMs: number;
}

/** The command line's values, each named after its flag. */
export interface WebhookConfigInput {
  readonly config?: string | undefined;
  readonly listen: ListenAddress;
  readonly tlsDir?: string | undefined;
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  readonly clientCa?: string | undefined;
  readonly kubeconfig?: string | undefined;
  readonly bindingsFile?: string | undefined;
  readonly manageCerts?: boolean | undefined;
  readonly certSecret?: { namespace: string; name: string } | undefined;
  readonly webhookConfigs?: readonly WebhookConfigRef[] | undefined;
  readonly service: string;
  readonly controllers: readonly ControllerName[];
  readonly namespace: string;
  readonly shutdownGrace: number;
}

/** `--manage-certs` and the flags it needs (and that need it). */
function manageCertsConfig(input: WebhookConfigInput): WebhookConfig['manageCerts'] {
  if (!input.manageCerts) {
    if (input.certSecret || input.webhookConfigs) throw new UsageError('--cert-secret and --webhook-configs only apply with --manage-certs');
    return undefined;
  }
  if (!input.tlsDir) throw new UsageError('--manage-certs writes the certificate files into --tls-dir DIR: set it (not --tls-cert/--tls-key)');
  if (!input.certSecret) throw new UsageError('--manage-certs needs --cert-secret NAMESPACE/NAME');
  if (!input.webhookConfigs) throw new UsageError('--manage-certs needs --webhook-configs MUTATING,VALIDATING');
  return Object.freeze({ tlsDir: input.tlsDir, secret: input.certSecret, webhookConfigs: input.webhookConfigs, service: input.service });
}

/** Validates the flags together and returns a frozen configuration; a {@link UsageError} names the flag. */
export function buildWebhookConfig(input: WebhookConfigInput): WebhookConfig {
  const tlsCert = input.tlsCert ?? (input.tlsDir ? join(input.tlsDir, 'tls.crt') : undefined);
  const tlsKey = input.tlsKey ?? (input.tlsDir ? join(input.tlsDir, 'tls.key') : undefined);
  if (!tlsCert || !tlsKey) throw new UsageError('--tls-dir or both --tls-cert and --tls-key are required');
  if (!input.config) throw new UsageError('--config FILE (the IdentityBaseline) is required');
  const manageCerts = manageCertsConfig(input);
  return Object.freeze({
    listen: Object.freeze({ ...input.listen }),
    configFile: input.config,
    tlsCert,
    tlsKey,
    ...(input.clientCa ? { clientCaFile: input.clientCa } : {}),
    ...(input.kubeconfig ? { kubeconfig: input.kubeconfig } : {}),
    ...(input.bindingsFile ? { bindingsFile: input.bindingsFile } : {}),
    ...(manageCerts ? { manageCerts } : {}),
    controllers: Object.freeze([...input.controllers]),
    namespace: input.namespace,
    shutdownGraceMs: input.shutdownGrace,
  });
}

/**
 * The Kubernetes side, loaded only when the configuration talks to a cluster: client-node costs
 * tens of MB and hundreds of milliseconds at start-up (BENCHMARKS.md), which a webhook on a
 * bindings file does not pay. Certificate generation brings node-forge, loaded only for
 * --manage-certs.
 */
async function clusterOptions(config: WebhookConfig, logger: Logger): Promise<Partial<WebhookOptions>> {
  const [kube, { createKubeIdentitySource }, { whoami }] = await Promise.all([
    import('../kube/config.ts'),
    import('../kube/identity-source.ts'),
    import('../kube/whoami.ts'),
  ]);
  // Loaded once: every client below talks to the same cluster with the same credentials.
  const kubeConfig = kube.loadKubeConfig(config.kubeconfig);
  const certManager = config.manageCerts ? await createManagedCerts(config.manageCerts, kubeConfig, logger) : undefined;
  if (config.bindingsFile) return { whoami: () => whoami(kubeConfig), ...(certManager ? { certManager } : {}) };
  // The controllers hang off the identity source's index (its events), so both share one. With
  // --bindings-file they do not run (docs/design.md#identity-controller): they reconcile the
  // cluster's bindings, which that webhook does not read.
  const index = new ObservedBindingIndex();
  const controllerKube = config.controllers.length > 0 ? await import('../kube/controller-apis.ts') : undefined;
  return {
    kubeIdentity: () => createKubeIdentitySource({ kubeConfig, logger, index }),
    whoami: () => whoami(kubeConfig),
    ...(certManager ? { certManager } : {}),
    ...(controllerKube
      ? {
          controllers: (deps) =>
            createControllerManager({
              ...deps,
              enabled: [...config.controllers],
              index,
              apis: controllerKube.createControllerApis({ kubeConfig, namespace: config.namespace, logger }),
              // client-go's convention for holder identities: hostname (the Pod name) and a UUID.
              identity: `${hostname()}_${randomUUID()}`,
            }),
        }
      : {}),
  };
}

async function createManagedCerts(manage: NonNullable<WebhookConfig['manageCerts']>, kubeConfig: KubeConfig, logger: Logger): Promise<CertManager> {
  const [{ createCertManager }, { serviceHosts }, { createKubeCertsApi }] = await Promise.all([
    import('../certs/managed.ts'),
    import('../certs/generate.ts'),
    import('../kube/certs-client.ts'),
  ]);
  return createCertManager({
    api: createKubeCertsApi({ kubeConfig, secret: manage.secret }),
    tlsDir: manage.tlsDir,
    hosts: serviceHosts(manage.service, manage.secret.namespace),
    webhookConfigs: manage.webhookConfigs,
    logger,
  });
}

/** Starts the webhook `config` describes; `stop(graceMs)` drains it and releases what it holds. */
export async function start(config: WebhookConfig, logger: Logger): Promise<Webhook> {
  const cluster = !config.bindingsFile || config.manageCerts ? await clusterOptions(config, logger) : {};
  return startWebhook({
    listen: config.listen,
    configFile: config.configFile,
    tlsCert: config.tlsCert,
    tlsKey: config.tlsKey,
    ...(config.clientCaFile ? { clientCaFile: config.clientCaFile } : {}),
    ...(config.bindingsFile ? { bindingsFile: config.bindingsFile } : {}),
    ...cluster,
    logger,
  });
}
