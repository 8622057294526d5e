/**
 * networkpolicy-sidecar-port (docs/design.md#rules): the sidecar listens on the proxy port and forwards
 * to the app on 127.0.0.1, but the app still listens on the Pod IP. A policy that admits callers
 * to the app's own port (or to every port) lets them walk around authentication, whoever the
 * callers are. So, in a namespace where idgate injects (the baseline scope: enrolled), every
 * ingress rule that can reach injected Pods opens only the proxy port, TCP: by number (the
 * baseline's `sidecar.port`) or, better, by its name `idgate-proxy`, which follows a Pod's own
 * `idgate.dev/proxy-port`.
 *
 * Which Pods a policy reaches is decided by its podSelector; only a selector that excludes
 * injected Pods outright (`idgate.dev/service-account` DoesNotExist) is known not to reach
 * them, so only such a policy may open other ports (for Pods that opted out, or non-HTTP apps).
 * NetworkPolicyPort semantics (networking.k8s.io/v1): no `ports` means every port; a port
 * without `port` means every port of its protocol; `endPort` makes a range; protocol defaults
 * to TCP.
 */
import type { NetworkPolicy } from '../../admission/k8s.ts';
import { LABEL_SERVICE_ACCOUNT } from '../../identity/labels.ts';
import { SIDECAR_NAME } from '../../mutate/sidecar.ts';
import { quote } from '../../text.ts';
import { FieldPath } from '../../lib/field-path.ts';
import type { Rule } from '../types.ts';
import { asArray, writes, type Finding } from './common.ts';

const RULE = 'networkpolicy-sidecar-port' as const;

/** The injected container names its port after itself (mutate/sidecar.ts). */
const PROXY_PORT_NAME = SIDECAR_NAME;

interface PolicyPort {
  protocol?: unknown;
  port?: unknown;
  endPort?: unknown;
}

/** True when the podSelector cannot match a Pod that carries idgate's sidecar (and its labels). */
function excludesInjectedPods(np: NetworkPolicy): boolean {
  return asArray<{ key?: unknown; operator?: unknown }>(np.spec?.podSelector?.matchExpressions).some(
    (e) => e?.key === LABEL_SERVICE_ACCOUNT && e.operator === 'DoesNotExist',
  );
}

/** Why a port entry opens more than the proxy port, or undefined when it opens exactly that. */
function widerThanProxy(p: PolicyPort, proxyPort: number): string | undefined {
  const protocol = p.protocol ?? 'TCP';
  if (protocol !== 'TCP') return `opens ${quote(protocol)} traffic, which the sidecar (TCP) does not see`;
  if (p.port === undefined || p.port === null) return 'opens every TCP port (no port given)';
  if (typeof p.port === 'string') return p.port === PROXY_PORT_NAME ? undefined : `opens the named port ${quote(p.port)}, not ${PROXY_PORT_NAME}`;
  if (p.port !== proxyPort) return `opens port ${typeof p.port === 'number' ? p.port : quote(p.port)}, not the proxy port ${proxyPort}`;
  if (typeof p.endPort === 'number' && p.endPort > proxyPort) return `opens the range ${proxyPort}-${p.endPort}, not only the proxy port`;
  return undefined;
}

/** Rule networkpolicy-sidecar-port. */
export const networkpolicySidecarPort: Rule<NetworkPolicy> = (object, _old, ctx) => {
  if (object === undefined || !writes(ctx) || excludesInjectedPods(object)) return [];
  const proxyPort = ctx.baseline.sidecar.port;
  const fix = `callers would reach the app around its ${PROXY_PORT_NAME} sidecar; allow only port ${PROXY_PORT_NAME} (${proxyPort}/TCP)`;
  const findings: Finding[] = [];
  asArray<{ ports?: unknown }>(object.spec?.ingress).forEach((rule, i) => {
    const ports = asArray<PolicyPort>(rule?.ports);
    if (ports.length === 0) {
      findings.push({
        rule: RULE,
        path: FieldPath.root('spec', 'ingress').index(i).child('ports').toString(),
        message: `no ports: opens every port of the injected Pods, the app's own included; ${fix}`,
      });
      return;
    }
    ports.forEach((p, j) => {
      const why = widerThanProxy(p ?? {}, proxyPort);
      if (why !== undefined)
        findings.push({ rule: RULE, path: FieldPath.root('spec', 'ingress').index(i).child('ports').index(j).toString(), message: `${why}; ${fix}` });
    });
  });
  return findings;
};
