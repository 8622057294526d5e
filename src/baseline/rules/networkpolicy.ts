/**
 * NetworkPolicy rules (docs/design.md#rules): policies must say what they govern, must not open
 * ingress to everyone, and must admit callers by identity labels — the labels only idgate sets.
 * NetworkPolicy semantics cited below are networking.k8s.io/v1's API reference.
 */
import type { LabelSelector, NetworkPolicy, NetworkPolicyPeer } from '../../admission/k8s.ts';
import { GROUP_LABEL_PREFIX, isIdentityLabel } from '../../identity/labels.ts';
import { quote } from '../../text.ts';
import type { Rule } from '../types.ts';
import { asArray, isEmptySelector, UNAVAILABLE_MESSAGE, writes, type Finding } from './common.ts';
import { FieldPath } from '../../lib/field-path.ts';
import { isRecord } from '../../admission/k8s.ts';
import { coversEveryAddress, parseCidr, type CidrRange } from './cidr.ts';

const SPEC = FieldPath.root('spec');
const INGRESS = SPEC.child('ingress');

/**
 * Every ingress peer with where it is (ingress rule `i`, peer `j`). Paths are built only for a
 * finding: a policy that passes, the common case on the admission path, allocates none.
 */
function ingressPeers(np: NetworkPolicy): Array<{ peer: NetworkPolicyPeer; i: number; j: number }> {
  const out: Array<{ peer: NetworkPolicyPeer; i: number; j: number }> = [];
  asArray<{ from?: NetworkPolicyPeer[] }>(np.spec?.ingress).forEach((rule, i) => {
    asArray<NetworkPolicyPeer>(rule?.from).forEach((peer, j) => {
      if (isRecord(peer)) out.push({ peer, i, j });
    });
  });
  return out;
}

const peerPath = (i: number, j: number): FieldPath => INGRESS.index(i).child('from').index(j);

/** networkpolicy-policy-types: without policyTypes, a policy's effect depends on which sections happen to be present. */
export const networkpolicyPolicyTypes: Rule<NetworkPolicy> = (object, _old, ctx) => {
  if (object === undefined || !writes(ctx)) return [];
  if (asArray(object.spec?.policyTypes).length > 0) return [];
  return [
    {
      rule: 'networkpolicy-policy-types',
      path: SPEC.child('policyTypes').toString(),
      message: 'set policyTypes explicitly (e.g. [Ingress]); when absent, Kubernetes infers them from which sections are present',
    },
  ];
};

/**
 * networkpolicy-allow-all: an ingress rule with no `from` (or `from: []`) admits every source;
 * so does an empty peer `{}`, and a peer `namespaceSelector: {}` with no podSelector (or an
 * empty one) admits every Pod of every namespace.
 */
export const networkpolicyAllowAll: Rule<NetworkPolicy> = (object, _old, ctx) => {
  if (object === undefined || !writes(ctx)) return [];
  const findings: Finding[] = [];
  asArray<{ from?: unknown }>(object.spec?.ingress).forEach((rule, i) => {
    if (asArray(rule?.from).length === 0) {
      findings.push({
        rule: 'networkpolicy-allow-all',
        path: INGRESS.index(i).child('from').toString(),
        message: 'an ingress rule without from peers admits traffic from every source; list the callers by identity labels',
      });
    }
  });
  for (const { peer, i, j } of ingressPeers(object)) {
    if (peer.podSelector === undefined && peer.namespaceSelector === undefined && peer.ipBlock === undefined) {
      const message = 'an empty peer {} admits every source; select the callers by identity labels';
      findings.push({ rule: 'networkpolicy-allow-all', path: peerPath(i, j).toString(), message });
    } else if (isEmptySelector(peer.namespaceSelector) && (peer.podSelector === undefined || isEmptySelector(peer.podSelector))) {
      findings.push({
        rule: 'networkpolicy-allow-all',
        path: peerPath(i, j).child('namespaceSelector').toString(),
        message: 'namespaceSelector: {} without a podSelector admits every Pod of every namespace; add a podSelector on identity labels',
      });
    }
  }
  return findings;
};

/**
 * networkpolicy-identity-peers: every ingress peer that selects Pods selects them by identity
 * labels only, with at least one positive term (matchLabels, In, Exists): a selector built only
 * of NotIn/DoesNotExist also matches every Pod that has no identity at all.
 * Decided: a peer with a namespaceSelector and no podSelector selects every Pod of those
 * namespaces, not by identity, and is reported; an ipBlock peer selects no Pods (it is meant
 * for sources outside the cluster, whose traffic carries no identity labels) and is left to
 * networkpolicy-ipblock-world; an empty peer is networkpolicy-allow-all's.
 */
export const networkpolicyIdentityPeers: Rule<NetworkPolicy> = (object, _old, ctx) => {
  if (object === undefined || !writes(ctx)) return [];
  const findings: Finding[] = [];
  const add = (path: FieldPath, message: string): void => {
    findings.push({ rule: 'networkpolicy-identity-peers', path: path.toString(), message });
  };
  for (const { peer, i, j } of ingressPeers(object)) {
    const sel = peer.podSelector;
    if (sel === undefined) {
      if (peer.namespaceSelector !== undefined && !isEmptySelector(peer.namespaceSelector)) {
        add(
          peerPath(i, j),
          'a namespaceSelector without a podSelector admits every Pod of those namespaces; add a podSelector on identity labels (group.idgate.dev/<group>)',
        );
      }
      continue;
    }
    const base = (): FieldPath => peerPath(i, j).child('podSelector');
    if (isEmptySelector(sel)) {
      if (!isEmptySelector(peer.namespaceSelector))
        add(base(), 'podSelector: {} admits every Pod; select by identity labels (group.idgate.dev/<group>, idgate.dev/service-account)');
      continue;
    }
    let positive = false;
    for (const key of Object.keys(sel.matchLabels ?? {})) {
      if (isIdentityLabel(key)) positive = true;
      else add(base().child('matchLabels').key(key), `selects by label ${quote(key)}, which any Pod may set; select by identity labels instead`);
    }
    asArray<{ key?: string; operator?: string }>(sel.matchExpressions).forEach((expr, k) => {
      const key = String(expr?.key ?? '');
      if (!isIdentityLabel(key))
        add(base().child('matchExpressions').index(k).child('key'), `selects by label ${quote(key)}, which any Pod may set; select by identity labels instead`);
      else if (expr?.operator === 'In' || expr?.operator === 'Exists') positive = true;
    });
    const allIdentity =
      Object.keys(sel.matchLabels ?? {}).every(isIdentityLabel) &&
      asArray<{ key?: string }>(sel.matchExpressions).every((e) => isIdentityLabel(String(e?.key ?? '')));
    if (allIdentity && !positive)
      add(base(), 'selects only by the absence of identity labels (NotIn/DoesNotExist), which also admits Pods with no identity; require a group label');
  }
  return findings;
};

/**
 * networkpolicy-ipblock-world: ingress from every address, whatever `except` carves out: a
 * `/0` CIDR, or the CIDRs of one ingress rule that together cover a whole address family
 * (`0.0.0.0/1` and `128.0.0.0/1`), which is the same opening written to slip past a `/0` check.
 */
export const networkpolicyIpblockWorld: Rule<NetworkPolicy> = (object, _old, ctx) => {
  if (object === undefined || !writes(ctx)) return [];
  const findings: Finding[] = [];
  asArray<{ from?: unknown }>(object.spec?.ingress).forEach((rule, i) => {
    const blocks: Array<{ cidr: string; range: CidrRange; j: number }> = [];
    asArray<NetworkPolicyPeer>(rule?.from).forEach((peer, j) => {
      const cidr = peer?.ipBlock?.cidr;
      const range = typeof cidr === 'string' ? parseCidr(cidr) : undefined;
      if (range) blocks.push({ cidr: cidr!, range, j });
    });
    for (const family of [4, 6] as const) {
      const ofFamily = blocks.filter((b) => b.range.family === family);
      const world = ofFamily.filter((b) => coversEveryAddress([b.range], family));
      for (const b of world) {
        findings.push({
          rule: 'networkpolicy-ipblock-world',
          path: peerPath(i, b.j).child('ipBlock', 'cidr').toString(),
          message: `${quote(b.cidr)} admits every address, cluster Pods included; name the external ranges, and callers in the cluster by identity labels`,
        });
      }
      if (
        world.length === 0 &&
        coversEveryAddress(
          ofFamily.map((b) => b.range),
          family,
        )
      ) {
        findings.push({
          rule: 'networkpolicy-ipblock-world',
          path: INGRESS.index(i).child('from').toString(),
          message: `ipBlocks ${ofFamily.map((b) => quote(b.cidr)).join(', ')} together admit every IPv${family} address, cluster Pods included; name the external ranges, and callers in the cluster by identity labels`,
        });
      }
    }
  });
  return findings;
};

/** Every selector of the policy (the target, ingress and egress peers), with its path, built when asked for. */
function allSelectors(np: NetworkPolicy): Array<{ sel: LabelSelector; path: () => FieldPath }> {
  const out: Array<{ sel: LabelSelector; path: () => FieldPath }> = [];
  if (isRecord(np.spec?.podSelector)) out.push({ sel: np.spec.podSelector, path: () => SPEC.child('podSelector') });
  for (const [section, peersKey] of [
    ['ingress', 'from'],
    ['egress', 'to'],
  ] as const) {
    asArray<Record<string, unknown>>(np.spec?.[section]).forEach((rule, i) => {
      asArray<NetworkPolicyPeer>(rule?.[peersKey]).forEach((peer, j) => {
        if (isRecord(peer?.podSelector))
          out.push({ sel: peer.podSelector, path: () => SPEC.child(section).index(i).child(peersKey).index(j).child('podSelector') });
      });
    });
  }
  return out;
}

/**
 * networkpolicy-unknown-group (warnOnly): a group label no binding provides is most likely a
 * typo, or a group not bound yet; the policy then matches nothing. A warning, never a denial —
 * also while the identity cache syncs, as there is nothing to deny on.
 */
export const networkpolicyUnknownGroup: Rule<NetworkPolicy> = (object, _old, ctx) => {
  if (object === undefined || !writes(ctx)) return [];
  const findings: Finding[] = [];
  for (const { sel, path } of allSelectors(object)) {
    // The selector's keys in order: matchLabels' keys, then matchExpressions' (k counts both).
    const labels = Object.keys(sel.matchLabels ?? {});
    const expressions = asArray<{ key?: string }>(sel.matchExpressions);
    for (let k = 0; k < labels.length + expressions.length; k++) {
      const key = k < labels.length ? labels[k]! : String(expressions[k - labels.length]?.key ?? '');
      if (!key.startsWith(GROUP_LABEL_PREFIX)) continue;
      const keyPath = (): string =>
        (k < labels.length
          ? path().child('matchLabels').key(key)
          : path()
              .child('matchExpressions')
              .index(k - labels.length)
              .child('key')
        ).toString();
      if (!ctx.identity.ready())
        return [{ rule: 'networkpolicy-unknown-group', path: keyPath(), message: UNAVAILABLE_MESSAGE, warnOnly: true, unavailable: true }];
      if (ctx.identity.providesGroupLabel(key.slice(GROUP_LABEL_PREFIX.length), ctx.baseline.trustedIssuerSet)) continue;
      findings.push({
        rule: 'networkpolicy-unknown-group',
        path: keyPath(),
        warnOnly: true,
        message: `no OIDCGroupBinding with a trusted issuer provides ${quote(key)}, so this matches no Pod; check the name with idgate label-for-group`,
      });
    }
  }
  return findings;
};
