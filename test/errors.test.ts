/** The error catalogue (src/errors.ts): every class's code is in it, and main() maps by it. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ANSWER_ERRORS, EXIT_ERRORS, HANDLED_ERRORS, UsageError, exitFor } from '../src/errors.ts';
import { listTs, root } from './architecture/sources.ts';
import { ListenError } from '../src/server/serve.ts';
import { BaselineError } from '../src/baseline/config.ts';
import { BindingError } from '../src/identity/binding.ts';
import { InputError } from '../src/audit/objects.ts';
import { NotServedError, UnjudgedError } from '../src/audit/cluster.ts';
import { KubeConfigError } from '../src/kube/config.ts';
import { CertsConflictError } from '../src/certs/managed.ts';
import { ProxyConfigError } from '../src/proxy/config.ts';

describe('the error catalogue', () => {
  const raised: Array<[string, Error]> = [
    ['UsageError', new UsageError('--x: bad')],
    ['ListenError', new ListenError({ host: '127.0.0.1', port: 1 }, Object.assign(new Error('in use'), { code: 'EADDRINUSE' }))],
    ['BaselineError', new BaselineError('ERR_BASELINE_READ', 'b.yaml', [{ path: '', message: 'cannot read' }])],
    ['BindingError', new BindingError('ERR_BINDINGS_FILE', [], 'b.yaml: cannot read')],
    ['InputError', new InputError([{ file: 'x.yaml', line: 1, message: 'not a Kubernetes object' }])],
    ['KubeConfigError', new KubeConfigError('cannot load the kubeconfig k: no such file (check --kubeconfig)')],
    ['ProxyConfigError', new ProxyConfigError('--upstream', 'bad')],
    ['UnjudgedError', new UnjudgedError(1, 2, 'Pod a/b')],
  ];
  for (const [name, err] of raised) {
    it(`${name} carries a catalogued code: exit 2 with its message`, () => {
      const code = (err as Error & { code: string }).code;
      assert.ok(Object.hasOwn(EXIT_ERRORS, code), `${code} is catalogued`);
      const { exit, message } = exitFor(err);
      assert.equal(exit, 2);
      assert.ok(message.endsWith(err.message));
    });
  }

  it('lists the codes handled where they are raised', () => {
    const handled = [new NotServedError({ apiVersion: 'v1', kind: 'Pod' } as never), new CertsConflictError('Conflict', 'changed')];
    for (const err of handled) assert.ok(Object.hasOwn(HANDLED_ERRORS, err.code), err.code);
  });

  it('holds every code written in src/, each in one table', () => {
    // Node's own codes that idgate only compares with, never raises.
    const nodes = new Set(['ERR_STREAM_PREMATURE_CLOSE']);
    const tables = [EXIT_ERRORS, HANDLED_ERRORS, ANSWER_ERRORS].map((t) => new Set(Object.keys(t)));
    const missing: string[] = [];
    for (const file of listTs('src').filter((f) => f !== 'src/errors.ts')) {
      for (const [, code] of readFileSync(join(root, file), 'utf8').matchAll(/'((?:ERR|IDGATE)_[A-Z_]+)'/g)) {
        if (nodes.has(code!)) continue;
        const homes = tables.filter((t) => t.has(code!)).length;
        if (homes !== 1) missing.push(`${file}: ${code} is in ${homes} tables of src/errors.ts`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('reports anything else as a bug, exit 2 (1 means violations found) with its stack', () => {
    const { exit, message } = exitFor(new TypeError('x is undefined'));
    assert.equal(exit, 2);
    assert.match(message, /bug in idgate[\s\S]*TypeError: x is undefined\n\s+at /);
  });
});
