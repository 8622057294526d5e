/**
 * The webhook's answers, byte for byte: every review of answers.ts goes through the real request
 * listener and its body must equal test/golden/answers/<case>.json exactly, with the status,
 * content type and log lines of index.jsonl. Optimizations of the hot path must not change one
 * byte (not even key order or number formatting). A change of behaviour that is intended
 * regenerates the files with `node test/golden/answers-generate.ts` and commits the reviewed diff.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { ANSWERS_DIR, INDEX_FILE, type Answerer, answerCases, startAnswerer } from './answers.ts';

const REGENERATE = 'if (and only if) the change of behaviour is intended, run `node test/golden/answers-generate.ts` and review the diff';

/** The decoded patch of an answer, for a readable failure message. */
function decoded(body: string): unknown {
  try {
    const review = JSON.parse(body);
    const patch = review.response?.patch;
    return patch ? { ...review, response: { ...review.response, patch: JSON.parse(Buffer.from(patch, 'base64').toString('utf8')) } } : review;
  } catch {
    return body;
  }
}

describe('webhook answers, byte for byte (test/golden/answers)', () => {
  const cases = answerCases();
  const index = new Map<string, string>(
    existsSync(ANSWERS_DIR + INDEX_FILE)
      ? readFileSync(ANSWERS_DIR + INDEX_FILE, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => [JSON.parse(line).case as string, line])
      : [],
  );
  let answerer: Answerer;
  before(async () => {
    answerer = await startAnswerer();
  });
  after(() => answerer.close());

  it('covers every route and source', () => {
    for (const prefix of [
      'mutate--fixture--',
      'validate--golden--',
      'integrity--golden--',
      'mutate--bench--',
      'validate--bench--networkpolicy',
      'integrity--bench--',
      'mutate--recorded--',
      'validate--recorded--',
      'integrity--recorded--',
    ]) {
      assert.ok(
        cases.some((c) => c.name.startsWith(prefix)),
        `no case ${prefix}*`,
      );
    }
  });

  for (const c of cases) {
    it(c.name, async () => {
      const file = `${ANSWERS_DIR}${c.name}.json`;
      assert.ok(existsSync(file), `missing ${file}: a new case; ${REGENERATE}`);
      const { status, contentType, body } = await answerer.answer(c);
      const want = readFileSync(file);
      if (!body.equals(want)) {
        assert.deepEqual(decoded(body.toString('utf8')), decoded(want.toString('utf8')), `${c.name}: the answer changed; ${REGENERATE}`);
        assert.equal(body.toString('utf8'), want.toString('utf8'), `${c.name}: the answer's bytes changed (same JSON value); ${REGENERATE}`);
        assert.fail(`${c.name}: the answer's bytes changed; ${REGENERATE}`);
      }
      const line = JSON.stringify({ case: c.name, status, contentType, log: answerer.takeLogLines() });
      assert.deepEqual(JSON.parse(line), JSON.parse(index.get(c.name) ?? 'null'), `${c.name}: status, content type or log lines changed; ${REGENERATE}`);
    });
  }

  it('has no expected answer without a case', () => {
    const names = new Set(cases.map((c) => `${c.name}.json`));
    const stale = readdirSync(ANSWERS_DIR).filter((f) => f !== INDEX_FILE && !names.has(f));
    assert.deepEqual(stale, [], `expected answers without a case; ${REGENERATE}`);
    assert.deepEqual(
      [...index.keys()],
      cases.map((c) => c.name),
      `${INDEX_FILE} lists other cases; ${REGENERATE}`,
    );
  });
});
