/**
 * Where the serving certificate comes from. The server only sees {@link CertificateSource};
 * the file source serves development certificates, Kubernetes Secret mounts and the files
 * `--manage-certs` writes, all the same way.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { watchFiles } from '../lib/watch-file.ts';

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
  return checkTlsPair(readFileSync(certFile, 'utf8'), readFileSync(keyFile, 'utf8'), certFile, keyFile);
}

/** Checks a certificate and its key (read from the files named, for messages). */
function checkTlsPair(cert: string, key: string, certFile: string, keyFile: string): TlsMaterial {
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
 * Follows the certificate and key with lib/watch-file.ts: their directories are watched,
 * not the files, because Kubernetes updates Secret volumes by swapping a `..data` symlink, which
 * replaces the files without a write event on them. A change is applied only once the pair
 * validates, so a certificate written before its key keeps the old pair in force until both are there.
 */
export function createFileCertificateSource(options: FileSourceOptions): CertificateSource {
  const { certFile, keyFile, logger } = options;
  let material = readTlsFiles(certFile, keyFile);
  const listeners: Array<(m: TlsMaterial) => void> = [];
  const watcher = watchFiles({
    files: [certFile, keyFile],
    initial: [material.cert, material.key],
    parse: ([cert, key]) => checkTlsPair(cert ?? '', key ?? '', certFile, keyFile),
    apply: (next) => {
      material = next;
      logger.info({ certFile, notAfter: next.notAfter.toISOString() }, 'serving certificate reloaded');
      for (const listener of listeners) listener(next);
    },
    onError: ({ reason, error }) =>
      logger.warn({ certFile, keyFile, reason, err: (error as Error).message }, 'certificate files changed but do not validate yet; keeping the current pair'),
    onWatchError: (dir, err) => logger.warn({ dir, err: (err as Error).message }, 'cannot watch certificate directory; relying on polling'),
    // A rotation touches several files in a burst.
    debounceMs: 50,
    pollMs: options.pollMs ?? 10_000,
  });

  return {
    current: () => material,
    onChange: (listener) => void listeners.push(listener),
    close: () => void watcher.close(),
  };
}
