/**
 * Readiness: `/readyz` is ready only when every registered check passes (TLS loaded, caches
 * synced…) and the server is not shutting down.
 */

export interface Readiness {
  /** Registers a named check; it is called on every `/readyz`. */
  register(name: string, check: () => boolean): void;
  /** Flips readiness to false for good (SIGTERM). */
  markShuttingDown(): void;
  /** Names of the checks that fail now (with `shutting-down` while stopping); empty when ready. */
  failing(): string[];
}

export function createReadiness(): Readiness {
  const checks = new Map<string, () => boolean>();
  let shuttingDown = false;
  return {
    register(name, check) {
      checks.set(name, check);
    },
    markShuttingDown() {
      shuttingDown = true;
    },
    failing() {
      const failed = shuttingDown ? ['shutting-down'] : [];
      for (const [name, check] of checks) {
        let ok = false;
        try {
          ok = check();
        } catch {
          ok = false;
        }
        if (!ok) failed.push(name);
      }
      return failed;
    },
  };
}
