/** Which image references pod-sidecar accepts for idgate-proxy (rules/sidecar-image.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptedSidecarImage, parseImage } from '../../src/baseline/rules/sidecar-image.ts';

const D = `sha256:${'0123456789abcdef'.repeat(4)}`;
const E = `sha256:${'fedcba9876543210'.repeat(4)}`;

test('parseImage: registry, port, tag and digest; Docker Hub names expanded', () => {
  assert.deepEqual(parseImage(`registry.example.com:5000/team/idgate:1.2@${D}`), {
    repository: 'registry.example.com:5000/team/idgate',
    tag: '1.2',
    digest: D,
  });
  assert.deepEqual(parseImage('registry.example.com:5000/idgate'), { repository: 'registry.example.com:5000/idgate' });
  assert.deepEqual(parseImage('idgate:1'), { repository: 'docker.io/library/idgate', tag: '1' });
  assert.deepEqual(parseImage('org/idgate'), { repository: 'docker.io/org/idgate' });
  assert.deepEqual(parseImage('index.docker.io/org/idgate:1'), { repository: 'docker.io/org/idgate', tag: '1' });
  assert.equal(parseImage('idgate@sha256:short'), undefined, 'a malformed digest is no digest');
  assert.equal(parseImage('idgate:'), undefined);
});

test('acceptedSidecarImage', () => {
  const tagged = { image: 'registry.example.com/idgate:0.1.0', acceptedImages: [] };
  const pinned = { image: `registry.example.com/idgate@${D}`, acceptedImages: [] };
  const mirrors = { image: 'registry.example.com/idgate:0.1.0', acceptedImages: ['mirror.example.com/idgate:0.1.0', 'registry-*.example.com/idgate:0.1.0'] };
  const cases: Array<[string, { image: string; acceptedImages: string[] }, unknown, boolean]> = [
    ['the image itself', tagged, 'registry.example.com/idgate:0.1.0', true],
    ['repo@digest (tag replaced by its digest)', tagged, `registry.example.com/idgate@${D}`, true],
    ['repo:tag@digest', tagged, `registry.example.com/idgate:0.1.0@${D}`, true],
    ['another tag', tagged, 'registry.example.com/idgate:0.0.9', false],
    ['another tag with a digest', tagged, `registry.example.com/idgate:0.0.9@${D}`, false],
    ['another repository with a digest', tagged, `registry.example.com/idgate-debug@${D}`, false],
    ['another registry', tagged, 'evil.example.com/idgate:0.1.0', false],
    ['a malformed digest', tagged, 'registry.example.com/idgate@sha256:abc', false],
    ['sha512 is not accepted', tagged, `registry.example.com/idgate@sha512:${'a'.repeat(128)}`, false],
    ['not a string', tagged, 42, false],
    ['absent', tagged, undefined, false],
    ['pinned base: its digest', pinned, `registry.example.com/idgate@${D}`, true],
    ['pinned base: its digest with a tag', pinned, `registry.example.com/idgate:0.1.0@${D}`, true],
    ['pinned base: another digest', pinned, `registry.example.com/idgate@${E}`, false],
    ['pinned base: the tag alone', pinned, 'registry.example.com/idgate:0.1.0', false],
    ['Docker Hub short and long forms are one image', { image: 'idgate/proxy:1', acceptedImages: [] }, 'docker.io/idgate/proxy:1', true],
    ['Docker Hub library form', { image: 'idgate:1', acceptedImages: [] }, `docker.io/library/idgate@${D}`, true],
    ['a mirror listed exactly', mirrors, 'mirror.example.com/idgate:0.1.0', true],
    ["a listed mirror's digest-pinned form", mirrors, `mirror.example.com/idgate:0.1.0@${D}`, true],
    ['a glob over the registry', mirrors, 'registry-eu.example.com/idgate:0.1.0', true],
    ['the glob is anchored: nothing after the tag', mirrors, 'registry-eu.example.com/idgate:0.1.0-debug', false],
    ['another tag on the mirror', mirrors, 'mirror.example.com/idgate:0.2.0', false],
  ];
  for (const [name, config, image, want] of cases) assert.equal(acceptedSidecarImage(image, config), want, name);
});
