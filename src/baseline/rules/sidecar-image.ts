/**
 * Which image references pod-sidecar accepts for idgate-proxy (docs/design.md#coexistence):
 * image-digest pinning webhooks (Kyverno verifyImages with mutateDigest, Connaisseur, Ratify)
 * rewrite `repo:tag` to `repo:tag@sha256:…` or `repo@sha256:…`, registry mirrors rewrite the
 * registry. Accepted, in this order:
 * 1. `sidecar.image` itself;
 * 2. its digest-pinned forms: same repository, a sha256 digest, and the same tag or none
 *    (`registry.example.com/idgate:0.1.0@sha256:…`, `registry.example.com/idgate@sha256:…`).
 *    When `sidecar.image` carries a digest itself, only that digest (with any tag or none: the
 *    runtime pulls by digest and ignores the tag). A Docker Hub short name is
 *    the same repository as its long form (`idgate:1` = `docker.io/library/idgate:1`), as
 *    pinning webhooks write it out. idgate cannot ask a registry what a tag points to, so any
 *    digest of the repository is accepted: pin `sidecar.image` to a digest to accept only one;
 * 3. a reference matching one of `sidecar.acceptedImages`: `*`-only globs matched against the
 *    whole reference (`*` also matches `/`, `:` and `@`), alone or once its digest is removed,
 *    so `mirror.example.com/idgate:0.1.0` also accepts `mirror.example.com/idgate:0.1.0@sha256:…`.
 */
import type { SidecarConfig } from '../../config/baseline.ts';
import { globToRegExp } from './common.ts';

/** A parsed image reference (distribution/reference grammar, simplified). */
export interface ImageRef {
  /** Repository with registry, Docker Hub short names expanded: `docker.io/library/idgate`. */
  readonly repository: string;
  readonly tag?: string;
  /** `sha256:<64 hex>`; any other algorithm or length is kept out, so it never matches. */
  readonly digest?: string;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** Splits `registry/repo:tag@digest`; a malformed digest makes the whole reference unparsed. */
export function parseImage(image: string): ImageRef | undefined {
  const at = image.indexOf('@');
  const digest = at === -1 ? undefined : image.slice(at + 1);
  if (digest !== undefined && !DIGEST.test(digest)) return undefined;
  const named = at === -1 ? image : image.slice(0, at);
  const slash = named.lastIndexOf('/');
  const colon = named.lastIndexOf(':');
  const tag = colon > slash ? named.slice(colon + 1) : undefined;
  const repository = colon > slash ? named.slice(0, colon) : named;
  if (repository === '' || tag === '') return undefined;
  return { repository: expandDockerHub(repository), ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/**
 * The canonical repository: a first component without `.` or `:` and other than `localhost`
 * is a Docker Hub path (distribution/reference ParseNormalizedNamed), and a one-component Hub
 * name lives under `library/`.
 */
function expandDockerHub(repository: string): string {
  const first = repository.split('/')[0] ?? '';
  const hasRegistry = repository.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasRegistry) return first === 'index.docker.io' ? `docker.io${repository.slice(first.length)}` : repository;
  return `docker.io/${repository.includes('/') ? '' : 'library/'}${repository}`;
}

/** Whether `image` is a digest-pinned form of `base`, or the same reference written another way. */
function sameImage(image: ImageRef, base: ImageRef): boolean {
  if (image.repository !== base.repository) return false;
  // With a digest the runtime pulls by digest and ignores the tag: the digest decides.
  if (base.digest !== undefined) return image.digest === base.digest;
  if (image.digest !== undefined) return image.tag === undefined || image.tag === (base.tag ?? 'latest');
  return (image.tag ?? 'latest') === (base.tag ?? 'latest');
}

/** Whether pod-sidecar accepts `image` for the sidecar under `config` (see the file comment). */
export function acceptedSidecarImage(image: unknown, config: Pick<SidecarConfig, 'image' | 'acceptedImages'>): boolean {
  if (typeof image !== 'string' || image === '') return false;
  if (image === config.image) return true;
  const ref = parseImage(image);
  const base = parseImage(config.image);
  if (ref !== undefined && base !== undefined && sameImage(ref, base)) return true;
  const undigested = ref?.digest !== undefined ? image.slice(0, image.lastIndexOf('@')) : undefined;
  return config.acceptedImages.some((pattern) => {
    const re = globToRegExp(pattern);
    return re.test(image) || (undigested !== undefined && re.test(undigested));
  });
}

/** What the fix in a message says is accepted. */
export function acceptedImagesText(config: Pick<SidecarConfig, 'image' | 'acceptedImages'>): string {
  const extra = config.acceptedImages.length > 0 ? ', or one matching sidecar.acceptedImages' : '';
  return `${config.image} or its digest-pinned form${extra}`;
}
