/** The report schema's rule ids are RULE_IDS (src/config/baseline.ts), filled in by scripts/generate.ts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { RULE_IDS } from '../../src/config/baseline.ts';
import { REPORT_SCHEMA_FILE, renderReportSchema } from '../../scripts/generated.ts';

const committed = await readFile(new URL(`../../${REPORT_SCHEMA_FILE}`, import.meta.url), 'utf8');

test(`${REPORT_SCHEMA_FILE} lists RULE_IDS as its rule ids (run \`node scripts/generate.ts\`)`, () => {
  assert.equal(committed, renderReportSchema(committed));
  assert.deepEqual(JSON.parse(committed).definitions.ruleId.enum, RULE_IDS);
});

test('the generator replaces a stale list and touches nothing else', () => {
  const stale = committed.replace(`"${RULE_IDS[0]}",`, '').replace('"kind": { "const": "IdgateReport" }', '"kind": { "const": "IdgateReport" } ');
  const rendered = renderReportSchema(stale);
  assert.deepEqual(JSON.parse(rendered).definitions.ruleId.enum, RULE_IDS);
  assert.match(rendered, /"kind": \{ "const": "IdgateReport" \} ,/);
});
