/** Writing certificate files the way the server (and Kubernetes Secret mounts) lay them out. */
import { constants } from 'node:fs';
import { type FileHandle, mkdir, open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

export const CA_FILE = 'ca.crt';
export const CERT_FILE = 'tls.crt';
export const KEY_FILE = 'tls.key';

/** Private key: owner read/write only. */
export const KEY_MODE = 0o600;
/** Certificates are public: readable by all, like a Secret volume's default 0644. */
export const CERT_MODE = 0o644;

/**
 * Create only, never open what is there, never follow a symlink in the last component:
 * O_EXCL makes open() fail with EEXIST on any existing name, a planted symlink included (POSIX
 * open(2): "If O_CREAT and O_EXCL are set … and path names a symbolic link, open() shall fail").
 * O_NOFOLLOW says the same again for systems that would not.
 */
const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Fresh random temp names to try before giving up: a clash needs someone guessing 96 random bits. */
const TEMP_ATTEMPTS = 3;

/**
 * Writes `data` to `dir/name` with exactly `mode`, atomically: a new file under an unpredictable
 * name in the same directory (so rename stays on one file system), then renamed over the
 * target. rename(2) replaces the directory entry: a symlink planted at the target is replaced,
 * not followed, and a reader sees the old file or the new one, never half of one.
 */
export async function writeFileAtomic(dir: string, name: string, data: string, mode: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const tmp = join(dir, `.${name}.${randomBytes(12).toString('hex')}.tmp`);
    let handle: FileHandle;
    try {
      // Created with `mode` (the umask can only take bits away) and set exactly below, so the
      // key is never readable by others, not even for the moment before the chmod.
      handle = await open(tmp, CREATE_NEW, mode);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && attempt < TEMP_ATTEMPTS) continue;
      throw err;
    }
    try {
      await handle.chmod(mode);
      await handle.writeFile(data);
      await handle.close();
      await rename(tmp, join(dir, name));
      return;
    } catch (err) {
      await handle.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }
}

/**
 * Writes `ca.crt`, `tls.crt` and `tls.key` (mode 0600) into `dir`, each atomically (see
 * {@link writeFileAtomic}), so a watcher never reads a half-written file; the key is written
 * before the certificate so a reader that sees the new certificate finds its key.
 */
export async function writeCertFiles(dir: string, files: { ca: string; cert: string; key: string }): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await writeFileAtomic(dir, CA_FILE, files.ca, CERT_MODE);
  await writeFileAtomic(dir, KEY_FILE, files.key, KEY_MODE);
  await writeFileAtomic(dir, CERT_FILE, files.cert, CERT_MODE);
}
