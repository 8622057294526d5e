/**
 * The injected auth sidecar (docs/design.md#sidecar). Shared by the mutation, which injects it,
 * and the pod-sidecar rule, which checks that what runs is what idgate would inject.
 */
import type { Container } from '../admission/k8s.ts';
import type { SidecarConfig } from '../config/baseline.ts';

export const SIDECAR_NAME = 'idgate-proxy';
/**
 * Name of the proxy's container port, which the probes and NetworkPolicies
 * (`networkpolicy-sidecar-port`) refer to. An IANA service name: at most 15 characters.
 */
export const SIDECAR_PORT_NAME = 'idgate-proxy';
/** The proxy's own health path; must equal HEALTH_PATH of src/proxy/server.ts (a test checks). */
export const SIDECAR_HEALTH_PATH = '/healthz';
/**
 * Where the kubelet mounts ServiceAccount credentials and where `idgate proxy` reads them for
 * `--kubernetes-issuer` (IN_POD_TOKEN_FILE, IN_POD_CA_FILE of src/proxy/kubernetes-issuer.ts).
 */
export const KUBE_API_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
/** The sidecar's own ServiceAccount credentials volume, see {@link buildSidecar}. */
export const KUBE_API_VOLUME_NAME = 'idgate-kube-api-access';
/** The projected token volume (docs/design.md#token-volume). */
export const TOKEN_VOLUME_NAME = 'idgate-token';
export const TOKEN_MOUNT_PATH = '/var/run/secrets/idgate.dev/token';
/** Non-root numeric user of the idgate image (the Dockerfile's USER). */
export const SIDECAR_UID = 65532;

export interface SidecarParams {
  readonly config: SidecarConfig;
  /** Port of the app container the proxy forwards to on 127.0.0.1. */
  readonly upstreamPort: number;
  /** Port the proxy listens on (annotation `idgate.dev/proxy-port`, else the baseline's). */
  readonly proxyPort: number;
  /** Groups allowed to call the app (annotation `idgate.dev/allowed-groups`); empty: any verified caller. */
  readonly allowedGroups: readonly string[];
}

/** The hardened securityContext every idgate sidecar runs with. */
export function sidecarSecurityContext(): NonNullable<Container['securityContext']> {
  return {
    runAsNonRoot: true,
    runAsUser: SIDECAR_UID,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** The proxy's command-line arguments (the image's entrypoint is `idgate`). */
export function sidecarArgs(p: SidecarParams): string[] {
  const args = [
    'proxy',
    `--listen=0.0.0.0:${p.proxyPort}`,
    `--upstream=http://127.0.0.1:${p.upstreamPort}`,
    `--issuer=${p.config.issuers.join(',')}`,
    `--audience=${p.config.audience}`,
  ];
  if (p.config.kubernetesIssuer) args.push(`--kubernetes-issuer=${p.config.kubernetesIssuer}`);
  if (p.allowedGroups.length > 0) args.push(`--allowed-groups=${p.allowedGroups.join(',')}`);
  return args;
}

/** An httpGet probe as core/v1 Probe spells it. */
export interface HttpProbe {
  httpGet: { path: string; port: string | number; scheme: string };
  periodSeconds: number;
  failureThreshold: number;
  timeoutSeconds: number;
  successThreshold: number;
}

/**
 * The probes, both on the proxy's own `/healthz`, which it answers itself (no token, no
 * upstream) as soon as it listens:
 * - startupProbe: a native sidecar counts as started only once its startupProbe succeeds, and
 *   the kubelet starts the app containers after that (KEP-753, "sidecar containers"), so the
 *   app never receives traffic or starts calling out before the proxy listens. Every second of
 *   period can add a second to each Pod's start, and the proxy listens within about a second of
 *   starting (Node start-up plus configuration), so probe every second; 30 failures give a
 *   slow node 30 s before the kubelet restarts the proxy.
 * - readinessProbe: a native sidecar's readiness counts for the Pod's, so a proxy that stops
 *   answering takes the Pod out of its Services' endpoints. Every 5 s, 2 failures: out of
 *   rotation within about 10 s instead of the defaults' 30 s (period 10 s, 3 failures). The
 *   default 1 s timeout stays: /healthz does no I/O, an event loop that cannot answer it in a
 *   second cannot serve requests either.
 * No livenessProbe: a proxy saturated by load would fail it and be restarted, dropping every
 * connection at the worst moment; the process exits by itself on fatal errors and
 * `restartPolicy: Always` brings it back.
 * Every field the API server would default is written out (probe defaults of core/v1
 * SetDefaults_Probe, scheme HTTP), so the stored Pod is exactly what was injected.
 */
export function sidecarProbes(): { startupProbe: HttpProbe; readinessProbe: HttpProbe } {
  const httpGet = { path: SIDECAR_HEALTH_PATH, port: SIDECAR_PORT_NAME, scheme: 'HTTP' };
  return {
    startupProbe: { httpGet: { ...httpGet }, periodSeconds: 1, failureThreshold: 30, timeoutSeconds: 1, successThreshold: 1 },
    readinessProbe: { httpGet: { ...httpGet }, periodSeconds: 5, failureThreshold: 2, timeoutSeconds: 1, successThreshold: 1 },
  };
}

/**
 * The sidecar's mount of its own ServiceAccount credentials ({@link KUBE_API_VOLUME_NAME}), read
 * only, at the path the proxy reads them from. Only with `kubernetesIssuer`.
 */
export function kubeApiVolumeMount(): NonNullable<Container['volumeMounts']>[number] {
  return { name: KUBE_API_VOLUME_NAME, mountPath: KUBE_API_MOUNT_PATH, readOnly: true };
}

/**
 * The sidecar container. In `native` mode it goes into initContainers with
 * `restartPolicy: Always` (a native sidecar, Kubernetes ≥ 1.29: it starts before and stops
 * after the app containers); in `container` mode into containers, without restartPolicy.
 *
 * With `kubernetesIssuer` the proxy needs a ServiceAccount token to fetch the cluster issuer's
 * keys. It gets its own (volume {@link KUBE_API_VOLUME_NAME}, src/mutate/volume.ts) rather than
 * relying on the ServiceAccount admission plugin's kube-api-access volume, which is absent when
 * the Pod or its ServiceAccount sets `automountServiceAccountToken: false` — a setting meant to
 * keep the API token away from the app, which it still does: the app containers never see this
 * one. Mounted at the standard path, it also keeps the plugin from mounting a second token in
 * the sidecar (the plugin skips containers that already mount that path).
 */
export function buildSidecar(p: SidecarParams): Container {
  const container: Container = {
    name: SIDECAR_NAME,
    image: p.config.image,
    args: sidecarArgs(p),
    ports: [{ name: SIDECAR_PORT_NAME, containerPort: p.proxyPort, protocol: 'TCP' }],
    ...sidecarProbes(),
    resources: {
      requests: { ...p.config.resources.requests },
      limits: { ...p.config.resources.limits },
    },
    securityContext: sidecarSecurityContext(),
  };
  if (p.config.kubernetesIssuer) container.volumeMounts = [kubeApiVolumeMount()];
  if (p.config.mode === 'native') container.restartPolicy = 'Always';
  return container;
}
