/**
 * Reads an AdmissionReview answer on stdin and prints it with the JSONPatch decoded, so a person
 * running `make run` sees what the webhook would change.
 */
import { text } from 'node:stream/consumers';

const review = JSON.parse(await text(process.stdin));
const response = review.response ?? {};
if (typeof response.patch === 'string') response.patch = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8'));
process.stdout.write(`${JSON.stringify(review, null, 2)}\n`);
