/**
 * Certificate rotation for `idgate webhook --manage-certs` (docs/design.md#certificates), as pure decisions:
 * what the Secret holds and the time → what to renew; then the new Secret data and the CA bundle.
 * The manager that reads and writes the Secret (src/certs/managed.ts) acts on these decisions.
 *
 * Rotation, precisely (times are the certificates' own, read back from the Secret; a
 * certificate's *issue time* is its notBefore plus {@link BACKDATE_MS}, the 5 minutes
 * generate.ts backdates it by):
 * 1. **CA renewal.** When less than `renewFraction` of `caLifetimeMs` remains (or there is no
 *    usable CA), a new CA is made; the old CA certificate moves to `ca-previous.crt` and the
 *    serving certificate it signed stays in use. The bundle (`ca.crt` file, `caBundle`) is now
 *    new + old, so either signer is trusted.
 * 2. **Re-issue.** Once `graceMs` has passed since the new CA's issue time (every replica has
 *    re-read the Secret and patched `caBundle`, which the API servers pick up by watch), the
 *    serving certificate is re-issued by the new CA. A serving certificate that is missing,
 *    broken, expired or lacks a Service name is re-issued at once instead: nothing to protect.
 * 3. **Drop.** Once the serving certificate is signed by the current CA and `graceMs` has passed
 *    since its issue time (every replica writes it to its files within one `intervalMs`, which
 *    is why `graceMs` must exceed it), `ca-previous.crt` is removed: no certificate signed by the
 *    old CA is served any more. An expired previous CA is dropped at any time.
 * The serving certificate is renewed when less than `renewFraction` of `servingLifetimeMs`
 * remains; its lifetime never extends past its CA's.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { BACKDATE_MS, createCA, issueCertificate } from './generate.ts';

/** The Secret's keys this module owns; other keys in the Secret are left alone. */
export const SECRET_KEYS = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  previousCA: 'ca-previous.crt',
  cert: 'tls.crt',
  key: 'tls.key',
} as const;
export const MANAGED_KEYS: readonly string[] = Object.values(SECRET_KEYS);

/** Secret data as text (PEM), keyed like {@link SECRET_KEYS}. */
export type SecretData = Readonly<Record<string, string>>;

/** When certificates are renewed. */
export interface RotationPolicy {
  /** Lifetime of a new CA, ms (default 3650 days, as `idgate certs generate`). */
  readonly caLifetimeMs: number;
  /** Lifetime of a new serving certificate, ms (default 90 days). */
  readonly servingLifetimeMs: number;
  /** Renew a certificate once less than this fraction of its lifetime remains (default 1/3). */
  readonly renewFraction: number;
  /** Wait between the rotation steps, ms (default 2 hours); must exceed the manager's interval. */
  readonly graceMs: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export const DEFAULT_POLICY: RotationPolicy = {
  caLifetimeMs: 3650 * DAY_MS,
  servingLifetimeMs: 90 * DAY_MS,
  renewFraction: 1 / 3,
  graceMs: 2 * 60 * 60 * 1000,
};

/**
 * Completes and checks a policy. The CA's renewal window must hold a whole serving lifetime and
 * both grace periods, so a serving certificate never needs its CA's lifetime cut short.
 */
export function resolvePolicy(partial: Partial<RotationPolicy> = {}): RotationPolicy {
  const p = { ...DEFAULT_POLICY, ...partial };
  if (!(p.renewFraction > 0 && p.renewFraction < 1)) throw new RangeError(`renewFraction must be between 0 and 1, got ${p.renewFraction}`);
  if (!(p.graceMs >= 0)) throw new RangeError(`graceMs must not be negative, got ${p.graceMs}`);
  if (p.caLifetimeMs * p.renewFraction <= p.servingLifetimeMs + 2 * p.graceMs) {
    throw new RangeError('caLifetimeMs × renewFraction must exceed servingLifetimeMs + 2 × graceMs, or a serving certificate could outlive its CA');
  }
  return p;
}

/** A parsed certificate. */
export interface ParsedCert {
  readonly pem: string;
  readonly x509: X509Certificate;
  readonly issuedAt: number;
  readonly notAfter: number;
}

/** What the Secret holds, checked: unusable entries are absent. */
export interface CertState {
  /** The current CA, if its certificate parses, is a CA and its key matches. */
  readonly ca?: ParsedCert & { readonly key: string };
  /** A CA certificate that parses, even without a usable key (it can still be trusted). */
  readonly caCertOnly?: ParsedCert;
  readonly previousCA?: ParsedCert;
  /** The serving pair, if both parse and the key matches. */
  readonly serving?: ParsedCert & {
    readonly key: string;
    readonly signer: 'current' | 'previous' | 'other';
    /** Every required host is among its subjectAltNames. */
    readonly coversHosts: boolean;
  };
}

function parseCert(pem: string | undefined): ParsedCert | undefined {
  if (!pem) return undefined;
  try {
    const x509 = new X509Certificate(pem);
    return { pem, x509, issuedAt: Date.parse(x509.validFrom) + BACKDATE_MS, notAfter: Date.parse(x509.validTo) };
  } catch {
    return undefined;
  }
}

function keyMatches(cert: ParsedCert, key: string | undefined): key is string {
  if (!key) return false;
  try {
    return cert.x509.checkPrivateKey(createPrivateKey(key));
  } catch {
    return false;
  }
}

const signedBy = (leaf: ParsedCert, ca: ParsedCert | undefined): boolean =>
  ca !== undefined && leaf.x509.checkIssued(ca.x509) && leaf.x509.verify(ca.x509.publicKey);

/** The names in a certificate's subjectAltName (`DNS:a, IP Address:1.2.3.4`). */
function sanNames(x509: X509Certificate): Set<string> {
  return new Set((x509.subjectAltName ?? '').split(', ').map((s) => s.slice(s.indexOf(':') + 1)));
}

/** Parses and checks the Secret's data. Pure. */
export function readState(data: SecretData, hosts: readonly string[]): CertState {
  const caCert = parseCert(data[SECRET_KEYS.caCert]);
  const caKey = data[SECRET_KEYS.caKey];
  const ca = caCert?.x509.ca && keyMatches(caCert, caKey) ? { ...caCert, key: caKey } : undefined;
  const previousCA = parseCert(data[SECRET_KEYS.previousCA]);
  const leaf = parseCert(data[SECRET_KEYS.cert]);
  const leafKey = data[SECRET_KEYS.key];
  let serving: CertState['serving'];
  if (leaf && keyMatches(leaf, leafKey)) {
    const signer = signedBy(leaf, ca) ? 'current' : signedBy(leaf, previousCA) ? 'previous' : 'other';
    const names = sanNames(leaf.x509);
    serving = { ...leaf, key: leafKey, signer, coversHosts: hosts.every((h) => names.has(h)) };
  }
  return { ...(ca ? { ca } : {}), ...(caCert ? { caCertOnly: caCert } : {}), ...(previousCA ? { previousCA } : {}), ...(serving ? { serving } : {}) };
}

/** What to change in the Secret, and why. */
export interface RotationDecision {
  readonly newCA: boolean;
  /** The old CA certificate to keep as `ca-previous.crt` after a new CA (undefined: none). */
  readonly keepAsPrevious?: string;
  readonly issueServing: boolean;
  readonly dropPrevious: boolean;
  readonly reasons: readonly string[];
}

/** Whether anything changes. */
export const changes = (d: RotationDecision): boolean => d.newCA || d.issueServing || d.dropPrevious;

/** Decides what to renew, from the Secret's state and the time. Pure: see the file comment for the rules. */
export function decide(state: CertState, now: number, policy: RotationPolicy): RotationDecision {
  const reasons: string[] = [];
  const due = (c: ParsedCert, lifetime: number) => c.notAfter - now < lifetime * policy.renewFraction;
  const iso = (t: number) => new Date(t).toISOString();

  let newCA = false;
  let keepAsPrevious: string | undefined;
  if (!state.ca) {
    newCA = true;
    reasons.push(state.caCertOnly ? 'the CA in the Secret is unusable (not a CA, or its key is missing or does not match)' : 'no CA in the Secret');
  } else if (due(state.ca, policy.caLifetimeMs)) {
    newCA = true;
    reasons.push(`the CA expires at ${iso(state.ca.notAfter)}`);
  }
  // The outgoing CA stays trusted for the overlap, if it is a CA at all and still valid.
  if (newCA && state.caCertOnly?.x509.ca && state.caCertOnly.notAfter > now) keepAsPrevious = state.caCertOnly.pem;

  // The CA that signs after this decision, and whether its certificate has reached every API server.
  const caIssuedAt = newCA ? now : state.ca!.issuedAt;
  const propagated = now >= caIssuedAt + policy.graceMs;
  const hasPrevious = newCA ? keepAsPrevious !== undefined : state.previousCA !== undefined;
  const s = state.serving;
  // A serving certificate still trusted after this decision: signed by a CA in the bundle.
  const trusted = s !== undefined && (newCA ? s.signer === 'current' && keepAsPrevious !== undefined : s.signer !== 'other');

  let issueServing = false;
  if (!s || !trusted || !s.coversHosts || s.notAfter <= now) {
    issueServing = true;
    reasons.push(
      !s
        ? 'no usable serving certificate'
        : !trusted
          ? 'the serving certificate is not signed by a CA in the bundle'
          : !s.coversHosts
            ? 'the serving certificate lacks a Service name'
            : 'the serving certificate has expired',
    );
  } else if (due(s, policy.servingLifetimeMs) || (hasPrevious && (newCA || s.signer === 'previous'))) {
    // Renewal, or the re-issue step of a CA rotation: only once the new CA is in every bundle.
    if (propagated || !hasPrevious) {
      issueServing = true;
      reasons.push(
        due(s, policy.servingLifetimeMs) ? `the serving certificate expires at ${iso(s.notAfter)}` : 'the serving certificate is re-issued by the new CA',
      );
    }
  }

  let dropPrevious = false;
  if (!newCA && state.previousCA) {
    if (state.previousCA.notAfter <= now) {
      dropPrevious = true;
      reasons.push('the previous CA has expired');
    } else if (!issueServing && s?.signer === 'current' && now >= s.issuedAt + policy.graceMs) {
      dropPrevious = true;
      reasons.push('no serving certificate signed by the previous CA is in use any more');
    }
  }
  return { newCA, ...(keepAsPrevious ? { keepAsPrevious } : {}), issueServing, dropPrevious, reasons };
}

/** Builds the Secret data a decision asks for (generates keys: not pure, but deterministic in shape). */
export function applyDecision(
  state: CertState,
  decision: RotationDecision,
  options: { now: number; hosts: readonly string[]; policy: RotationPolicy },
): SecretData {
  const { now, hosts, policy } = options;
  const ca = decision.newCA ? createCA({ days: policy.caLifetimeMs / DAY_MS, now: new Date(now) }) : { cert: state.ca!.pem, key: state.ca!.key };
  const caNotAfter = decision.newCA ? now + policy.caLifetimeMs : state.ca!.notAfter;
  const previous = decision.newCA ? decision.keepAsPrevious : decision.dropPrevious ? undefined : state.previousCA?.pem;
  const serving = decision.issueServing
    ? issueCertificate(ca, {
        commonName: hosts[0] ?? 'idgate-webhook',
        hosts,
        days: Math.min(policy.servingLifetimeMs, caNotAfter - now) / DAY_MS,
        usage: 'server',
        now: new Date(now),
      })
    : { cert: state.serving!.pem, key: state.serving!.key };
  return {
    [SECRET_KEYS.caCert]: ca.cert,
    [SECRET_KEYS.caKey]: ca.key,
    ...(previous ? { [SECRET_KEYS.previousCA]: previous } : {}),
    [SECRET_KEYS.cert]: serving.cert,
    [SECRET_KEYS.key]: serving.key,
  };
}

/** The PEM bundle to trust: the current CA, then the previous one during a rotation. */
export function caBundleOf(data: SecretData): string {
  const pems = [data[SECRET_KEYS.caCert], data[SECRET_KEYS.previousCA]].filter((p): p is string => !!p);
  return pems.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join('');
}
