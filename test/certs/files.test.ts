/** Certificate files are written without following anything an attacker planted in the directory. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, lstat, mkdtemp, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CA_FILE, CERT_FILE, KEY_FILE, writeCertFiles } from '../../src/certs/files.ts';

const files = { ca: 'CA PEM\n', cert: 'CERT PEM\n', key: 'KEY PEM\n' };

describe('writeCertFiles', () => {
  it('follows no planted symlink or temp file, and leaves tls.key 0600', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'idgate-files-'));
    const outside = await mkdtemp(join(tmpdir(), 'idgate-attacker-'));
    // What the attacker wants written: files they can read, or a file of the victim's they
    // want overwritten.
    const stolenCa = join(outside, 'ca-target');
    const stolenKey = join(outside, 'key-target');
    await writeFile(stolenCa, 'attacker ca\n');
    await writeFile(stolenKey, '');
    await chmod(stolenKey, 0o666);
    // 1. The old predictable temp names (`.NAME.PID.tmp`), as symlinks and as a world-readable file.
    await symlink(stolenCa, join(dir, `.${CA_FILE}.${process.pid}.tmp`));
    await writeFile(join(dir, `.${KEY_FILE}.${process.pid}.tmp`), '', { mode: 0o666 });
    await chmod(join(dir, `.${KEY_FILE}.${process.pid}.tmp`), 0o666);
    await symlink(stolenKey, join(dir, `.${CERT_FILE}.${process.pid}.tmp`));
    // 2. The targets themselves: ca.crt a symlink to the attacker's file, tls.key to another.
    await symlink(stolenCa, join(dir, CA_FILE));
    await symlink(stolenKey, join(dir, KEY_FILE));

    await writeCertFiles(dir, files);

    const planted = {
      [stolenCa]: 'attacker ca\n',
      [stolenKey]: '',
      [join(dir, `.${KEY_FILE}.${process.pid}.tmp`)]: '',
    };
    for (const [path, content] of Object.entries(planted)) {
      assert.equal(await readFile(path, 'utf8'), content, `${path} was not written through`);
    }
    const counted = { regular: 0, mode0600: 0 };
    for (const [name, content, mode] of [
      [CA_FILE, files.ca, 0o644],
      [KEY_FILE, files.key, 0o600],
      [CERT_FILE, files.cert, 0o644],
    ] as const) {
      const info = await lstat(join(dir, name));
      assert.ok(info.isFile() && !info.isSymbolicLink(), `${name} is a regular file now, not the planted symlink`);
      assert.equal(await readFile(join(dir, name), 'utf8'), content);
      assert.equal(info.mode & 0o777, mode, `${name} has mode ${mode.toString(8)}`);
      counted.regular++;
      if ((info.mode & 0o777) === 0o600) counted.mode0600++;
    }
    // Only the planted temp names remain beside the three files: no temp file of ours is left.
    const left = (await readdir(dir)).filter((n) => n.endsWith('.tmp')).sort();
    assert.deepEqual(left, [`.${CA_FILE}.${process.pid}.tmp`, `.${KEY_FILE}.${process.pid}.tmp`, `.${CERT_FILE}.${process.pid}.tmp`].sort());
    console.log(
      `cert files: 3 planted symlinks and 1 planted temp file, 0 followed; ${counted.regular} regular files written, tls.key mode ${((await stat(join(dir, KEY_FILE))).mode & 0o777).toString(8)}`,
    );
  });

  it('makes an existing world-readable tls.key 0600 again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'idgate-files-'));
    await writeFile(join(dir, KEY_FILE), 'old key\n');
    await chmod(join(dir, KEY_FILE), 0o644);
    await writeCertFiles(dir, files);
    assert.equal((await stat(join(dir, KEY_FILE))).mode & 0o777, 0o600);
    assert.equal(await readFile(join(dir, KEY_FILE), 'utf8'), files.key);
  });

  it('ends 0600 whatever the umask (the key is never created wider)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'idgate-files-'));
    const old = process.umask(0);
    try {
      await writeCertFiles(dir, files);
    } finally {
      process.umask(old);
    }
    assert.equal((await stat(join(dir, KEY_FILE))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, CA_FILE))).mode & 0o777, 0o644);
  });
});
