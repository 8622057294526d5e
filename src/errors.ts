/**
 * Every error code idgate raises, what the process exits with for it, and what its message names
 * (docs/design.md#command-line). `main()` (src/cli/program.ts) maps errors to exit codes here and
 * nowhere else: an error whose `code` is catalogued is a usage or configuration error, exit 2,
 * printed with its catalogued prefix; anything else is a bug in idgate.
 *
 * The catalogue is data keyed by code, and the classes keep their own `code` constants where they
 * are declared: most of those folders must not import anything outside themselves
 * (test/architecture/cycles.test.ts), and none needs to, since a code is a string.
 * test/cli/exit-codes.test.ts checks that every class's code is catalogued.
 */

/** Success, or nothing to report. */
export const EXIT_OK = 0;
/** `audit` and `check` found something the cluster would deny. */
export const EXIT_VIOLATIONS = 1;
/**
 * A usage or configuration error, and also a bug: the contract has one failure code, and a
 * crash must not read as a verdict (1) in the CI jobs that run `check` and `audit`, as `audit`
 * already exits 2 rather than print a clean bill it could not vouch for (docs/design.md#audit-and-check).
 */
export const EXIT_USAGE = 2;

export interface CatalogueEntry {
  /** What the message names, so its user knows what to fix. */
  readonly names: string;
  /** Put before the message when it does not name the flag itself. */
  readonly prefix?: string;
}

/** Errors that end the process with {@link EXIT_USAGE}, by code. */
export const EXIT_ERRORS = {
  ERR_USAGE: { names: 'the flag at fault (a missing, conflicting or unusable flag)' },
  ERR_LISTEN: { names: '--listen and the address (in use, not local, or a privileged port)', prefix: '--listen: ' },
  ERR_BASELINE_READ: { names: '--config and the baseline file', prefix: '--config: ' },
  ERR_BASELINE_YAML: { names: '--config and the baseline file:line', prefix: '--config: ' },
  ERR_BASELINE_INVALID: { names: '--config and the baseline file:line and field', prefix: '--config: ' },
  ERR_BINDINGS_FILE: { names: '--bindings-file and the file', prefix: '--bindings-file: ' },
  ERR_BINDING_INVALID: { names: '--bindings-file and the file:line and field', prefix: '--bindings-file: ' },
  ERR_INPUT: { names: 'each input file (-f) and line that cannot be read as Kubernetes objects', prefix: 'unreadable input:\n' },
  ERR_KUBECONFIG: { names: '--kubeconfig or --context and the kubeconfig file, or the in-cluster files' },
  ERR_PROXY_CONFIG: { names: 'the proxy flag at fault' },
  ERR_UNJUDGED: { names: 'the first object audit listed but could not judge (a bug in idgate, never a clean bill)' },
} as const satisfies Record<string, CatalogueEntry>;

export type ExitErrorCode = keyof typeof EXIT_ERRORS;

/**
 * Codes that never end the process: handled where they are raised. Listed so that every code
 * idgate raises is in this file.
 */
export const HANDLED_ERRORS = {
  ERR_NOT_SERVED: 'audit: a kind whose CustomResourceDefinition is not installed is skipped, with a notice',
  ERR_CERTS_CONFLICT: '--manage-certs: another replica wrote the Secret first; re-read and re-decided',
  ERR_FILE_UNSETTLED: 'a watched file kept changing: a reload keeps the last good content; at start-up the bindings file reports ERR_BINDINGS_FILE',
} as const;

/**
 * Codes of HTTP answers, never exits: the webhook's (the API server shows the message in its
 * error for a non-200, and client-go retries 503) and the sidecar's refusals, whose
 * `IDGATE_PROXY_` prefix is part of the answer body apps and dashboards match on, so it stays.
 */
export const ANSWER_ERRORS = {
  ERR_NOT_JSON: '400: the webhook body is not JSON',
  ERR_NOT_OBJECT: '400: the body is not a JSON object',
  ERR_WRONG_KIND: '400: not an AdmissionReview',
  ERR_WRONG_API_VERSION: '400: not admission.k8s.io/v1',
  ERR_NO_REQUEST: '400: request is missing',
  ERR_NO_UID: '400: request.uid is missing',
  ERR_BAD_OPERATION: '400: request.operation is not CREATE, UPDATE, DELETE or CONNECT',
  ERR_NO_REQUEST_KIND: '400: request.kind is missing',
  ERR_BAD_OBJECT: '400: request.object or oldObject is not a valid object of its kind (names the field)',
  ERR_WRONG_OBJECT_KIND: "400: the object's kind is not request.kind",
  ERR_BAD_REVIEW: '400: any other malformed review',
  ERR_BAD_REQUEST: '400: a request express could not read',
  ERR_CONTENT_TYPE: '415: Content-Type is not application/json',
  ERR_ENCODING: '415: a compressed body',
  ERR_BODY_TOO_LARGE: '413: over 3 MiB, the most a valid AdmissionReview can be',
  ERR_BODY_INCOMPLETE: '408: the connection closed before the whole body arrived',
  ERR_BUSY: '503 with Retry-After: the body budget is spent; client-go retries',
  ERR_METHOD: '405: a route asked with the wrong method',
  ERR_NOT_FOUND: '404: no such route',
  ERR_INTERNAL: '500: a bug in a route; the API server applies the failurePolicy',
  ERR_CLIENT_CERT_REQUIRED: '401: --client-ca is set and the caller presented no certificate',
  ERR_CLIENT_CERT_UNTRUSTED: '403: the client certificate is not signed by --client-ca',
  IDGATE_PROXY_NO_TOKEN: '401: no bearer token',
  IDGATE_PROXY_INVALID_TOKEN: '401: the token does not verify',
  IDGATE_PROXY_BAD_REQUEST: '400: a request the sidecar will not forward',
  IDGATE_PROXY_FORBIDDEN: "403: the caller's groups are not allowed",
  IDGATE_PROXY_IDP_UNAVAILABLE: "503 with Retry-After: the issuer's keys cannot be fetched",
} as const;

/** A usage or configuration error raised by idgate's own code; the message names the flag. */
export class UsageError extends Error {
  readonly code: ExitErrorCode;

  constructor(message: string, code: ExitErrorCode = 'ERR_USAGE') {
    super(message);
    this.name = 'UsageError';
    this.code = code;
  }
}

/** Whether `err` carries a code of {@link EXIT_ERRORS}: an error idgate raised on purpose. */
export function isCatalogued(err: unknown): err is Error & { code: ExitErrorCode } {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && Object.hasOwn(EXIT_ERRORS, code);
}

/** The exit code for `err` and the line to print on stderr. */
export function exitFor(err: unknown): { exit: number; message: string } {
  if (isCatalogued(err)) {
    const entry: CatalogueEntry = EXIT_ERRORS[err.code];
    return { exit: EXIT_USAGE, message: `${entry.prefix ?? ''}${err.message}` };
  }
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return { exit: EXIT_USAGE, message: `internal error (a bug in idgate: please report it with \`idgate --version\`): ${detail}` };
}
