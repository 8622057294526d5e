/**
 * `idgate webhook --manage-certs` (SPEC section 6): keeps a CA and a serving certificate in a
 * Secret, renews them before they expire, writes the files the server hot-reloads and puts the
 * CA bundle into the webhook configurations. Safe with several replicas: the Secret is the only
 * shared state, created with a conflict check and replaced with optimistic concurrency, so the
 * replicas converge on one CA. The Kubernetes I/O sits behind {@link CertsApi}
 * (src/kube/certs-client.ts), so this file never imports client-node.
 *
 * Rotation, precisely (times are the certificates' own, read back from the Secret; a
 * certificate's *issue time* is its notBefore plus the 5 minutes generate.ts backdates it by):
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
 *
 * Replicas: each reconcile reads the Secret, writes it only if a rule above asks for a change
 * (a 409 means another replica wrote first: re-read and decide again from what it wrote), then
 * patches only the `caBundle` values that differ from the Secret's bundle. Replicas that have
 * read the same Secret therefore never write anything; one that patched from a Secret read just
 * before a rotation is corrected at the next reconcile, well within `graceMs`.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CA_FILE, CERT_FILE, KEY_FILE, writeCertFiles } from './files.ts';
import { createCA, issueCertificate } from './generate.ts';
import { readTlsFiles } from './source.ts';

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

/** A Secret as read: its managed data, and the version to replace it at. */
export interface StoredSecret {
  readonly data: SecretData;
  readonly resourceVersion: string;
  /** The object as read, opaque here: the client keeps its other fields when replacing it. */
  readonly object?: unknown;
}

export const ERR_CERTS_CONFLICT = 'ERR_CERTS_CONFLICT';

/** Another writer got there first (create: 409 AlreadyExists; replace: 409 Conflict). Re-read and re-decide. */
export class CertsConflictError extends Error {
  readonly code = ERR_CERTS_CONFLICT;
  readonly reason: 'AlreadyExists' | 'Conflict';

  constructor(reason: 'AlreadyExists' | 'Conflict', message: string) {
    super(message);
    this.name = 'CertsConflictError';
    this.reason = reason;
  }
}

/** One of the two webhook configurations whose `caBundle` is managed. */
export interface WebhookConfigRef {
  readonly kind: 'mutating' | 'validating';
  readonly name: string;
}

/** One entry of `webhooks[]`: its name and its current `clientConfig.caBundle` (base64). */
export interface WebhookEntry {
  readonly name: string;
  readonly caBundle?: string;
}

/** The Kubernetes I/O the manager needs (implemented by src/kube/certs-client.ts). */
export interface CertsApi {
  /** The Secret, or undefined if it does not exist. */
  readSecret(): Promise<StoredSecret | undefined>;
  /** Creates the Secret; throws {@link CertsConflictError} if it exists. */
  createSecret(data: SecretData): Promise<StoredSecret>;
  /** Replaces the Secret at `current.resourceVersion`; throws {@link CertsConflictError} if it changed since. */
  replaceSecret(current: StoredSecret, data: SecretData): Promise<StoredSecret>;
  /** The entries of a webhook configuration, in order; throws if it cannot be read. */
  readWebhooks(config: WebhookConfigRef): Promise<readonly WebhookEntry[]>;
  /** Sets `clientConfig.caBundle` of the given entries (by index, guarded by name), leaving every other field. */
  patchCABundle(config: WebhookConfigRef, entries: ReadonlyArray<{ index: number; name: string }>, caBundle: string): Promise<void>;
}

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
/** generate.ts starts every certificate's validity 5 minutes early (clock skew between nodes). */
const BACKDATE_MS = 5 * 60 * 1000;

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
  const ca = caCert && caCert.x509.ca && keyMatches(caCert, caKey) ? { ...caCert, key: caKey } : undefined;
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
export interface Decision {
  readonly newCA: boolean;
  /** The old CA certificate to keep as `ca-previous.crt` after a new CA (undefined: none). */
  readonly keepAsPrevious?: string;
  readonly issueServing: boolean;
  readonly dropPrevious: boolean;
  readonly reasons: readonly string[];
}

/** Whether anything changes. */
export const changes = (d: Decision): boolean => d.newCA || d.issueServing || d.dropPrevious;

/** Decides what to renew, from the Secret's state and the time. Pure: see the file comment for the rules. */
export function decide(state: CertState, now: number, policy: RotationPolicy): Decision {
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
    reasons.push(!s ? 'no usable serving certificate' : !trusted ? 'the serving certificate is not signed by a CA in the bundle'
      : !s.coversHosts ? 'the serving certificate lacks a Service name' : 'the serving certificate has expired');
  } else if (due(s, policy.servingLifetimeMs) || (hasPrevious && (newCA || s.signer === 'previous'))) {
    // Renewal, or the re-issue step of a CA rotation: only once the new CA is in every bundle.
    if (propagated || !hasPrevious) {
      issueServing = true;
      reasons.push(due(s, policy.servingLifetimeMs) ? `the serving certificate expires at ${iso(s.notAfter)}` : 'the serving certificate is re-issued by the new CA');
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
export function applyDecision(state: CertState, decision: Decision, options: { now: number; hosts: readonly string[]; policy: RotationPolicy }): SecretData {
  const { now, hosts, policy } = options;
  const ca = decision.newCA
    ? createCA({ days: policy.caLifetimeMs / DAY_MS, now: new Date(now) })
    : { cert: state.ca!.pem, key: state.ca!.key };
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

export interface CertManagerOptions {
  readonly api: CertsApi;
  /** Where the server reads `tls.crt`/`tls.key` (and `ca.crt`, the bundle). */
  readonly tlsDir: string;
  /** Names the serving certificate must be valid for: serviceHosts(service, namespace). */
  readonly hosts: readonly string[];
  /** The webhook configurations whose every entry gets the CA bundle. */
  readonly webhookConfigs: readonly WebhookConfigRef[];
  readonly logger: Logger;
  readonly policy?: Partial<RotationPolicy>;
  /** How often to re-check, ms (default 1 hour). */
  readonly intervalMs?: number;
  /** Retry delay after a failure, ms (default 1 s doubling to 5 minutes). */
  readonly backoffMs?: { readonly initial: number; readonly max: number };
  readonly now?: () => number;
}

/** What one {@link CertManager.ensure} did. */
export interface EnsureResult {
  /** Why the Secret was written (empty: it was left as it was). */
  readonly reasons: readonly string[];
  readonly filesWritten: boolean;
  /** `kind/name` of each webhook configuration that was patched. */
  readonly patched: readonly string[];
}

export interface CertManager {
  /** One reconcile: Secret, files, caBundles. Throws on failure (the loop logs and retries). */
  ensure(): Promise<EnsureResult>;
  /**
   * Runs the first reconcile, retrying with backoff until the TLS files exist (written now, or
   * left by an earlier run), then keeps reconciling every interval in the background.
   */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A Secret re-read this many times in one reconcile means something is writing it in a loop. */
const MAX_CONFLICTS = 5;

/** Creates the manager; see the file comment for the rotation rules. */
export function createCertManager(options: CertManagerOptions): CertManager {
  const { api, tlsDir, hosts, webhookConfigs } = options;
  const logger = options.logger.child({ component: 'cert-manager' });
  const policy = resolvePolicy(options.policy);
  const intervalMs = options.intervalMs ?? 60 * 60 * 1000;
  // Every replica must re-read the Secret within the grace, or the old CA could leave the bundle
  // while a replica still serves a certificate it signed.
  if (policy.graceMs <= intervalMs) {
    throw new RangeError(`the rotation grace (${policy.graceMs} ms) must exceed the reconcile interval (${intervalMs} ms)`);
  }
  const backoff = options.backoffMs ?? { initial: 1000, max: 5 * 60 * 1000 };
  const now = options.now ?? Date.now;
  const files = { ca: join(tlsDir, CA_FILE), cert: join(tlsDir, CERT_FILE), key: join(tlsDir, KEY_FILE) };

  async function settleSecret(): Promise<{ data: SecretData; reasons: readonly string[] }> {
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      const current = await api.readSecret();
      const state = readState(current?.data ?? {}, hosts);
      const t = now();
      const decision = decide(state, t, policy);
      if (current && !changes(decision)) return { data: current.data, reasons: [] };
      const data = applyDecision(state, decision, { now: t, hosts, policy });
      try {
        const stored = current ? await api.replaceSecret(current, data) : await api.createSecret(data);
        logger.info({ reasons: decision.reasons, newCA: decision.newCA, issued: decision.issueServing, droppedPrevious: decision.dropPrevious }, current ? 'certificate Secret updated' : 'certificate Secret created');
        return { data: stored.data, reasons: decision.reasons };
      } catch (err) {
        if (!(err instanceof CertsConflictError)) throw err;
        // Another replica wrote first: its CA wins; re-read and decide again from what it wrote.
        logger.debug({ reason: err.reason }, 'another replica wrote the certificate Secret first; re-reading');
      }
    }
    throw new Error(`the certificate Secret changed under every one of ${MAX_CONFLICTS} attempts; retrying later`);
  }

  async function writeFiles(data: SecretData): Promise<boolean> {
    const want = { ca: caBundleOf(data), cert: data[SECRET_KEYS.cert] ?? '', key: data[SECRET_KEYS.key] ?? '' };
    // Compared with the disk, not a memory of the last write: files removed or edited by hand are restored.
    const onDisk = await readCurrentFiles();
    if (onDisk && onDisk.ca === want.ca && onDisk.cert === want.cert && onDisk.key === want.key) return false;
    await writeCertFiles(tlsDir, want);
    return true;
  }

  async function readCurrentFiles(): Promise<{ ca: string; cert: string; key: string } | undefined> {
    try {
      return { ca: await readFile(files.ca, 'utf8'), cert: await readFile(files.cert, 'utf8'), key: await readFile(files.key, 'utf8') };
    } catch {
      return undefined;
    }
  }

  async function patchBundles(data: SecretData): Promise<string[]> {
    const want = Buffer.from(caBundleOf(data)).toString('base64');
    const patched: string[] = [];
    const failures: string[] = [];
    for (const config of webhookConfigs) {
      const id = `${config.kind}/${config.name}`;
      try {
        const entries = await api.readWebhooks(config);
        const stale = entries.flatMap((e, index) => (e.caBundle === want ? [] : [{ index, name: e.name }]));
        // Only when it differs: replicas that agree on the Secret never write here.
        if (stale.length === 0) continue;
        await api.patchCABundle(config, stale, want);
        patched.push(id);
        logger.info({ config: id, webhooks: stale.map((s) => s.name) }, 'caBundle updated');
      } catch (err) {
        failures.push(`${id}: ${(err as Error).message}`);
      }
    }
    if (failures.length > 0) throw new Error(`cannot set caBundle in ${failures.join('; ')}`);
    return patched;
  }

  async function ensure(): Promise<EnsureResult> {
    const { data, reasons } = await settleSecret();
    // Files before caBundles: a webhook configuration that cannot be patched must not keep the
    // server from starting. Safe, because a serving certificate is only issued by a CA that has
    // been in the bundle for graceMs (see the file comment).
    const filesWritten = await writeFiles(data);
    const patched = await patchBundles(data);
    return { reasons, filesWritten, patched };
  }

  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = false;
  let failures = 0;

  const delayAfterFailure = () => Math.min(backoff.initial * 2 ** Math.min(failures - 1, 30), backoff.max);
  const attempt = async (): Promise<boolean> => {
    try {
      running = ensure();
      await running;
      failures = 0;
      return true;
    } catch (err) {
      failures++;
      logger.error({ err: (err as Error).message, failures, retryInMs: delayAfterFailure() }, 'certificate management failed; serving the last good files and retrying');
      return false;
    } finally {
      running = undefined;
    }
  };
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => void attempt().then((ok) => schedule(ok ? intervalMs : delayAfterFailure())), ms);
    timer.unref();
  };
  const sleep = (ms: number) => new Promise<void>((resolve) => {
    wake = resolve;
    timer = setTimeout(resolve, ms);
  });
  const filesUsable = (): boolean => {
    try {
      readTlsFiles(files.cert, files.key);
      return true;
    } catch {
      return false;
    }
  };

  return {
    ensure,
    async start() {
      for (;;) {
        if (stopped) throw new Error('certificate manager stopped before the TLS files could be written');
        if (await attempt()) return schedule(intervalMs);
        if (filesUsable()) return schedule(delayAfterFailure());
        await sleep(delayAfterFailure());
      }
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      wake?.();
      await running?.catch(() => undefined);
    },
  };
}
