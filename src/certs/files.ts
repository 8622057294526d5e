/** Writing certificate files the way the server (and Kubernetes Secret mounts) lay them out. */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const CA_FILE = 'ca.crt';
export const CERT_FILE = 'tls.crt';
export const KEY_FILE = 'tls.key';

/**
 * Writes `ca.crt`, `tls.crt` and `tls.key` (mode 0600) into `dir`. Each file is written to a
 * temporary name and renamed, so a watcher never reads a half-written file; the key is written
 * before the certificate so a reader that sees the new certificate finds its key.
 */
export async function writeCertFiles(dir: string, files: { ca: string; cert: string; key: string }): Promise<void> {
  await mkdir(dir, { recursive: true });
  const put = async (name: string, data: string, mode: number) => {
    const tmp = join(dir, `.${name}.${process.pid}.tmp`);
    await writeFile(tmp, data, { mode });
    await rename(tmp, join(dir, name));
  };
  await put(CA_FILE, files.ca, 0o644);
  await put(KEY_FILE, files.key, 0o600);
  await put(CERT_FILE, files.cert, 0o644);
}
