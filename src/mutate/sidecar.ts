/**
 * The injected auth sidecar (SPEC section 2 step 3). Shared by the mutation, which injects it,
 * and the pod-sidecar rule, which checks that what runs is what idgate would inject.
 */
import type { Container } from '../admission/k8s.ts';
import type { SidecarConfig } from '../baseline/types.ts';

export const SIDECAR_NAME = 'idgate-proxy';
/** The projected token volume of SPEC section 2 step 4. */
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

/**
 * The sidecar container. In `native` mode it goes into initContainers with
 * `restartPolicy: Always` (a native sidecar, Kubernetes ≥ 1.29: it starts before and stops
 * after the app containers); in `container` mode into containers, without restartPolicy.
 */
export function buildSidecar(p: SidecarParams): Container {
  const container: Container = {
    name: SIDECAR_NAME,
    image: p.config.image,
    args: sidecarArgs(p),
    ports: [{ name: 'idgate-proxy', containerPort: p.proxyPort, protocol: 'TCP' }],
    resources: {
      requests: { ...p.config.resources.requests },
      limits: { ...p.config.resources.limits },
    },
    securityContext: sidecarSecurityContext(),
  };
  if (p.config.mode === 'native') container.restartPolicy = 'Always';
  return container;
}
