/**
 * Where the serving certificate comes from. The server only sees {@link CertificateSource};
 * the file source serves development certificates, Kubernetes Secret mounts and the files
 * `--manage-certs` writes, all the same way.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { type FSWatcher, readFileSync, unwatchFile, watch, watchFile } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';

export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  /** When the leaf certificate expires. */
  readonly notAfter: Date;
}

export interface CertificateSource {
  current(): TlsMaterial;
  /** Called with the new material each time it changes (and validates). */
  onChange(listener: (material: TlsMaterial) => void): void;
  close(): void;
}

/** Reads and checks a certificate and its key: both parse and the key belongs to the certificate. */
export function readTlsFiles(certFile: string, keyFile: string): TlsMaterial {
  const cert = readFileSync(certFile, 'utf8');
  const key = readFileSync(keyFile, 'utf8');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new Error(`${certFile}: not a PEM certificate (${(err as Error).message}); regenerate it with 'idgate certs generate'`);
  }
  if (!x509.checkPrivateKey(createPrivateKey(key))) {
    throw new Error(`${keyFile}: the key does not belong to the certificate in ${certFile}`);
  }
  return { cert, key, notAfter: new Date(x509.validTo) };
}

export interface FileSourceOptions {
  readonly certFile: string;
  readonly keyFile: string;
  readonly logger: Logger;
  /** Polling interval backing up fs.watch, which misses events on some file systems. */
  readonly pollMs?: number;
}

/**
 * Watches the certificate's directory, not the files: Kubernetes updates Secret volumes by
 * swapping a `..data` symlink, which replaces the files without a write event on them.
 * A change is applied only once the pair validates, so a certificate written before its key
 * keeps the old pair in force until both are there.
 */
export function createFileCertificateSource(options: FileSourceOptions): CertificateSource {
  const { certFile, keyFile, logger } = options;
  let material = readTlsFiles(certFile, keyFile);
  const listeners: Array<(m: TlsMaterial) => void> = [];
  let timer: NodeJS.Timeout | undefined;

  const reload = () => {
    timer = undefined;
    let next: TlsMaterial;
    try {
      next = readTlsFiles(certFile, keyFile);
    } catch (err) {
      logger.warn({ certFile, keyFile, err: (err as Error).message }, 'certificate files changed but do not validate yet; keeping the current pair');
      return;
    }
    if (next.cert === material.cert && next.key === material.key) return;
    material = next;
    logger.info({ certFile, notAfter: next.notAfter.toISOString() }, 'serving certificate reloaded');
    for (const listener of listeners) listener(next);
  };
  // Debounce: a rotation touches several files in a burst.
  const schedule = () => {
    if (timer === undefined) timer = setTimeout(reload, 50);
  };

  const watchers: FSWatcher[] = [];
  for (const dir of new Set([dirname(certFile), dirname(keyFile)])) {
    try {
      watchers.push(watch(dir, { persistent: false }, schedule));
    } catch (err) {
      logger.warn({ dir, err: (err as Error).message }, 'cannot watch certificate directory; relying on polling');
    }
  }
  const pollMs = options.pollMs ?? 10_000;
  watchFile(certFile, { interval: pollMs, persistent: false }, schedule);
  watchFile(keyFile, { interval: pollMs, persistent: false }, schedule);

  return {
    current: () => material,
    onChange: (listener) => void listeners.push(listener),
    close() {
      for (const w of watchers) w.close();
      unwatchFile(certFile);
      unwatchFile(keyFile);
      if (timer) clearTimeout(timer);
    },
  };
}
