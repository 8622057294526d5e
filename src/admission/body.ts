/**
 * Reading an AdmissionReview body: JSON in UTF-8, at most MAX_BODY_BYTES, and only while the
 * process-wide {@link BodyBudget} has room for it (docs/design.md#bad-input-and-body-limits).
 *
 * The admission routes run outside express (see webhook/app.ts), so not through body-parser
 * either. What they need is narrow: the API server only ever sends uncompressed UTF-8 JSON, with
 * a Content-Length (client-go sends the encoded review from memory).
 *
 * How long a body may take is bounded by the server (webhook/server.ts, RECEIVE_MS); how many
 * bodies and how many bytes are read at once, here. Without both, 96 connections each sending
 * 3 MiB minus one byte and then stalling held 288 MiB for Node's 300 s request timeout, past the
 * Deployment's 256 Mi memory limit.
 */
import type { IncomingMessage } from 'node:http';
import { MAX_BODY_BYTES, ReviewError } from './review.ts';

/** `application/json`, optionally with `charset=utf-8` (any case, any spacing). */
const JSON_TYPE = /^application\/json\s*(?:;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

/** Checks the request's Content-Type and Content-Encoding before the body is read. */
export function checkJsonRequest(req: IncomingMessage): void {
  const type = req.headers['content-type'];
  if (type === undefined || !JSON_TYPE.test(type)) {
    throw new ReviewError(415, 'ERR_CONTENT_TYPE', `Content-Type must be application/json (UTF-8), got ${JSON.stringify(type ?? null)}`);
  }
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    throw new ReviewError(415, 'ERR_ENCODING', `Content-Encoding ${JSON.stringify(encoding)} is not supported; send the body uncompressed`);
  }
  if (Number(req.headers['content-length']) > MAX_BODY_BYTES) throw tooLarge();
}

function tooLarge(): ReviewError {
  return new ReviewError(413, 'ERR_BODY_TOO_LARGE', `body exceeds ${MAX_BODY_BYTES} bytes (3 MiB), the most a valid AdmissionReview can be`);
}

/** How many request bodies, and how many of their bytes, may be read at once. */
export interface BodyLimits {
  /** Bodies being read at once. */
  readonly reads: number;
  /** Bytes of all bodies being read at once, counted by their declared Content-Length. */
  readonly bytes: number;
  /** Of {@link BodyLimits.bytes}, how many large bodies may hold; the rest is kept for small ones. */
  readonly largeBytes: number;
  /** A body declaring more than this (or no Content-Length) is large. */
  readonly largeBody: number;
}

const MiB = 1024 * 1024;

/**
 * The webhook's limits. The Deployment gives the container 256 Mi with a 128 MB old space and
 * 16 MB semi-spaces (manifests/base/deployment.yaml); it peaks at about 180 MB at saturation
 * with 10,000 bindings (BENCHMARKS.md), which leaves about 70 MB for bodies in flight and what
 * parsing them allocates.
 */
export const BODY_LIMITS: BodyLimits = {
  // Far above what reaches one replica legitimately: reading a body takes well under a
  // millisecond in a cluster, and one API server runs at most 200 mutating requests at once
  // (kube-apiserver --max-mutating-requests-inflight). Each read also holds a socket, a parser
  // and up to 16 KiB of buffered body in node beyond its counted bytes.
  reads: 256,
  // 32 MiB of bodies at once, within the ~70 MB left over (see above) with room for parsing.
  bytes: 32 * MiB,
  // Eight bodies of the 3 MiB maximum at once. The other 8 MiB stay free for ordinary reviews
  // (32 of 256 KiB, 2,000 typical 4 KB Pods), so large uploads held open, hostile or not, never
  // shut the door on the small reviews that are almost all of the traffic.
  largeBytes: 24 * MiB,
  // A typical Pod review is 4 KB, a Pod with 10 containers and 52 KB of managedFields 61 KB
  // (BENCHMARKS.md); 256 KiB is four times that.
  largeBody: 256 * 1024,
};

/**
 * Seconds the API server is asked to wait before retrying a refused read. client-go's REST
 * client (which calls webhooks) retries a 429 or 5xx answer that carries an integer
 * Retry-After, up to 10 times within the webhook's timeout (k8s.io/client-go/rest/with_retry.go,
 * checkWait); 1 is the smallest whole number it accepts.
 */
export const RETRY_AFTER_SECONDS = 1;

/** A body refused because the budget is spent: 503 with Retry-After, which the API server retries. */
export class BusyError extends ReviewError {
  readonly retryAfterSeconds = RETRY_AFTER_SECONDS;
  constructor(message: string) {
    super(503, 'ERR_BUSY', message);
  }
}

/**
 * Bodies and bytes being read now, against {@link BodyLimits}. One per process (the bound is on
 * memory, not per route). Plain counters on purpose: taking and giving back are a few additions
 * on the admission hot path, with nothing allocated per request.
 */
export class BodyBudget {
  readonly limits: BodyLimits;
  reads = 0;
  bytes = 0;
  largeBytes = 0;

  constructor(limits: BodyLimits = BODY_LIMITS) {
    this.limits = limits;
  }

  /** Whether a body declaring `size` bytes may be read now (pure). */
  admits(size: number): boolean {
    const { reads, bytes, largeBytes, largeBody } = this.limits;
    if (this.reads >= reads || this.bytes + size > bytes) return false;
    return size <= largeBody || this.largeBytes + size <= largeBytes;
  }

  /** Takes room for a body of `size` bytes; false (and nothing taken) if there is none. */
  take(size: number): boolean {
    if (!this.admits(size)) return false;
    this.reads++;
    this.bytes += size;
    if (size > this.limits.largeBody) this.largeBytes += size;
    return true;
  }

  /** Gives back what {@link BodyBudget.take} took for `size`. */
  give(size: number): void {
    this.reads--;
    this.bytes -= size;
    if (size > this.limits.largeBody) this.largeBytes -= size;
  }
}

/**
 * The size to reserve: the declared Content-Length (node's parser never delivers more), or the
 * maximum for a chunked body, whose size is unknown until it ends.
 */
function declaredSize(req: IncomingMessage): number {
  const length = req.headers['content-length'];
  return length === undefined ? MAX_BODY_BYTES : Number(length);
}

function busy(budget: BodyBudget): BusyError {
  const { reads, bytes } = budget;
  return new BusyError(
    `idgate is reading ${reads} request bodies (${(bytes / MiB).toFixed(1)} MiB) already, its limit; retry in ${RETRY_AFTER_SECONDS} s (the API server does so on its own)`,
  );
}

/**
 * Reads the whole body and parses it as JSON, once `budget` has room for it (else rejects at
 * once with a {@link BusyError}, nothing read). Stops reading (and rejects with 413) as soon as
 * the body passes the limit, whatever Content-Length said; rejects with 408 if the connection
 * closes before the body ends (the server's receive deadline, or the client gave up). The room
 * is given back however the read ends.
 */
export function readJson(req: IncomingMessage, budget: BodyBudget): Promise<unknown> {
  const reserved = declaredSize(req);
  if (!budget.take(reserved)) return Promise.reject(busy(budget));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      budget.give(reserved);
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.off('data', onData);
        req.resume(); // discard the rest so the answer can still be written
        chunks.length = 0;
        fail(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    // 'error' ("aborted") or 'close' without 'end': the socket went away mid-body (the server's
    // receive deadline, or the client gave up). 'close' also follows every complete request:
    // the error (and its stack trace) is built only when it is one.
    const incomplete = () => {
      if (!settled) fail(new ReviewError(408, 'ERR_BODY_INCOMPLETE', `the connection closed after ${size} of ${reserved} bytes of the body`));
    };
    // `on`, not `once`: each fires at most once per request anyway (and `settled` guards), and
    // `once` wraps every listener in a closure of its own, three more allocations per review.
    req.on('data', onData);
    req.on('error', incomplete);
    req.on('close', incomplete);
    req.on('end', () => {
      if (settled) return;
      settled = true;
      budget.give(reserved);
      const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)).toString('utf8');
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(new ReviewError(400, 'ERR_NOT_JSON', `body is not valid JSON: ${(err as Error).message}`));
      }
    });
  });
}
