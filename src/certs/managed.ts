/**
 * `idgate webhook --manage-certs` (docs/design.md#certificates): keeps a CA and a serving certificate in a
 * Secret, renews them before they expire, writes the files the server hot-reloads and puts the
 * CA bundle into the webhook configurations. Safe with several replicas: the Secret is the only
 * shared state, created with a conflict check and replaced with optimistic concurrency, so the
 * replicas converge on one CA. The Kubernetes I/O sits behind {@link CertsApi}
 * (src/kube/certs-client.ts), so this file never imports client-node.
 *
 * What to renew and when is decided in src/certs/rotation.ts (the CA overlap, re-issue and drop
 * rules); this file does the I/O around those decisions, and retries with backoff.
 *
 * Replicas: each reconcile reads the Secret, writes it only if a rotation rule asks for a change
 * (a 409 means another replica wrote first: re-read and decide again from what it wrote), then
 * patches only the `caBundle` values that differ from the Secret's bundle. Replicas that have
 * read the same Secret therefore never write anything; one that patched from a Secret read just
 * before a rotation is corrected at the next reconcile, well within `graceMs`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CA_FILE, CERT_FILE, KEY_FILE, writeCertFiles } from './files.ts';
import { SECRET_KEYS, applyDecision, caBundleOf, changes, decide, readState, resolvePolicy, type RotationPolicy, type SecretData } from './rotation.ts';
import { readTlsFiles } from './source.ts';

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

/** Creates the manager; see src/certs/rotation.ts for the rotation rules. */
export function createCertManager(options: CertManagerOptions): CertManager {
  return new ManagedCerts(options);
}

/** Paths of the three files the server reads. */
interface TlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

async function readCurrentFiles(files: TlsFiles): Promise<{ ca: string; cert: string; key: string } | undefined> {
  try {
    return { ca: await readFile(files.ca, 'utf8'), cert: await readFile(files.cert, 'utf8'), key: await readFile(files.key, 'utf8') };
  } catch {
    return undefined;
  }
}

function filesUsable(files: TlsFiles): boolean {
  try {
    readTlsFiles(files.cert, files.key);
    return true;
  } catch {
    return false;
  }
}

class ManagedCerts implements CertManager {
  readonly #api: CertsApi;
  readonly #tlsDir: string;
  readonly #hosts: readonly string[];
  readonly #webhookConfigs: readonly WebhookConfigRef[];
  readonly #logger: Logger;
  readonly #policy: RotationPolicy;
  readonly #intervalMs: number;
  readonly #backoff: { readonly initial: number; readonly max: number };
  readonly #now: () => number;
  readonly #files: TlsFiles;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = false;
  #failures = 0;

  constructor(options: CertManagerOptions) {
    this.#api = options.api;
    this.#tlsDir = options.tlsDir;
    this.#hosts = options.hosts;
    this.#webhookConfigs = options.webhookConfigs;
    this.#logger = options.logger.child({ component: 'cert-manager' });
    this.#policy = resolvePolicy(options.policy);
    this.#intervalMs = options.intervalMs ?? 60 * 60 * 1000;
    // Every replica must re-read the Secret within the grace, or the old CA could leave the bundle
    // while a replica still serves a certificate it signed.
    if (this.#policy.graceMs <= this.#intervalMs) {
      throw new RangeError(`the rotation grace (${this.#policy.graceMs} ms) must exceed the reconcile interval (${this.#intervalMs} ms)`);
    }
    this.#backoff = options.backoffMs ?? { initial: 1000, max: 5 * 60 * 1000 };
    this.#now = options.now ?? Date.now;
    this.#files = { ca: join(this.#tlsDir, CA_FILE), cert: join(this.#tlsDir, CERT_FILE), key: join(this.#tlsDir, KEY_FILE) };
  }

  async ensure(): Promise<EnsureResult> {
    const { data, reasons } = await this.#settleSecret();
    // Files before caBundles: a webhook configuration that cannot be patched must not keep the
    // server from starting. Safe, because a serving certificate is only issued by a CA that has
    // been in the bundle for graceMs (rule 2 in src/certs/rotation.ts).
    const filesWritten = await this.#writeFiles(data);
    const patched = await this.#patchBundles(data);
    return { reasons, filesWritten, patched };
  }

  async start(): Promise<void> {
    for (;;) {
      if (this.#stopped) throw new Error('certificate manager stopped before the TLS files could be written');
      if (await this.#attempt()) return this.#schedule(this.#intervalMs);
      if (filesUsable(this.#files)) return this.#schedule(this.#delayAfterFailure());
      await this.#sleep(this.#delayAfterFailure());
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#wake?.();
    await this.#running?.catch(() => undefined);
  }

  async #settleSecret(): Promise<{ data: SecretData; reasons: readonly string[] }> {
    const hosts = this.#hosts;
    const policy = this.#policy;
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      const current = await this.#api.readSecret();
      const state = readState(current?.data ?? {}, hosts);
      const t = this.#now();
      const decision = decide(state, t, policy);
      if (current && !changes(decision)) return { data: current.data, reasons: [] };
      const data = applyDecision(state, decision, { now: t, hosts, policy });
      try {
        const stored = current ? await this.#api.replaceSecret(current, data) : await this.#api.createSecret(data);
        this.#logger.info(
          { reasons: decision.reasons, newCA: decision.newCA, issued: decision.issueServing, droppedPrevious: decision.dropPrevious },
          current ? 'certificate Secret updated' : 'certificate Secret created',
        );
        return { data: stored.data, reasons: decision.reasons };
      } catch (err) {
        if (!(err instanceof CertsConflictError)) throw err;
        // Another replica wrote first: its CA wins; re-read and decide again from what it wrote.
        this.#logger.debug({ reason: err.reason }, 'another replica wrote the certificate Secret first; re-reading');
      }
    }
    throw new Error(`the certificate Secret changed under every one of ${MAX_CONFLICTS} attempts; retrying later`);
  }

  async #writeFiles(data: SecretData): Promise<boolean> {
    const want = { ca: caBundleOf(data), cert: data[SECRET_KEYS.cert] ?? '', key: data[SECRET_KEYS.key] ?? '' };
    // Compared with the disk, not a memory of the last write: files removed or edited by hand are restored.
    const onDisk = await readCurrentFiles(this.#files);
    if (onDisk && onDisk.ca === want.ca && onDisk.cert === want.cert && onDisk.key === want.key) return false;
    await writeCertFiles(this.#tlsDir, want);
    return true;
  }

  async #patchBundles(data: SecretData): Promise<string[]> {
    const want = Buffer.from(caBundleOf(data)).toString('base64');
    const patched: string[] = [];
    const failures: string[] = [];
    for (const config of this.#webhookConfigs) {
      const id = `${config.kind}/${config.name}`;
      try {
        const entries = await this.#api.readWebhooks(config);
        const stale = entries.flatMap((e, index) => (e.caBundle === want ? [] : [{ index, name: e.name }]));
        // Only when it differs: replicas that agree on the Secret never write here.
        if (stale.length === 0) continue;
        await this.#api.patchCABundle(config, stale, want);
        patched.push(id);
        this.#logger.info({ config: id, webhooks: stale.map((s) => s.name) }, 'caBundle updated');
      } catch (err) {
        failures.push(`${id}: ${(err as Error).message}`);
      }
    }
    if (failures.length > 0) throw new Error(`cannot set caBundle in ${failures.join('; ')}`);
    return patched;
  }

  #delayAfterFailure(): number {
    return Math.min(this.#backoff.initial * 2 ** Math.min(this.#failures - 1, 30), this.#backoff.max);
  }

  async #attempt(): Promise<boolean> {
    try {
      this.#running = this.ensure();
      await this.#running;
      this.#failures = 0;
      return true;
    } catch (err) {
      this.#failures++;
      this.#logger.error(
        { err: (err as Error).message, failures: this.#failures, retryInMs: this.#delayAfterFailure() },
        'certificate management failed; serving the last good files and retrying',
      );
      return false;
    } finally {
      this.#running = undefined;
    }
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#attempt().then((ok) => this.#schedule(ok ? this.#intervalMs : this.#delayAfterFailure())), ms);
    this.#timer.unref();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, ms);
    });
  }
}
