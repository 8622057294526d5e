/**
 * pod-sidecar's comparison of a present idgate-proxy with what the injector builds
 * (buildSidecar, the injector's own code): every field of the container counts, so that a Pod
 * cannot bring its own weakened proxy (an `IDGATE_SKIP_PATHS` variable, a `NODE_OPTIONS` that
 * loads other code, a volume over its credentials, a changed probe or command).
 *
 * Accepted differences, each because something other than the Pod's author puts it there:
 * - what the API server's defaulting writes (core/v1 SetDefaults_*): `terminationMessagePath`
 *   `/dev/termination-log`, `terminationMessagePolicy`, `imagePullPolicy`, port protocol TCP,
 *   probe timeoutSeconds 1, periodSeconds 10, successThreshold 1, failureThreshold 3, httpGet
 *   scheme HTTP, a projected volume's defaultMode 0644;
 * - the ServiceAccount admission plugin's kube-api-access volume mount at
 *   /var/run/secrets/kubernetes.io/serviceaccount (checked to be that volume, not one over it);
 * - `resources` and `resizePolicy`: they decide how much CPU and memory the proxy gets, not
 *   what it lets through, and the Vertical Pod Autoscaler's admission webhook and LimitRanger
 *   rewrite them in every container;
 * - the image forms of sidecar-image.ts.
 * Every other field — known today or added to core/v1 later — must be as injected.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Container, PodSpec, Volume, VolumeMount } from '../../admission/k8s.ts';
import { KUBE_API_MOUNT_PATH, KUBE_API_VOLUME_NAME, SIDECAR_NAME } from '../../mutate/sidecar.ts';
import { quote } from '../../text.ts';
import { kubeApiVolume, ROOT_CA_CONFIGMAP } from '../../mutate/volume.ts';
import type { SidecarConfig } from '../../config/baseline.ts';
import type { FieldPath } from '../../lib/field-path.ts';
import { asArray, type Finding } from './common.ts';
import { acceptedImagesText, acceptedSidecarImage } from './sidecar-image.ts';

/** Fields compared by their own code below, or not at all (see the file comment). */
const SPECIAL = new Set([
  'name',
  'image',
  'env',
  'volumeMounts',
  'restartPolicy',
  'resources',
  'resizePolicy',
  'terminationMessagePath',
  'terminationMessagePolicy',
  'imagePullPolicy',
]);

/** The kubelet's default termination message file (core/v1 TerminationMessagePathDefault). */
const TERMINATION_MESSAGE_PATH = '/dev/termination-log';

const PROBE_DEFAULTS = { timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 };

function normalizedProbe(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const probe: Record<string, unknown> = { ...PROBE_DEFAULTS, ...(value as Record<string, unknown>) };
  if (probe.initialDelaySeconds === 0) delete probe.initialDelaySeconds;
  const httpGet = probe.httpGet;
  if (httpGet !== null && typeof httpGet === 'object') probe.httpGet = { scheme: 'HTTP', ...(httpGet as object) };
  return probe;
}

/** A field as the API server would store it, so defaulting never reads as tampering. */
function normalized(field: string, value: unknown): unknown {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value) && value.length === 0) return undefined;
  if (value === false && (field === 'stdin' || field === 'stdinOnce' || field === 'tty')) return undefined;
  if (field === 'ports') return asArray<Record<string, unknown>>(value).map((p) => ({ ...p, protocol: p?.protocol ?? 'TCP' }));
  if (field.endsWith('Probe')) return normalizedProbe(value);
  return value;
}

const FIX = 'remove the container and let the injector add it';

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function altered(path: FieldPath, field: string, actual: unknown, want: unknown): Finding {
  const at = path.child(field).toString();
  if (Array.isArray(actual) && Array.isArray(want) && actual.length === want.length && field !== 'ports') {
    // Same length: name the first differing element, which is what the user has to fix.
    const i = actual.findIndex((a, k) => !isDeepStrictEqual(a, want[k]));
    return {
      rule: 'pod-sidecar',
      path: at,
      message: `${SIDECAR_NAME} ${field} was altered: [${i}] is ${quote(actual[i], 50)}, idgate injects ${quote(want[i], 50)}; ${FIX}`,
    };
  }
  if (isObject(actual) && isObject(want)) {
    // Two objects (a probe, the securityContext): name the first key that differs.
    const key = [...new Set([...Object.keys(want), ...Object.keys(actual)])].find((k) => !isDeepStrictEqual(actual[k], want[k])) ?? '';
    const is = actual[key] === undefined ? 'is absent' : `is ${quote(actual[key], 50)}`;
    const injects = want[key] === undefined ? 'idgate sets none' : `idgate injects ${quote(want[key], 50)}`;
    return { rule: 'pod-sidecar', path: at, message: `${SIDECAR_NAME} ${field} was altered (${key} ${is}, ${injects}); ${FIX}` };
  }
  const is = actual === undefined ? 'is absent' : `is ${quote(actual, 50)}`;
  const injects = want === undefined ? 'idgate sets none' : `idgate injects ${quote(want, 50)}`;
  return { rule: 'pod-sidecar', path: at, message: `${SIDECAR_NAME} ${field} was altered (${is}, ${injects}); ${FIX}` };
}

/** Why an environment variable in the proxy matters, for the message. */
function envRisk(name: string): string {
  if (name.startsWith('IDGATE_')) return `: IDGATE_* variables set the proxy's flags (${name} is --${name.slice(7).toLowerCase().replaceAll('_', '-')})`;
  if (name === 'NODE_OPTIONS') return ': NODE_OPTIONS makes Node.js run other code in the proxy (--import, --require)';
  if (name === 'NODE_TLS_REJECT_UNAUTHORIZED' || name === 'NODE_EXTRA_CA_CERTS') return `: ${name} changes which servers the proxy trusts for issuer keys`;
  if (name.startsWith('NODE_')) return `: ${name} changes how Node.js runs the proxy`;
  return '';
}

function compareEnv(container: Container, expected: Container, path: FieldPath): Finding[] {
  const actual = asArray<Record<string, unknown>>(container.env);
  const want = asArray<Record<string, unknown>>(expected.env);
  const findings: Finding[] = [];
  actual.forEach((e, i) => {
    if (want.some((w) => isDeepStrictEqual(w, e))) return;
    const name = typeof e?.name === 'string' ? e.name : '';
    findings.push({
      rule: 'pod-sidecar',
      path: path.child('env').index(i).toString(),
      message: `${SIDECAR_NAME} env ${quote(name)} is not what idgate injects${envRisk(name)}; ${FIX}`,
    });
  });
  for (const w of want) {
    if (!actual.some((e) => isDeepStrictEqual(w, e)))
      findings.push({
        rule: 'pod-sidecar',
        path: path.child('env').toString(),
        message: `${SIDECAR_NAME} env lacks ${quote(w.name)}, which idgate injects; ${FIX}`,
      });
  }
  return findings;
}

/** A projected volume's sources with the API server's defaults taken out. */
function projectedSources(volume: Volume | undefined): unknown[] | undefined {
  const projected = volume?.projected as { sources?: unknown; defaultMode?: unknown } | undefined;
  if (projected === undefined || projected === null || (projected.defaultMode !== undefined && projected.defaultMode !== 0o644)) return undefined;
  return Array.isArray(projected.sources) ? projected.sources : undefined;
}

/**
 * The ServiceAccount admission plugin's volume (plugin/pkg/admission/serviceaccount): named
 * `kube-api-access-<5 characters>`, a token for the API server's audiences, the cluster CA from
 * kube-root-ca.crt and the namespace. Checked source by source, so a volume of that name that
 * holds another CA or token is not taken for it.
 */
export function isServiceAccountVolume(volume: Volume | undefined): boolean {
  if (!/^kube-api-access-[a-z0-9]+$/.test(volume?.name ?? '')) return false;
  const sources = projectedSources(volume) as Array<Record<string, Record<string, unknown>>> | undefined;
  if (sources?.length !== 3) return false;
  const [token, ca, ns] = sources;
  const tokenKeys = Object.keys(token?.serviceAccountToken ?? {}).sort();
  return (
    Object.keys(token ?? {}).length === 1 &&
    token?.serviceAccountToken?.path === 'token' &&
    isDeepStrictEqual(
      tokenKeys.filter((k) => k !== 'expirationSeconds'),
      ['path'],
    ) &&
    isDeepStrictEqual(ca, { configMap: { name: ROOT_CA_CONFIGMAP, items: [{ key: 'ca.crt', path: 'ca.crt' }] } }) &&
    isDeepStrictEqual(Object.keys(ns ?? {}), ['downwardAPI']) &&
    isDeepStrictEqual(
      asArray<{ path?: string; fieldRef?: { fieldPath?: string } }>(ns?.downwardAPI?.items).map((i) => [i?.path, i?.fieldRef?.fieldPath]),
      [['namespace', 'metadata.namespace']],
    )
  );
}

/** The volume a mount refers to must be the one idgate injects under that name. */
function isInjectedVolume(volume: Volume | undefined, name: string): boolean {
  if (name !== KUBE_API_VOLUME_NAME) return false;
  return isDeepStrictEqual(projectedSources(volume), (kubeApiVolume().projected as { sources: unknown[] }).sources);
}

function compareVolumeMounts(container: Container, expected: Container, spec: PodSpec | undefined, path: FieldPath): Finding[] {
  const actual = asArray<VolumeMount>(container.volumeMounts);
  const want = asArray<VolumeMount>(expected.volumeMounts);
  const volumes = new Map(asArray<Volume>(spec?.volumes).map((v) => [v?.name, v]));
  const findings: Finding[] = [];
  actual.forEach((m, i) => {
    const volume = volumes.get(m?.name);
    if (want.some((w) => isDeepStrictEqual(w, m))) {
      if (isInjectedVolume(volume, m.name ?? '')) return;
      findings.push({
        rule: 'pod-sidecar',
        path: path.child('volumeMounts').index(i).toString(),
        message: `${SIDECAR_NAME} mounts volume ${quote(m.name)}, which is not the one idgate injects under that name; ${FIX}`,
      });
      return;
    }
    const pluginMount =
      m?.mountPath === KUBE_API_MOUNT_PATH &&
      m.readOnly === true &&
      Object.keys(m).every((k) => k === 'name' || k === 'mountPath' || k === 'readOnly') &&
      isServiceAccountVolume(volume) &&
      !want.some((w) => w.mountPath === KUBE_API_MOUNT_PATH);
    if (pluginMount) return;
    const over = m?.mountPath === KUBE_API_MOUNT_PATH ? ' over the ServiceAccount credentials the proxy reads' : '';
    findings.push({
      rule: 'pod-sidecar',
      path: path.child('volumeMounts').index(i).toString(),
      message:
        `${SIDECAR_NAME} mounts ${quote(m?.name)} at ${quote(m?.mountPath)}${over}, which idgate does not inject ` +
        `(only the ServiceAccount plugin's kube-api-access mount is accepted); ${FIX}`,
    });
  });
  for (const w of want) {
    if (!actual.some((m) => isDeepStrictEqual(w, m))) {
      findings.push({
        rule: 'pod-sidecar',
        path: path.child('volumeMounts').toString(),
        message: `${SIDECAR_NAME} lacks the mount of ${quote(w.name)} at ${quote(w.mountPath)}, which idgate injects; ${FIX}`,
      });
    }
  }
  return findings;
}

/**
 * Every difference between `container` (the Pod's idgate-proxy at `path`) and `expected`
 * (buildSidecar for this Pod), as findings naming the field. Placement and restartPolicy are
 * judged by the caller.
 */
export function compareSidecar(container: Container, expected: Container, spec: PodSpec | undefined, path: FieldPath, config: SidecarConfig): Finding[] {
  const findings: Finding[] = [];
  if (!acceptedSidecarImage(container.image, config)) {
    findings.push({
      rule: 'pod-sidecar',
      path: path.child('image').toString(),
      message: `${SIDECAR_NAME} image was altered (is ${quote(container.image, 50)}, idgate accepts ${acceptedImagesText(config)}); ${FIX}`,
    });
  }
  const tmp = container.terminationMessagePath;
  if (tmp !== undefined && tmp !== TERMINATION_MESSAGE_PATH) findings.push(altered(path, 'terminationMessagePath', tmp, TERMINATION_MESSAGE_PATH));
  const fields = new Set([...Object.keys(container), ...Object.keys(expected)].filter((k) => !SPECIAL.has(k)));
  for (const field of [...fields].sort()) {
    const actual = normalized(field, container[field]);
    const want = normalized(field, expected[field]);
    if (!isDeepStrictEqual(actual, want)) findings.push(altered(path, field, actual, want));
  }
  return [...findings, ...compareEnv(container, expected, path), ...compareVolumeMounts(container, expected, spec, path)];
}
