/**
 * `idgate audit`: every existing object judged by the same rules, nothing changed
 * (docs/design.md#audit-and-check). Namespaces and OIDCGroupBindings are listed first — they are
 * the identity the rules resolve against, and are few — then each judged kind page by page, each
 * page judged and dropped before the next is fetched, so a large cluster is never held in memory at
 * once.
 */
import type { KubeObject } from '../admission/k8s.ts';
import type { Baseline } from '../config/baseline.ts';
import { BINDING_API_VERSION, BINDING_KIND, validateBinding } from '../identity/binding.ts';
import { BindingIndex } from '../identity/index.ts';
import { NotServedError, UnjudgedError, type AuditClient, type AuditResource } from './cluster.ts';
import { judgeObject } from './judge.ts';
import { ReportBuilder } from './report.ts';

const BINDINGS: AuditResource = { apiVersion: BINDING_API_VERSION, kind: BINDING_KIND };

/** The judged kinds besides bindings, in the order they are listed. */
export const AUDITED_RESOURCES: readonly AuditResource[] = [
  { apiVersion: 'v1', kind: 'Pod' },
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet' },
  { apiVersion: 'apps/v1', kind: 'DaemonSet' },
  { apiVersion: 'apps/v1', kind: 'ReplicaSet' },
  { apiVersion: 'batch/v1', kind: 'Job' },
  { apiVersion: 'batch/v1', kind: 'CronJob' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
];

/**
 * ReplicaSets of a Deployment and Jobs of a CronJob carry their owner's template: the owner is
 * judged, and judging them too would repeat every finding once per rollout revision.
 */
const OWNER_JUDGED: Readonly<Record<string, string>> = { ReplicaSet: 'Deployment', Job: 'CronJob' };

function ownedByJudgedController(obj: KubeObject): boolean {
  const owner = OWNER_JUDGED[String(obj.kind)];
  const refs = (obj.metadata as { ownerReferences?: Array<{ kind?: string; controller?: boolean }> } | undefined)?.ownerReferences;
  return owner !== undefined && (refs ?? []).some((r) => r.controller === true && r.kind === owner);
}

/** Progress of a scan, for a terminal display. */
export interface ScanProgress {
  readonly kind: string;
  /** Objects read so far (all kinds). */
  readonly objects: number;
  readonly findings: number;
}

/** The input of {@link scanCluster}. */
export interface ScanOptions {
  readonly client: AuditClient;
  readonly baseline: Baseline;
  /** Restrict judging to one namespace (`-n`); identity is still read from every namespace. */
  readonly namespace?: string;
  /** Objects per list request (default 500, client-go's pager default). */
  readonly pageSize?: number;
  readonly version: string;
  readonly onProgress?: (p: ScanProgress) => void;
  /** Told about kinds the cluster does not serve (their CRD is missing); they are skipped. */
  readonly onNotice?: (message: string) => void;
}

/** Lists and judges the cluster; returns the accumulated report. */
export async function scanCluster(options: ScanOptions): Promise<ReportBuilder> {
  const { client, baseline } = options;
  const pageSize = options.pageSize ?? 500;
  const builder = new ReportBuilder('audit');
  const index = new BindingIndex();
  let objects = 0;

  for await (const page of client.listPages({ apiVersion: 'v1', kind: 'Namespace' }, undefined, pageSize)) {
    for (const ns of page) if (ns.metadata?.name) index.setNamespace(ns.metadata.name, ns.metadata.labels ?? {});
  }
  const bindingObjects: KubeObject[] = [];
  try {
    // Every namespace: networkpolicy-unknown-group asks whether any binding anywhere provides a group.
    for await (const page of client.listPages(BINDINGS, undefined, pageSize)) {
      for (const obj of page) {
        const result = validateBinding(obj);
        // A malformed binding grants nothing (as in the webhook's identity source); it is still judged below.
        if (result.ok) index.upsert(result.binding);
        if (options.namespace === undefined || obj.metadata?.namespace === options.namespace) bindingObjects.push(obj);
      }
    }
  } catch (err) {
    if (!(err instanceof NotServedError)) throw err;
    options.onNotice?.(`${err.message}; auditing without bindings`);
  }
  index.markSynced();

  const judgeOptions = { baseline, identity: index, defaultNamespace: options.namespace ?? 'default', mode: 'audit' as const, version: options.version };
  // Everything listed here is of a kind the rules judge: an object that still comes back
  // unjudged means the audit misread the API's answer, and its report would lie.
  let unjudged = 0;
  let firstUnjudged = '';
  const judgeAll = (kind: string, page: readonly KubeObject[]): void => {
    for (const obj of page) {
      objects++;
      if (ownedByJudgedController(obj)) {
        builder.addOwned();
        continue;
      }
      const verdict = judgeObject(obj, judgeOptions);
      if (verdict.decision === undefined || verdict.decision.skipped === 'kind-not-judged') {
        if (unjudged++ === 0)
          firstUnjudged = `${kind} ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''} with kind ${JSON.stringify(obj.kind ?? null)}`;
      }
      builder.add(verdict);
    }
    options.onProgress?.({ kind, objects, findings: builder.findingCount() });
  };
  judgeAll(BINDING_KIND, bindingObjects);
  for (const resource of AUDITED_RESOURCES) {
    for await (const page of client.listPages(resource, options.namespace, pageSize)) judgeAll(resource.kind, page);
  }
  if (unjudged > 0) throw new UnjudgedError(unjudged, objects, firstUnjudged);
  return builder;
}
