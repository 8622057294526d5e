/**
 * A complete, frozen {@link Baseline} for tests everywhere: the values of the example baseline
 * (examples/baseline.yaml, docs/design.md#baseline), with the defaults the loader applies. Tests
 * override only what they are about.
 */
import type { Baseline, SidecarConfig } from '../../src/config/baseline.ts';

/** What a test may override; `sidecar` and `identity` are merged field by field. */
export type BaselineOverrides = Partial<Omit<Baseline, 'sidecar' | 'identity' | 'trustedIssuerSet'>> & {
  readonly sidecar?: Partial<SidecarConfig>;
  readonly identity?: Partial<Baseline['identity']>;
};

export const TEST_ISSUER = 'https://keycloak.example.com/realms/prod';
export const TEST_SIDECAR_IMAGE = 'registry.example.com/idgate:0.1.0';

/**
 * Builds the example baseline with `overrides` applied. `trustedIssuerSet` always mirrors
 * `trustedIssuers`, and `sidecar.issuers` defaults to `trustedIssuers` as the loader does.
 * The result is deeply frozen, like the loader's, so a test that mutates it fails loudly.
 */
export function testBaseline(overrides: BaselineOverrides = {}): Baseline {
  const { sidecar, identity, ...top } = overrides;
  const trustedIssuers = top.trustedIssuers ?? [TEST_ISSUER];
  const baseline: Baseline = {
    apiVersion: 'idgate.dev/v1alpha1',
    kind: 'IdentityBaseline',
    mode: 'enforce',
    mutation: 'apply',
    exemptNamespaces: ['kube-system', 'kube-public', 'kube-node-lease', 'idgate-system'],
    namespaces: {
      payments: { allowedGroups: ['payments-*', 'ledger-readers'] },
      sandbox: { mode: 'audit' },
    },
    rules: { 'networkpolicy-identity-peers': 'audit' },
    ...top,
    trustedIssuers,
    trustedIssuerSet: new Set(trustedIssuers),
    identity: { maxGroupsPerServiceAccount: 8, onUnavailable: 'deny', ...identity },
    sidecar: {
      image: TEST_SIDECAR_IMAGE,
      acceptedImages: [],
      mode: 'native',
      port: 4180,
      audience: 'idgate',
      issuers: trustedIssuers,
      tokenExpirationSeconds: 3600,
      resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } },
      allowOptOut: true,
      ...sidecar,
    },
  };
  return deepFreeze(baseline);
}

function deepFreeze<T>(value: T): T {
  // A Set cannot be frozen into immutability (Object.freeze leaves add() working); the type
  // is ReadonlySet, which is what keeps callers honest.
  if (value === null || typeof value !== 'object' || value instanceof Set || Object.isFrozen(value)) return value;
  for (const v of Object.values(value)) deepFreeze(v);
  return Object.freeze(value);
}
