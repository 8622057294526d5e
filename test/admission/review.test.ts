import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeReview, encodeReviewJson } from '../../src/admission/review.ts';
import type { AdmissionResult } from '../../src/admission/types.ts';

describe('encodeReviewJson', () => {
  const patch = [
    { op: 'add' as const, path: '/metadata/labels/group.idgate.dev~1payments', value: 'true' },
    { op: 'add' as const, path: '/metadata/annotations/idgate.dev~1groups', value: '["paiements-écriture","a\\"b"]' },
  ];
  const cases: Array<[string, string, AdmissionResult]> = [
    ['allowed, nothing else', 'uid-1', { allowed: true }],
    ['patched', 'uid-2', { allowed: true, patch }],
    [
      'patched with warnings and audit annotations',
      'uid-3',
      { allowed: true, patch, warnings: ['dry-run: 2 operations', 'ünïcode ✓'], auditAnnotations: { 'idgate.dev/decision': 'patched' } },
    ],
    ['denied with a status', 'uid-4', { allowed: false, status: { code: 403, message: 'label "x" is spoofed', reason: 'Forbidden' } }],
    ['an empty patch is left out', 'uid-5', { allowed: true, patch: [] }],
    ['a uid that needs escaping', 'a"b\\c\u2028', { allowed: true, patch }],
  ];
  for (const [name, uid, result] of cases) {
    it(`is the JSON of encodeReview: ${name}`, () => {
      const text = encodeReviewJson(uid, result);
      assert.deepEqual(JSON.parse(text), encodeReview(uid, result));
    });
  }

  it('carries a patch that decodes to the operations, UTF-8 included', () => {
    const answer = JSON.parse(encodeReviewJson('uid', { allowed: true, patch }));
    assert.equal(answer.response.patchType, 'JSONPatch');
    assert.deepEqual(JSON.parse(Buffer.from(answer.response.patch, 'base64').toString('utf8')), patch);
  });
});
