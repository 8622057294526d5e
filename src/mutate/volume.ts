/**
 * The projected ServiceAccount token volume (SPEC section 2 step 4): a token with the
 * baseline's audience, mounted read-only in app containers so a workload can present its
 * identity to other idgate-protected services (vault-k8s agent-inject's container_volume.go).
 */
import type { Pod, Volume, VolumeMount } from '../admission/k8s.ts';
import type { PatchOperation } from '../admission/types.ts';
import type { SidecarConfig } from '../baseline/types.ts';
import { appendPatch, pointer } from './patch.ts';
import { SIDECAR_NAME, TOKEN_MOUNT_PATH, TOKEN_VOLUME_NAME } from './sidecar.ts';
import { quote } from './upstream.ts';

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

/** The operations adding the token volume and mounts, and warnings for containers left without it. */
export interface VolumePatch {
  readonly patch: PatchOperation[];
  readonly warnings: string[];
}

/**
 * Adds the token volume unless a volume of that name exists, and mounts it in every app
 * container (not the sidecar, which verifies tokens and never presents one) that lacks it.
 * Init containers are left alone: they run before the Pod serves and are not the workload
 * whose identity callers check. A container that already has another volume at the mount
 * path is skipped with a warning: a second mount there is rejected by the API server
 * ("must be unique").
 */
export function tokenVolumePatch(pod: Pod, config: Pick<SidecarConfig, 'audience' | 'tokenExpirationSeconds'>): VolumePatch {
  const spec = pod.spec ?? {};
  const patch: PatchOperation[] = [];
  const warnings: string[] = [];
  const existing = (spec.volumes ?? []).find((v) => v?.name === TOKEN_VOLUME_NAME);
  if (existing === undefined) {
    patch.push(...appendPatch('/spec/volumes', spec.volumes, [tokenVolume(config)]));
  } else if (!isIdgateTokenVolume(existing, config)) {
    warnings.push(`volume ${TOKEN_VOLUME_NAME} exists and is not idgate's token volume (audience ${config.audience}); left as is`);
  }
  (spec.containers ?? []).forEach((c, i) => {
    if (c?.name === SIDECAR_NAME) return;
    const mounts = c?.volumeMounts;
    if (mounts?.some((m) => m?.name === TOKEN_VOLUME_NAME)) return;
    if (mounts?.some((m) => m?.mountPath === TOKEN_MOUNT_PATH)) {
      warnings.push(`container ${quote(c?.name ?? String(i))} already mounts another volume at ${TOKEN_MOUNT_PATH}; token not mounted`);
      return;
    }
    patch.push(...appendPatch(pointer('spec', 'containers', i, 'volumeMounts'), mounts, [tokenVolumeMount()]));
  });
  return { patch, warnings };
}
