/**
 * admission.k8s.io/v1 AdmissionReview, as the API server sends and expects it.
 * https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#request
 */
import type { KubeObject } from './k8s.ts';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
export const ADMISSION_KIND = 'AdmissionReview';

/** `request.operation`: what the API server is about to do with the object. */
export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}
export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource?: string;
  requestKind?: GroupVersionKind;
  requestResource?: GroupVersionResource;
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo?: { username?: string; uid?: string; groups?: string[] };
  object?: KubeObject | null;
  oldObject?: KubeObject | null;
  dryRun?: boolean;
  options?: unknown;
}

export interface Status {
  code?: number;
  message?: string;
  reason?: string;
  status?: 'Success' | 'Failure';
}

/** A JSONPatch (RFC 6902) operation as idgate emits them. */
export type PatchOperation = { op: 'add' | 'replace'; path: string; value: unknown } | { op: 'remove'; path: string };

/** The response a handler returns; the admission layer adds the request's uid. */
export interface AdmissionResult {
  allowed: boolean;
  status?: Status;
  /** Set by {@link patched}; encoded as base64 JSONPatch by the admission layer. */
  patch?: PatchOperation[];
  /** `JSON.stringify(patch)`, when the handler has it already (the mutation assembles it from ready parts). */
  patchJson?: string;
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
  /** Not sent to the API server: extra fields for the decision log line (violations, reason…). */
  log?: Record<string, unknown>;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: Status;
  patchType?: 'JSONPatch';
  patch?: string;
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

export interface AdmissionReview {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: typeof ADMISSION_KIND;
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

/** The one contract every webhook endpoint implements (controller-runtime's `Handle`). */
export type AdmissionHandler = (request: AdmissionRequest) => AdmissionResult | Promise<AdmissionResult>;
