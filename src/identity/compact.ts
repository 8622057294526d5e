/**
 * Giving back the memory a bulk load of bindings grew, before the webhook reports ready
 * (docs/design.md#oidcgroupbinding).
 *
 * Parsing and indexing thousands of bindings allocates fast and keeps what it indexes, so V8
 * grows the young generation to its cap (2 × `--max-semi-space-size`: 32 MB with the
 * Deployment's 16) and keeps it committed: an idle webhook never triggers V8's memory reducer.
 * With 10,000 bindings that was 25 MB of the 130-143 MB RSS at rest. A last-resort collection
 * (the one V8 runs before giving up on an allocation) shrinks the young generation back to
 * 1 MB and compacts the old one: 290 ms for 10,000 bindings at load average 6 (BENCHMARKS.md, "scale").
 * It runs once, at start-up, before readiness; reloads and relists happen while serving, where
 * a pause of that length would land on admission requests, so they do not compact.
 * Node has no API for such a collection: V8's `gc` is taken from a context created while
 * `--expose-gc` is briefly on, so the process's own global scope never gets it.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Below this many bindings the load's garbage is small and the collection is not worth its pause. */
export const COMPACT_MIN_BINDINGS = 1000;

type Gc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;
let gc: Gc | undefined;

/** V8's `gc` function without exposing it to the rest of the process (a new context gets it while the flag is on). */
function v8Gc(): Gc {
  const global = (globalThis as { gc?: Gc }).gc;
  if (global) return global;
  setFlagsFromString('--expose-gc');
  try {
    return runInNewContext('gc') as Gc;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

/** Collects the start-up garbage of a load of `bindings` bindings and shrinks the heap, when it is large enough to matter. */
export function compactAfterLoad(bindings: number): void {
  if (bindings < COMPACT_MIN_BINDINGS) return;
  gc ??= v8Gc();
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
