/**
 * The values of an injecting patch that depend only on the baseline and a few per-Pod inputs:
 * the sidecar container, the token volume, its mount, the sidecar's credentials volume.
 * {@link FRESH_PARTS} builds them on every call (the audit, the validation rules, tests);
 * {@link createPartsCache}, owned by the mutating handler, builds each once and keeps its JSON
 * text, so the answer is assembled from ready text (patchJson in patch.ts) instead of serializing
 * the whole patch on every review. Both give equal values (test/mutate/parts.test.ts).
 */
import type { Container, Volume } from '../admission/k8s.ts';
import type { PatchOperation } from '../admission/types.ts';
import type { SidecarConfig } from '../config/baseline.ts';
import type { IdentityResolver } from '../identity/types.ts';
import { computeIdentity } from './identity.ts';
import { prepareIdentity, type PreparedIdentity } from './metadata.ts';
import { buildSidecar, type SidecarParams } from './sidecar.ts';
import { kubeApiVolume, tokenVolume, tokenVolumeMount, type VolumeParts } from './volume.ts';

/** Who a Pod is: its ServiceAccount, and the version for `idgate.dev/injected` when it carries the sidecar. */
export interface IdentityKey {
  readonly resolver: IdentityResolver;
  readonly trustedIssuers: ReadonlySet<string>;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly injectedVersion: string | undefined;
}

/** Where the mutation gets the sidecar, its volumes and the Pod's identity metadata. */
export interface PatchParts extends VolumeParts {
  sidecar(params: SidecarParams): Container;
  /** The identity metadata (metadata.ts); without groups while the resolver is not ready. */
  identity(key: IdentityKey): PreparedIdentity;
}

function freshIdentity(k: IdentityKey, keep?: (op: PatchOperation) => void): PreparedIdentity {
  const resolved = k.resolver.ready() ? k.resolver.resolve(k.namespace, k.serviceAccount, k.trustedIssuers) : undefined;
  return prepareIdentity(computeIdentity(k.serviceAccount, resolved, k.injectedVersion), keep);
}

/** Every value built anew on each call. */
export const FRESH_PARTS: PatchParts = { sidecar: buildSidecar, tokenVolume, tokenVolumeMount, kubeApiVolume, identity: (k) => freshIdentity(k) };

/**
 * (namespace, ServiceAccount) identities kept: one per ServiceAccount that has Pods, a few hundred
 * bytes each. Past it the oldest is dropped.
 */
export const MAX_CACHED_IDENTITIES = 4096;

/**
 * Distinct (upstream port, proxy port, allowed groups) sidecars kept per baseline: one per
 * distinct workload setting, about 3 KB each (object and text). Past it the oldest is dropped.
 */
export const MAX_CACHED_SIDECARS = 512;

/** {@link PatchParts} that keeps what it builds, with `json`: the JSON text of every value it returned. */
export interface PartsCache extends PatchParts {
  readonly json: WeakMap<object, string>;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Adds `value` under `key`, dropping the oldest entry when `map` holds `max`. */
function bounded<V>(map: Map<string, V>, max: number, key: string, value: V): V {
  if (map.size >= max) map.delete(map.keys().next().value!);
  map.set(key, value);
  return value;
}

/**
 * Identities kept per (namespace, ServiceAccount, injected version) while the resolver's
 * generation, the resolver and the trusted issuers (a baseline reload brings a new set) stay
 * the same; a resolver without a generation, or not ready, is asked every time.
 */
function identityCache(keep: <T extends object>(value: T) => T): PatchParts['identity'] {
  const identities = new Map<string, PreparedIdentity>();
  let resolver: IdentityResolver | undefined;
  let trusted: ReadonlySet<string> | undefined;
  let generation: number | undefined;
  return (k) => {
    const now = k.resolver.ready() ? k.resolver.generation?.() : undefined;
    if (now === undefined) return freshIdentity(k);
    if (now !== generation || k.resolver !== resolver || k.trustedIssuers !== trusted) {
      identities.clear();
      [resolver, trusted, generation] = [k.resolver, k.trustedIssuers, now];
    }
    const key = `${k.injectedVersion ?? ''}\n${k.namespace}/${k.serviceAccount}`;
    return identities.get(key) ?? bounded(identities, MAX_CACHED_IDENTITIES, key, deepFreeze(freshIdentity(k, keep)));
  };
}

/**
 * Parts built once per sidecar configuration (a baseline reload brings a new one, which empties
 * the cache) and frozen: every answer shares them. The sidecar is keyed by the per-Pod inputs of
 * {@link SidecarParams}.
 */
export function createPartsCache(): PartsCache {
  const json = new WeakMap<object, string>();
  const keep = <T extends object>(value: T): T => {
    json.set(deepFreeze(value), JSON.stringify(value));
    return value;
  };
  const mount = keep(tokenVolumeMount());
  const kubeApi = keep(kubeApiVolume());
  let config: SidecarConfig | undefined;
  let token: Volume | undefined;
  const sidecars = new Map<string, Container>();
  const sameConfig = (c: SidecarConfig) => {
    if (c === config) return;
    config = c;
    token = undefined;
    sidecars.clear();
  };
  return {
    json,
    sidecar(p) {
      sameConfig(p.config);
      // Allowed groups never contain a comma (parseAllowedGroups splits on it).
      const key = `${p.upstreamPort} ${p.proxyPort} ${p.allowedGroups.join(',')}`;
      let sidecar = sidecars.get(key);
      if (sidecar === undefined) {
        sidecar = bounded(sidecars, MAX_CACHED_SIDECARS, key, keep(buildSidecar(p)));
      }
      return sidecar;
    },
    tokenVolume(c) {
      sameConfig(c);
      token ??= keep(tokenVolume(c));
      return token;
    },
    tokenVolumeMount: () => mount,
    kubeApiVolume: () => kubeApi,
    identity: identityCache(keep),
  };
}
