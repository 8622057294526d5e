/** The Dockerfile cannot be built here (no Docker engine): parse it and assert its production properties. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { IMAGE_ENV } from '../../bench/common.ts';

const text = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  steps: Instruction[];
}

/** Instructions with line continuations joined and comments dropped, grouped by stage. */
function parse(dockerfile: string): Stage[] {
  const lines = dockerfile
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args)!;
      stages.push({ from: m[1]!, ...(m[2] ? { name: m[2] } : {}), steps: [] });
    } else {
      stages.at(-1)?.steps.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

describe('Dockerfile', () => {
  const stages = parse(text);
  const final = stages.at(-1)!;
  const step = (s: Stage, op: string) => s.steps.filter((i) => i.op === op);

  it('is multi-stage on the official Node 24 image', () => {
    assert.ok(stages.length >= 2);
    for (const s of stages) assert.match(s.from, /^node:24[-.]/);
  });

  it('builds with dev dependencies and ships the bundle of production code only, no node_modules', () => {
    const build = stages.find((s) => step(s, 'RUN').some((r) => /npm ci/.test(r.args) && !/--omit=dev/.test(r.args)));
    assert.ok(build?.name, 'a named build stage installs dev dependencies');
    assert.ok(
      step(build, 'RUN').some((r) => /node scripts\/bundle\.ts dist\/bundle/.test(r.args)),
      'the build stage bundles (test/manifests/bundle.test.ts checks what the bundle holds)',
    );
    assert.equal(step(final, 'RUN').length, 0, 'the final stage runs nothing (no shell needed)');
    const copies = step(final, 'COPY');
    assert.deepEqual(
      copies.map((c) => c.args),
      [`--from=${build.name} --chown=0:0 /src/dist/bundle ./`],
      'the final stage holds the bundle and nothing else: no node_modules, no sources',
    );
  });

  it('limits glibc to two malloc arenas, and the benchmarks run with the same environment', () => {
    const env = Object.fromEntries(
      final.steps.filter((s) => s.op === 'ENV').map((s) => [s.args.slice(0, s.args.indexOf('=')), s.args.slice(s.args.indexOf('=') + 1)]),
    );
    assert.equal(env.MALLOC_ARENA_MAX, '2');
    assert.deepEqual(IMAGE_ENV, env, "bench/common.ts IMAGE_ENV is the image's ENV");
  });

  it('runs as a numeric non-root user with idgate as the entrypoint', () => {
    const [user] = step(final, 'USER');
    assert.ok(user, 'USER in the final stage');
    const uid = Number(user.args.split(':')[0]);
    assert.ok(Number.isInteger(uid) && uid > 0, `numeric non-root uid, got ${user.args}`);
    const [entrypoint] = step(final, 'ENTRYPOINT');
    assert.deepEqual(JSON.parse(entrypoint!.args), ['node', '/app/main.mjs']);
  });

  it('ignores build context that must not reach the image', () => {
    const ignore = readFileSync(new URL('../../.dockerignore', import.meta.url), 'utf8').split('\n');
    for (const entry of ['node_modules', 'certs', '.git']) assert.ok(ignore.includes(entry), entry);
  });
});
