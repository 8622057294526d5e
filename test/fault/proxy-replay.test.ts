/**
 * Fault: token replay downstream (issue 14). Caller A calls service B with a token for the
 * audience every sidecar accepts; B's app then calls service C with whatever Authorization it
 * was given, as a compromised or careless app would. By default B's proxy keeps A's token to
 * itself, so the replay reaches C without a token and C's app never sees A's identity; only
 * `--pass-authorization` on B hands the token over (and then the replay works, which is why it
 * is off by default). The tokens come from the real OIDC provider.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startTestProvider, type TestProvider } from '../support/oidc-provider.ts';
import { headerValues, listen, startEchoUpstream, startProxy, type Echo, type Running, type RunningProxy } from '../proxy/helpers.ts';

const AUDIENCE = 'urn:idgate:mesh';

/** B's app: replays the Authorization it received (if any) to C and answers with C's status. */
async function startReplayingApp(cUrl: () => string): Promise<Running & { received: Array<string | undefined> }> {
  const received: Array<string | undefined> = [];
  const server = http.createServer(async (req, res) => {
    req.resume();
    received.push(req.headers.authorization);
    const replay = await fetch(`${cUrl()}/payouts`, { headers: req.headers.authorization ? { authorization: req.headers.authorization } : {} });
    await replay.arrayBuffer();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ replayStatus: replay.status }));
  });
  return { ...(await listen(server)), received };
}

describe("fault: replaying a caller's token to another service", () => {
  let idp: TestProvider;
  let appC: Running & { seen: Echo[] };
  let proxyC: RunningProxy;
  let appB: Running & { received: Array<string | undefined> };
  let tokenA: string;

  before(async () => {
    [idp, appC] = await Promise.all([startTestProvider({ defaultAudience: AUDIENCE }), startEchoUpstream()]);
    proxyC = await startProxy({ upstream: appC.url, issuers: [idp.issuer], audiences: [AUDIENCE] });
    appB = await startReplayingApp(() => proxyC.url);
    tokenA = await idp.token('payments-api');
  });
  after(async () => {
    await Promise.all([proxyC.close(), appB.close(), appC.close(), idp.close()]);
  });

  async function viaB(passAuthorization: boolean): Promise<{ status: number; replayStatus: number }> {
    const proxyB = await startProxy({ upstream: appB.url, issuers: [idp.issuer], audiences: [AUDIENCE], passAuthorization });
    try {
      const res = await fetch(`${proxyB.url}/checkout`, { headers: { authorization: `Bearer ${tokenA}` } });
      const body = (await res.json()) as { replayStatus: number };
      return { status: res.status, replayStatus: body.replayStatus };
    } finally {
      await proxyB.close();
    }
  }

  it("replay B→C refused by default: B's app never holds A's token, C's app never sees A", async () => {
    const seenByC = appC.seen.length;
    const r = await viaB(false);
    assert.equal(r.status, 200, 'A reaches B');
    assert.equal(appB.received.at(-1), undefined, "B's app got no Authorization header");
    assert.equal(r.replayStatus, 401, 'C refuses the replay: there is no token to replay');
    assert.equal(appC.seen.length, seenByC, "C's app saw nothing");
    console.log(
      `replay (default): B's app received ${appB.received.filter((a) => a !== undefined).length} tokens, C answered the replay ${r.replayStatus}, C's app saw ${appC.seen.length - seenByC} requests`,
    );
  });

  it("with --pass-authorization on B the token reaches B's app, and the replay to C succeeds", async () => {
    const seenByC = appC.seen.length;
    const r = await viaB(true);
    assert.equal(appB.received.at(-1), `Bearer ${tokenA}`);
    assert.equal(r.replayStatus, 200);
    assert.equal(appC.seen.length, seenByC + 1);
    assert.deepEqual(headerValues(appC.seen.at(-1)!.rawHeaders, 'x-auth-subject'), ['payments-api'], 'C believes it is A');
    console.log(
      `replay (--pass-authorization): C answered the replay ${r.replayStatus}, C's app saw A as ${headerValues(appC.seen.at(-1)!.rawHeaders, 'x-auth-subject').join()}`,
    );
  });
});
