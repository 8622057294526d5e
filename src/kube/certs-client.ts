/**
 * The Kubernetes side of `--manage-certs` ({@link CertsApi} in src/certs/managed.ts): the
 * certificate Secret (create with a conflict check, replace with optimistic concurrency) and
 * `caBundle` in the webhook configurations (JSON patch, only the entries that differ).
 */
import { AdmissionregistrationV1Api, ApiException, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { CertsConflictError, type CertsApi, type StoredSecret, type WebhookConfigRef } from '../certs/managed.ts';
import { MANAGED_KEYS, type SecretData } from '../certs/rotation.ts';
import { describeError } from './informer.ts';

export interface KubeCertsApiOptions {
  readonly kubeConfig: KubeConfig;
  /** The Secret holding the CA and serving certificate (`--cert-secret NS/NAME`). */
  readonly secret: { readonly namespace: string; readonly name: string };
}

const statusOf = (err: unknown): number | undefined => (err instanceof ApiException ? err.code : undefined);

const decode = (data: Record<string, string> | undefined): SecretData =>
  Object.fromEntries(
    Object.entries(data ?? {})
      .filter(([k]) => MANAGED_KEYS.includes(k))
      .map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
  );

const encode = (data: SecretData): Record<string, string> =>
  Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]));

function stored(secret: V1Secret): StoredSecret {
  return { data: decode(secret.data), resourceVersion: secret.metadata?.resourceVersion ?? '', object: secret };
}

/** Creates the client. Every error message names the object it was about. */
export function createKubeCertsApi(options: KubeCertsApiOptions): CertsApi {
  return {
    ...secretApi(options.kubeConfig.makeApiClient(CoreV1Api), options.secret),
    ...webhooksApi(options.kubeConfig.makeApiClient(AdmissionregistrationV1Api)),
  };
}

const fail = (what: string, err: unknown): Error => new Error(`${what}: ${describeError(err)}`);

/** The certificate Secret's half of {@link CertsApi}. */
function secretApi(core: CoreV1Api, { namespace, name }: KubeCertsApiOptions['secret']): Pick<CertsApi, 'readSecret' | 'createSecret' | 'replaceSecret'> {
  const secretId = `Secret ${namespace}/${name}`;
  return {
    async readSecret() {
      try {
        return stored(await core.readNamespacedSecret({ namespace, name }));
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw fail(`reading ${secretId}`, err);
      }
    },

    async createSecret(data) {
      const body: V1Secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace, labels: { 'app.kubernetes.io/name': 'idgate', 'app.kubernetes.io/managed-by': 'idgate' } },
        // The TLS type (tls.crt + tls.key required) lets other tools read it as a serving certificate.
        type: 'kubernetes.io/tls',
        data: encode(data),
      };
      try {
        return stored(await core.createNamespacedSecret({ namespace, body }));
      } catch (err) {
        if (statusOf(err) === 409) throw new CertsConflictError('AlreadyExists', `${secretId} was created by someone else first`);
        throw fail(`creating ${secretId}`, err);
      }
    },

    async replaceSecret(current, data) {
      const object = (current.object ?? {}) as V1Secret;
      // Keys this code does not own stay as they were (and in base64, so binary values survive).
      const foreign = Object.fromEntries(Object.entries(object.data ?? {}).filter(([k]) => !MANAGED_KEYS.includes(k)));
      const body: V1Secret = {
        ...object,
        apiVersion: 'v1',
        kind: 'Secret',
        // The resourceVersion makes this a compare-and-swap: the API server answers 409 Conflict
        // if anyone wrote the Secret since it was read (Kubernetes API concepts, "Resource versions").
        metadata: { ...object.metadata, name, namespace, resourceVersion: current.resourceVersion },
        data: { ...foreign, ...encode(data) },
      };
      try {
        return stored(await core.replaceNamespacedSecret({ namespace, name, body }));
      } catch (err) {
        if (statusOf(err) === 409) throw new CertsConflictError('Conflict', `${secretId} changed since it was read`);
        throw fail(`updating ${secretId}`, err);
      }
    },
  };
}

const configId = (ref: WebhookConfigRef) => `${ref.kind === 'mutating' ? 'MutatingWebhookConfiguration' : 'ValidatingWebhookConfiguration'} ${ref.name}`;

/** The webhook configurations' half of {@link CertsApi}. */
function webhooksApi(admission: AdmissionregistrationV1Api): Pick<CertsApi, 'readWebhooks' | 'patchCABundle'> {
  const readConfig = (ref: WebhookConfigRef) =>
    ref.kind === 'mutating' ? admission.readMutatingWebhookConfiguration({ name: ref.name }) : admission.readValidatingWebhookConfiguration({ name: ref.name });
  return {
    async readWebhooks(ref) {
      try {
        const config = await readConfig(ref);
        return (config.webhooks ?? []).map((w) => ({ name: w.name, ...(w.clientConfig?.caBundle ? { caBundle: w.clientConfig.caBundle } : {}) }));
      } catch (err) {
        if (statusOf(err) === 404) throw new Error(`${configId(ref)} not found: apply manifests/ (or fix --webhook-configs)`);
        throw fail(`reading ${configId(ref)}`, err);
      }
    },

    async patchCABundle(ref, entries, caBundle) {
      // One JSON patch for the whole object: for each stale entry, `test` its name (the list may
      // have been reordered since it was read: then the whole patch fails and is retried) and
      // `add` caBundle (RFC 6902 `add` replaces an existing member). Every other field is kept.
      const body = entries.flatMap(({ index, name: webhook }) => [
        { op: 'test', path: `/webhooks/${index}/name`, value: webhook },
        { op: 'add', path: `/webhooks/${index}/clientConfig/caBundle`, value: caBundle },
      ]);
      const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
      try {
        if (ref.kind === 'mutating') await admission.patchMutatingWebhookConfiguration({ name: ref.name, body }, jsonPatch);
        else await admission.patchValidatingWebhookConfiguration({ name: ref.name, body }, jsonPatch);
      } catch (err) {
        throw fail(`patching caBundle of ${configId(ref)}`, err);
      }
    },
  };
}
