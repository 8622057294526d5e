/** The Dockerfile cannot be built here (no Docker engine): parse it and assert its production properties. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

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

  it('builds with dev dependencies and ships production dependencies only', () => {
    const installs = stages.flatMap((s) =>
      step(s, 'RUN')
        .filter((r) => /npm ci/.test(r.args))
        .map((r) => ({ stage: s, args: r.args })),
    );
    assert.ok(
      installs.some((i) => !/--omit=dev/.test(i.args)),
      'a build stage installs dev dependencies',
    );
    assert.equal(step(final, 'RUN').length, 0, 'the final stage runs nothing (no shell needed)');
    const copies = step(final, 'COPY');
    const modules = copies.find((c) => /node_modules/.test(c.args));
    assert.ok(modules, 'node_modules copied into the final stage');
    const from = /--from=(\S+)/.exec(modules.args)![1];
    const source = stages.find((s) => s.name === from)!;
    assert.ok(
      step(source, 'RUN').some((r) => /npm ci .*--omit=dev/.test(r.args)),
      `stage ${from} installs with --omit=dev`,
    );
    assert.ok(!copies.some((c) => /\bsrc\b|tsconfig/.test(c.args) && !/--from/.test(c.args)), 'no sources in the final stage');
  });

  it('runs as a numeric non-root user with idgate as the entrypoint', () => {
    const [user] = step(final, 'USER');
    assert.ok(user, 'USER in the final stage');
    const uid = Number(user.args.split(':')[0]);
    assert.ok(Number.isInteger(uid) && uid > 0, `numeric non-root uid, got ${user.args}`);
    const [entrypoint] = step(final, 'ENTRYPOINT');
    assert.deepEqual(JSON.parse(entrypoint!.args), ['node', '/app/dist/src/cli/main.js']);
  });

  it('ignores build context that must not reach the image', () => {
    const ignore = readFileSync(new URL('../../.dockerignore', import.meta.url), 'utf8').split('\n');
    for (const entry of ['node_modules', 'certs', '.git']) assert.ok(ignore.includes(entry), entry);
  });
});
