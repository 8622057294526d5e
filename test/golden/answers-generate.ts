/**
 * Writes the expected answers of answers-bytes.test.ts: test/golden/answers/<case>.json (the exact
 * response body) and index.jsonl (status, content type and log lines per case). Run it only when
 * a change of behaviour is intended, and review the diff:
 *
 *   node test/golden/answers-generate.ts
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { ANSWERS_DIR, INDEX_FILE, answerCases, startAnswerer } from './answers.ts';

const cases = answerCases();
const answerer = await startAnswerer();
rmSync(ANSWERS_DIR, { recursive: true, force: true });
mkdirSync(ANSWERS_DIR);
const index: string[] = [];
for (const c of cases) {
  const { status, contentType, body } = await answerer.answer(c);
  writeFileSync(`${ANSWERS_DIR}${c.name}.json`, body);
  index.push(JSON.stringify({ case: c.name, status, contentType, log: answerer.takeLogLines() }));
}
writeFileSync(ANSWERS_DIR + INDEX_FILE, `${index.join('\n')}\n`);
await answerer.close();
console.log(`${cases.length} answers written to ${ANSWERS_DIR} (${readdirSync(ANSWERS_DIR).length} files)`);
