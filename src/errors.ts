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
  ERR_CLIENT_CERT_REQUIRED: 'webhook HTTP 401: --client-ca is set and the caller presented no certificate',
  ERR_CLIENT_CERT_UNTRUSTED: 'webhook HTTP 403: the client certificate is not signed by --client-ca',
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
