/**
 * Table tests of every rule family over YAML fixtures (test/fixtures/rules/<family>/*.yaml).
 * Each file is one YAML document: `definitions` (anchors shared by the cases) and `cases`, each
 * naming the operation, the object (and oldObject) and every expected violation as rule id +
 * field path. All rules registered for the object's kind run directly, without modes, so a case
 * also proves no other rule fires.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../src/admission/k8s.ts';
import { beingDeleted, INTEGRITY_RULES_BY_KIND, RULES_BY_KIND, type Scope } from '../../src/baseline/evaluate.ts';

/** idgate's own username in the tables (cases with `self: true` run with it known). */
const SELF = 'system:serviceaccount:idgate-system:idgate';
import type { Finding } from '../../src/baseline/rules/common.ts';
import type { Operation } from '../../src/admission/types.ts';
import { RULE_IDS } from '../../src/config/baseline.ts';
import type { Rule, RuleContext } from '../../src/baseline/types.ts';
import { BindingIndex } from '../../src/identity/index.ts';
import { testBaseline, type BaselineOverrides } from '../support/baseline.ts';
import { CONTROL_CHARACTER } from '../support/text.ts';

interface Expected {
  rule: string;
  path: string;
  podRule?: string;
  warnOnly?: boolean;
  unavailable?: boolean;
}
interface Case {
  name: string;
  operation: Operation;
  /** `integrity`: the rules of `/validate/integrity` (a namespace that is not enrolled); default baseline. */
  scope?: Scope;
  subResource?: string;
  /** The requesting user, and idgate's own (SELF below when `self: true`). */
  user?: string;
  self?: boolean;
  namespace?: string;
  identityReady?: boolean;
  object?: KubeObject;
  oldObject?: KubeObject;
  expect: Expected[];
}

const root = new URL('../fixtures/rules/', import.meta.url);

/** The bindings and namespaces of fixtures/rules/identity.yaml. */
export function fixtureIdentity(ready = true): BindingIndex {
  const index = new BindingIndex();
  for (const doc of parseAllDocuments(readFileSync(new URL('identity.yaml', root), 'utf8'))) {
    const o = doc.toJS() as {
      kind: string;
      metadata: { name: string; namespace?: string; labels?: Record<string, string>; deletionTimestamp?: string };
      spec?: Record<string, unknown>;
    };
    if (o.kind === 'Namespace') index.setNamespace(o.metadata.name, o.metadata.labels ?? {}, o.metadata.deletionTimestamp !== undefined);
    else {
      index.upsert({
        namespace: o.metadata.namespace ?? '',
        name: o.metadata.name,
        issuer: String(o.spec?.issuer),
        groups: o.spec?.groups as string[],
        serviceAccounts: o.spec?.serviceAccounts as string[],
      });
    }
  }
  if (ready) index.markSynced();
  return index;
}

const key = (e: Expected): string => [e.rule, e.path, e.podRule ?? '', e.warnOnly ? 'warnOnly' : '', e.unavailable ? 'unavailable' : ''].join(' | ');

const covered = { failing: new Set<string>(), passing: new Set<string>() };

for (const family of ['pod', 'workload', 'networkpolicy', 'binding']) {
  for (const file of readdirSync(new URL(`${family}/`, root))
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    // `skipRules`: rules a file's cases are not about, named in the file with the reason. The
    // fixtures are ours: every merge of a shared anchor counts as an alias, hence the higher limit.
    const doc = parse(readFileSync(new URL(`${family}/${file}`, root), 'utf8'), { merge: true, maxAliasCount: 1000 }) as {
      baseline?: BaselineOverrides;
      skipRules?: string[];
      cases: Case[];
    };
    const baseline = testBaseline(doc.baseline ?? {});
    for (const c of doc.cases) {
      test(`${family}/${file}: ${c.name}`, () => {
        const subject = c.object ?? c.oldObject;
        const kind = subject?.kind ?? '';
        const entries = (c.scope === 'integrity' ? INTEGRITY_RULES_BY_KIND : RULES_BY_KIND)[kind]?.filter((e) => !doc.skipRules?.includes(e.id));
        assert.ok(entries, `no rules for kind ${kind}`);
        const ctx: RuleContext = {
          baseline,
          identity: fixtureIdentity(c.identityReady ?? true),
          operation: c.operation,
          namespace: c.namespace ?? subject?.metadata?.namespace ?? 'default',
          ...(c.subResource ? { subResource: c.subResource } : {}),
          ...(c.user ? { user: c.user } : {}),
          ...(c.self ? { selfUsername: SELF } : {}),
        };
        // The lifecycle gate evaluate() applies before any rule (an object being deleted).
        const findings = beingDeleted(c.operation, c.object) ? [] : entries.flatMap((e) => (e.check as Rule)(c.object, c.oldObject, ctx) as Finding[]);
        for (const f of findings) {
          assert.ok(f.message.length > 10, `a message a user can act on: ${JSON.stringify(f)}`);
          assert.doesNotMatch(f.message, CONTROL_CHARACTER, 'no control characters');
        }
        const actual = findings.map(key).sort();
        const expected = (c.expect ?? []).map(key).sort();
        assert.deepEqual(actual, expected, findings.map((f) => `${f.rule} ${f.path}: ${f.message}`).join('\n'));
        if (expected.length === 0) for (const e of entries) covered.passing.add(e.id);
        for (const e of c.expect ?? []) covered.failing.add(e.rule);
      });
    }
  }
}

test('every rule has at least one passing and one failing fixture case', () => {
  for (const id of RULE_IDS) {
    assert.ok(covered.failing.has(id), `no failing case for ${id}`);
    assert.ok(covered.passing.has(id), `no passing case for ${id}`);
  }
});
