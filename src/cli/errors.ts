/** Errors the CLI turns into exit codes (docs/design.md#command-line). */

/** Exit 2: a usage or configuration error; the message names the flag or the file (and line). */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const EXIT_OK = 0;
export const EXIT_VIOLATIONS = 1;
export const EXIT_USAGE = 2;
