/** Reading a raw watch stream in tests, without a client library in between. */
import assert from 'node:assert/strict';

/** One watch event as the API server writes it (a line of the stream). */
export interface WatchEvent {
  readonly type: string;
  readonly object: any;
}

/**
 * Reads a watch stream until `done(events)` holds after an event (or the stream ended), then
 * aborts it. A number `n` means "until n events arrived".
 */
export async function watchEvents(url: string, done: number | ((events: readonly WatchEvent[]) => boolean)): Promise<WatchEvent[]> {
  const enough = typeof done === 'number' ? (events: readonly WatchEvent[]) => events.length >= done : done;
  const controller = new AbortController();
  const res = await fetch(url, { signal: controller.signal });
  assert.equal(res.status, 200);
  const events: WatchEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of res.body!) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        events.push(JSON.parse(buffer.slice(0, nl)) as WatchEvent);
        buffer = buffer.slice(nl + 1);
        if (enough(events)) return events;
      }
    }
  } finally {
    controller.abort();
  }
  return events;
}
