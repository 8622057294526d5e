/**
 * The one report model `idgate check` and `idgate audit` share (docs/design.md#audit-and-check). Findings come
 * from {@link evaluate}'s {@link Decision}s unchanged — the CLI re-implements no rule — plus the
 * stale-identity findings of stale.ts. Every reporter (table, json, yaml, policyreport) reads a
 * {@link Report}; none looks at Kubernetes objects or the baseline.
 */
import type { Decision, JudgedViolation } from '../baseline/evaluate.ts';
import type { RuleId } from '../config/baseline.ts';

/** Which object a finding is about. `file`/`line` for check, `uid` for audit. */
export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  /** metadata.name, else `generateName` + `*` (a Pod template stamped by a controller), else `<no name>`. */
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly file?: string;
  readonly line?: number;
}

/** One violation of one object. */
export interface ReportFinding {
  readonly object: ObjectRef;
  readonly rule: RuleId;
  /** Field path in the object (`spec.template.spec.serviceAccountName`); '' for the whole object. */
  readonly path: string;
  readonly message: string;
  /** The mode the webhook would act in: enforce (deny, unless warnOnly) or audit (warn). */
  readonly mode: 'enforce' | 'audit';
  /** Whether the webhook would refuse the object for it. */
  readonly denies: boolean;
  /** workload-template: the pod rule the template breaks. */
  readonly podRule?: RuleId;
  /** A rule that only ever warns (networkpolicy-unknown-group). */
  readonly warnOnly?: boolean;
  /** A running Pod whose identity labels no longer match its bindings (see stale.ts). */
  readonly stale?: boolean;
}

/** Counts per rule. */
export interface RuleCount {
  findings: number;
  denied: number;
}

/** Counts per namespace. */
export interface NamespaceCount {
  /** Objects judged in the namespace. */
  judged: number;
  /** Objects with at least one finding. */
  failing: number;
  findings: number;
  denied: number;
}

/** The totals of a report, overall, per rule and per namespace. */
export interface ReportSummary {
  /** Objects read (input documents, or listed objects). */
  objects: number;
  /** Objects judged by at least one rule (judged kinds outside exempt namespaces). */
  judged: number;
  /** Objects skipped because their namespace is exempt. */
  exempt: number;
  /** Objects of kinds idgate does not judge (Services, ConfigMaps, ...). */
  notJudged: number;
  /** ReplicaSets and Jobs judged through the Deployment or CronJob that owns them (audit). */
  owned: number;
  findings: number;
  /** Findings the webhook would deny. */
  denied: number;
  /** Objects the webhook would refuse. */
  deniedObjects: number;
  /** Running Pods with stale identity labels (audit). */
  stalePods: number;
  byRule: Record<string, RuleCount>;
  byNamespace: Record<string, NamespaceCount>;
}

/** The shared report. Its JSON form is described by report.schema.json. */
export interface Report {
  readonly apiVersion: 'idgate.dev/v1alpha1';
  readonly kind: 'IdgateReport';
  readonly source: 'check' | 'audit';
  /** RFC 3339. */
  readonly generatedAt: string;
  readonly summary: ReportSummary;
  readonly findings: readonly ReportFinding[];
}

/** The result of judging one object (see judge.ts). */
export interface ObjectVerdict {
  readonly ref: ObjectRef;
  /** Undefined when idgate does not judge the kind. */
  readonly decision?: Decision;
  /** Replaces the decision's pod-identity-labels findings when the Pod's labels are merely stale. */
  readonly stale?: ReportFinding;
}

/** Accumulates verdicts page by page (audit never holds a whole cluster) into a {@link Report}. */
export class ReportBuilder {
  readonly #source: 'check' | 'audit';
  readonly #findings: ReportFinding[] = [];
  readonly #summary: ReportSummary = {
    objects: 0,
    judged: 0,
    exempt: 0,
    notJudged: 0,
    owned: 0,
    findings: 0,
    denied: 0,
    deniedObjects: 0,
    stalePods: 0,
    byRule: {},
    byNamespace: {},
  };

  constructor(source: 'check' | 'audit') {
    this.#source = source;
  }

  /** Adds one object's verdict. */
  add(verdict: ObjectVerdict): void {
    const s = this.#summary;
    s.objects++;
    const { decision, ref } = verdict;
    if (decision === undefined || decision.skipped === 'kind-not-judged') {
      s.notJudged++;
      return;
    }
    if (decision.skipped === 'exempt-namespace') {
      s.exempt++;
      return;
    }
    s.judged++;
    const ns = ref.namespace ?? '';
    const nsCount = s.byNamespace[ns] ?? { judged: 0, failing: 0, findings: 0, denied: 0 };
    s.byNamespace[ns] = nsCount;
    nsCount.judged++;
    let violations: readonly JudgedViolation[] = [...decision.violations, ...decision.unavailable];
    if (verdict.stale) violations = violations.filter((v) => v.rule !== 'pod-identity-labels');
    const findings: ReportFinding[] = violations.map((v) => toFinding(ref, v));
    if (verdict.stale) {
      findings.push(verdict.stale);
      s.stalePods++;
    }
    if (findings.length === 0) return;
    nsCount.failing++;
    let denies = false;
    for (const f of findings) {
      this.#findings.push(f);
      s.findings++;
      nsCount.findings++;
      const r = s.byRule[f.rule] ?? { findings: 0, denied: 0 };
      s.byRule[f.rule] = r;
      r.findings++;
      if (f.denies) {
        denies = true;
        s.denied++;
        nsCount.denied++;
        r.denied++;
      }
    }
    if (denies) s.deniedObjects++;
  }

  /** Counts an object whose owner carries the same template and is judged instead. */
  addOwned(): void {
    this.#summary.objects++;
    this.#summary.owned++;
  }

  /** Findings so far (for progress displays). */
  findingCount(): number {
    return this.#summary.findings;
  }

  build(now: Date): Report {
    return {
      apiVersion: 'idgate.dev/v1alpha1',
      kind: 'IdgateReport',
      source: this.#source,
      generatedAt: now.toISOString(),
      summary: structuredClone(this.#summary),
      findings: [...this.#findings],
    };
  }
}

function toFinding(object: ObjectRef, v: JudgedViolation): ReportFinding {
  return {
    object,
    rule: v.rule,
    path: v.path,
    message: v.message,
    mode: v.mode,
    denies: v.denies,
    ...(v.podRule ? { podRule: v.podRule } : {}),
    ...(v.warnOnly ? { warnOnly: true } : {}),
  };
}

/** `Kind namespace/name`, how kubectl users name an object. */
export function describeRef(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}
