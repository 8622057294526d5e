/**
 * The parts of Kubernetes objects idgate reads, as they arrive in JSON (AdmissionReview,
 * manifests, list responses). Structural and partial on purpose: anything may be missing in
 * user input, so every field is optional and rules check before they read.
 */

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Array<{ apiVersion?: string; kind?: string; name?: string; uid?: string; controller?: boolean }>;
  managedFields?: unknown[];
  [k: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [k: string]: unknown;
}

export interface ContainerPort {
  name?: string;
  containerPort?: number;
  protocol?: string;
  [k: string]: unknown;
}
export interface VolumeMount {
  name?: string;
  mountPath?: string;
  readOnly?: boolean;
  [k: string]: unknown;
}
export interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type?: string; localhostProfile?: string };
  [k: string]: unknown;
}
export interface ResourceRequirements {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

export interface Container {
  name?: string;
  image?: string;
  command?: string[];
  args?: string[];
  ports?: ContainerPort[];
  env?: Array<{ name?: string; value?: string; [k: string]: unknown }>;
  volumeMounts?: VolumeMount[];
  securityContext?: SecurityContext;
  resources?: ResourceRequirements;
  restartPolicy?: string;
  [k: string]: unknown;
}

export interface Volume {
  name?: string;
  [k: string]: unknown;
}

export interface PodSpec {
  serviceAccountName?: string;
  /** Deprecated alias of serviceAccountName, still honoured by the API server. */
  serviceAccount?: string;
  hostNetwork?: boolean;
  containers?: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  [k: string]: unknown;
}

export interface Pod extends KubeObject {
  spec?: PodSpec;
}

export interface PodTemplateSpec {
  metadata?: ObjectMeta;
  spec?: PodSpec;
}

export interface LabelSelectorRequirement {
  key?: string;
  operator?: string;
  values?: string[];
}
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr?: string; except?: string[] };
}

export interface NetworkPolicyIngressRule {
  from?: NetworkPolicyPeer[];
  ports?: unknown[];
}

export interface NetworkPolicy extends KubeObject {
  spec?: {
    podSelector?: LabelSelector;
    policyTypes?: string[];
    ingress?: NetworkPolicyIngressRule[];
    egress?: unknown[];
  };
}

export interface OIDCGroupBindingObject extends KubeObject {
  spec?: { issuer?: string; groups?: string[]; serviceAccounts?: string[] };
}

/** A plain JSON object (not null, not an array): every untrusted field is checked with this first. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Pod's ServiceAccount per docs/design.md#mutation, step 1. */
export function serviceAccountOf(spec: PodSpec | undefined): string {
  return spec?.serviceAccountName || spec?.serviceAccount || 'default';
}
