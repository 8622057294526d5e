/**
 * Reading an AdmissionReview body: JSON in UTF-8, at most MAX_BODY_BYTES.
 *
 * The admission routes run outside express (see webhook/app.ts), so not through body-parser
 * either. What they need is narrow: the API server only ever sends uncompressed UTF-8 JSON.
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

/**
 * Reads the whole body and parses it as JSON. Stops reading (and rejects with 413) as soon as
 * the body passes the limit, whatever Content-Length said.
 */
export function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.off('data', onData);
        req.resume(); // discard the rest so the answer can still be written
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('error', reject);
    req.once('end', () => {
      if (size > MAX_BODY_BYTES) return;
      const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)).toString('utf8');
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(new ReviewError(400, 'ERR_NOT_JSON', `body is not valid JSON: ${(err as Error).message}`));
      }
    });
  });
}
