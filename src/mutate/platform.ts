/**
 * Whether a Pod can run the sidecar at all (docs/design.md#sidecar): `idgate proxy` is a Linux
 * image, and its hardening (runAsUser, readOnlyRootFilesystem, seccomp) is Linux-only. The API
 * server refuses a Pod with `spec.os.name: windows` that sets those fields (core/v1
 * validateWindows: "forbidden since the pod's OS is windows"), which would surface as a
 * confusing error about a container the user never wrote; so such a Pod gets no sidecar, and
 * pod-sidecar says why.
 */
import type { Pod } from '../admission/k8s.ts';
import type { SidecarConfig } from '../config/baseline.ts';
import { ANNOTATION_INJECT } from '../identity/labels.ts';
import { SIDECAR_NAME } from './sidecar.ts';
import { resolvePorts, type Resolution, type ResolvedPorts } from './upstream.ts';

/** The well-known node label the kubelet sets to its OS (kubernetes.io/os). */
export const OS_NODE_LABEL = 'kubernetes.io/os';

/**
 * Where a Pod says it runs on Windows: `spec.os.name` (Kubernetes ≥ 1.25, what the API server
 * validates against), else a nodeSelector on `kubernetes.io/os: windows` (the older way, which
 * the API server does not validate but which lands the Pod on a node that cannot run the image).
 */
export function windowsField(pod: Pod): string | undefined {
  const os = pod.spec?.os as { name?: unknown } | undefined;
  if (typeof os?.name === 'string') return os.name.toLowerCase() === 'windows' ? 'spec.os.name' : undefined;
  const selector = pod.spec?.nodeSelector as Record<string, unknown> | undefined;
  return typeof selector?.[OS_NODE_LABEL] === 'string' && selector[OS_NODE_LABEL].toLowerCase() === 'windows'
    ? `spec.nodeSelector[${OS_NODE_LABEL}]`
    : undefined;
}

/**
 * The sidecar's ports for this Pod, or why the injector builds none: a Windows Pod, else
 * whatever {@link resolvePorts} refuses. The message says how to get the Pod admitted.
 */
export function resolveSidecar(pod: Pod, config: Pick<SidecarConfig, 'port' | 'allowOptOut'>): Resolution<ResolvedPorts> {
  const field = windowsField(pod);
  if (field !== undefined) {
    const fix = config.allowOptOut
      ? `run the workload on Linux, or opt it out with annotation ${ANNOTATION_INJECT}: "false"`
      : 'run the workload on Linux (the baseline does not allow opting out, sidecar.allowOptOut)';
    return { ok: false, field, reason: `${SIDECAR_NAME} is Linux-only and this Pod runs on Windows (${field}); ${fix}` };
  }
  return resolvePorts(pod, config);
}
