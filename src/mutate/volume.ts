/**
 * The projected ServiceAccount token volume (docs/design.md#token-volume): a token with the
 * baseline's audience, mounted read-only in app containers so a workload can present its
 * identity to other idgate-protected services (vault-k8s agent-inject's container_volume.go).
 */
import type { Pod, Volume, VolumeMount } from '../admission/k8s.ts';
import type { PatchOperation } from '../admission/types.ts';
import type { SidecarConfig } from '../config/baseline.ts';
import { quote } from '../text.ts';
import { appendPatch } from './patch.ts';
import { KUBE_API_VOLUME_NAME, TOKEN_MOUNT_PATH, TOKEN_VOLUME_NAME } from './sidecar.ts';
import { appContainers } from './upstream.ts';

/** File name of the token inside the mount: the token is at `${TOKEN_MOUNT_PATH}/token`. */
export const TOKEN_PATH = 'token';

/**
 * The volume. The kubelet refreshes a projected token at 80% of its lifetime
 * (kubernetes.io/docs/concepts/storage/projected-volumes), so the app must reread the file;
 * expirationSeconds has an API minimum of 600, which the baseline loader enforces.
 */
export function tokenVolume(config: Pick<SidecarConfig, 'audience' | 'tokenExpirationSeconds'>): Volume {
  return {
    name: TOKEN_VOLUME_NAME,
    projected: {
      sources: [
        {
          serviceAccountToken: {
            audience: config.audience,
            expirationSeconds: config.tokenExpirationSeconds,
            path: TOKEN_PATH,
          },
        },
      ],
    },
  };
}

/** The read-only mount of the token volume in an app container. */
export function tokenVolumeMount(): VolumeMount {
  return { name: TOKEN_VOLUME_NAME, mountPath: TOKEN_MOUNT_PATH, readOnly: true };
}

/** True when `volume` is the token volume idgate would add (same audience, expiry and path). */
export function isIdgateTokenVolume(volume: Volume, config: Pick<SidecarConfig, 'audience' | 'tokenExpirationSeconds'>): boolean {
  const sources = (volume as { projected?: { sources?: unknown[] } }).projected?.sources;
  if (!Array.isArray(sources) || sources.length !== 1) return false;
  const token = (sources[0] as { serviceAccountToken?: Record<string, unknown> } | null)?.serviceAccountToken;
  return token?.audience === config.audience && token.expirationSeconds === config.tokenExpirationSeconds && token.path === TOKEN_PATH;
}

/**
 * Expiry of the sidecar's own API token: the API server's default for projected tokens
 * (core/v1 ServiceAccountTokenProjection), written out so defaulting changes nothing. The proxy
 * rereads the file at every key fetch (src/proxy/kubernetes-issuer.ts) and the kubelet renews it
 * at 80% of its lifetime.
 */
export const KUBE_API_TOKEN_EXPIRATION_SECONDS = 3600;
/** The ConfigMap the root CA publisher puts in every namespace (kube-controller-manager). */
export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';

/**
 * The sidecar's own ServiceAccount credentials for `--kubernetes-issuer` (see buildSidecar in
 * sidecar.ts): a token for the API server's default audience and the cluster CA, shaped like the
 * ServiceAccount plugin's kube-api-access volume but mounted in the sidecar only.
 */
export function kubeApiVolume(): Volume {
  return {
    name: KUBE_API_VOLUME_NAME,
    projected: {
      sources: [
        { serviceAccountToken: { expirationSeconds: KUBE_API_TOKEN_EXPIRATION_SECONDS, path: 'token' } },
        { configMap: { name: ROOT_CA_CONFIGMAP, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
      ],
    },
  };
}

/** Where {@link tokenVolumePatch} gets its values: built on each call, or kept by the handler (parts.ts). */
export interface VolumeParts {
  tokenVolume(config: SidecarConfig): Volume;
  tokenVolumeMount(): VolumeMount;
  kubeApiVolume(): Volume;
}

const FRESH_VOLUMES: VolumeParts = { tokenVolume, tokenVolumeMount, kubeApiVolume };

/** The operations adding the token volume and mounts, and warnings for containers left without it. */
export interface VolumePatch {
  readonly patch: PatchOperation[];
  readonly warnings: string[];
}

/**
 * The volumes and mounts of the pass that injects the sidecar: the token volume, unless a volume
 * of that name exists, mounted in every app container that lacks it; and with `kubernetesIssuer`
 * the sidecar's own credentials volume ({@link kubeApiVolume}), which only the sidecar mounts.
 *
 * App containers are those of {@link appContainers}: not the sidecar (it verifies tokens and
 * never presents one), not another injector's proxy (a mesh proxy has no business holding the
 * workload's identity). Init containers are left alone: they run before the Pod serves and are
 * not the workload whose identity callers check. A container that already has another volume at
 * the mount path is skipped with a warning: a second mount there is rejected by the API server
 * ("must be unique").
 *
 * Called only when the sidecar is injected, never on a reinvocation that finds it present: the
 * containers this pass saw got the token then, and a container that has appeared since was
 * added by another webhook (a mesh proxy injected after idgate), which must not get it.
 */
export function tokenVolumePatch(pod: Pod, config: SidecarConfig, parts: VolumeParts = FRESH_VOLUMES): VolumePatch {
  const spec = pod.spec ?? {};
  const patch: PatchOperation[] = [];
  const warnings: string[] = [];
  const volumes: Volume[] = [];
  const existing = (spec.volumes ?? []).find((v) => v?.name === TOKEN_VOLUME_NAME);
  if (existing === undefined) {
    volumes.push(parts.tokenVolume(config));
  } else if (!isIdgateTokenVolume(existing, config)) {
    warnings.push(`volume ${TOKEN_VOLUME_NAME} exists and is not idgate's token volume (audience ${config.audience}); left as is`);
  }
  // A volume of that name the Pod brings itself would be mounted in the sidecar as its
  // credentials: pod-sidecar refuses it unless it is exactly kubeApiVolume().
  if (config.kubernetesIssuer && !(spec.volumes ?? []).some((v) => v?.name === KUBE_API_VOLUME_NAME)) volumes.push(parts.kubeApiVolume());
  patch.push(...appendPatch('/spec/volumes', spec.volumes, volumes));
  const apps = new Set(appContainers(spec));
  (spec.containers ?? []).forEach((c, i) => {
    if (!apps.has(c)) return;
    const mounts = c?.volumeMounts;
    if (mounts?.some((m) => m?.name === TOKEN_VOLUME_NAME)) return;
    if (mounts?.some((m) => m?.mountPath === TOKEN_MOUNT_PATH)) {
      warnings.push(`container ${quote(c?.name ?? String(i))} already mounts another volume at ${TOKEN_MOUNT_PATH}; token not mounted`);
      return;
    }
    patch.push(...appendPatch(`/spec/containers/${i}/volumeMounts`, mounts, [parts.tokenVolumeMount()]));
  });
  return { patch, warnings };
}
