/**
 * The relabel loop's Pod PATCH over node's own http(s), with client-node's credentials.
 *
 * A relabel sends one PATCH per Pod from the process that also answers admission requests.
 * Through client-node's generated API a PATCH costs about 0.93 ms of CPU (undici fetch, WHATWG
 * streams, and ObjectSerializer turning the returned Pod into a V1Pod nobody reads), through
 * a keep-alive `node:https` request about 0.25 ms (BENCHMARKS.md, "Relabel"); at 300 PATCH/s
 * the difference is a fifth of a core taken from the admission path. Authentication stays
 * client-node's: `applyToHTTPSOptions` fills in the CA, the client certificate and the
 * Authorization header (token, token file, exec and auth-provider plugins) exactly as for its
 * own calls. Those options are re-read every {@link CREDENTIALS_TTL_MS}, since tokens rotate.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/**
 * How long credentials are reused. Projected ServiceAccount tokens are refreshed by the kubelet
 * at 80 % of their lifetime (an hour at least), exec plugins cache theirs: a minute is fresh.
 */
const CREDENTIALS_TTL_MS = 60_000;

/** An answer: the status and, for errors, the body (the API server's Status, for the message). */
export interface LeanAnswer {
  readonly status: number;
  readonly body: string;
}

/** Sends merge patches (and reads nothing it does not need from the answer). */
export interface LeanPatcher {
  mergePatch(path: string, patch: unknown): Promise<LeanAnswer>;
  close(): void;
}

/** Creates the patcher for the kubeconfig's current cluster. */
export function createLeanPatcher(kubeConfig: KubeConfig): LeanPatcher {
  return new LeanHttpPatcher(kubeConfig);
}

type TlsRequestOptions = RequestOptions & { ca?: unknown; cert?: unknown; key?: unknown; rejectUnauthorized?: boolean };

/** A keep-alive agent carrying the TLS material client-node chose. */
function agentFor(secure: boolean, opts: TlsRequestOptions): HttpAgent {
  if (!secure) return new HttpAgent({ keepAlive: true, maxSockets: 16 });
  return new HttpsAgent({
    keepAlive: true,
    maxSockets: 16,
    ca: opts.ca as string,
    cert: opts.cert as string,
    key: opts.key as string,
    ...(opts.rejectUnauthorized !== undefined ? { rejectUnauthorized: opts.rejectUnauthorized } : {}),
  });
}

/** Reads an answer: a success is drained undecoded (the patched Pod is not needed), an error's body kept (64 KiB at most). */
function readAnswer(res: IncomingMessage, resolve: (answer: LeanAnswer) => void, reject: (err: Error) => void): void {
  const status = res.statusCode ?? 0;
  res.on('error', reject);
  if (status < 300) {
    res.resume();
    res.on('end', () => resolve({ status, body: '' }));
    return;
  }
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    if (text.length < 64 * 1024) text += chunk;
  });
  res.on('end', () => resolve({ status, body: text }));
}

class LeanHttpPatcher implements LeanPatcher {
  readonly #kubeConfig: KubeConfig;
  readonly #server: URL;
  readonly #secure: boolean;
  #cached: { at: number; options: RequestOptions; tlsKey: string } | undefined;
  #agent: HttpAgent | undefined;

  constructor(kubeConfig: KubeConfig) {
    this.#kubeConfig = kubeConfig;
    this.#server = new URL(kubeConfig.getCurrentCluster()?.server ?? 'https://invalid');
    this.#secure = this.#server.protocol === 'https:';
  }

  async #options(): Promise<RequestOptions> {
    const cached = this.#cached;
    if (cached && Date.now() - cached.at < CREDENTIALS_TTL_MS) return cached.options;
    const opts: TlsRequestOptions = { headers: {} };
    await this.#kubeConfig.applyToHTTPSOptions(opts as never);
    // One keep-alive pool for as long as the TLS material is the same (a rotated client
    // certificate or CA gets a new pool; the old one's idle sockets are closed).
    const tlsKey = JSON.stringify([opts.ca, opts.cert, opts.key, opts.rejectUnauthorized].map((v) => (Buffer.isBuffer(v) ? v.toString('base64') : v)));
    if (this.#agent === undefined || tlsKey !== cached?.tlsKey) {
      this.#agent?.destroy();
      this.#agent = agentFor(this.#secure, opts);
    }
    const headers = { ...(opts.headers as Record<string, string>) };
    const port = this.#server.port || (this.#secure ? 443 : 80);
    this.#cached = { at: Date.now(), tlsKey, options: { hostname: this.#server.hostname, port, agent: this.#agent, headers } };
    return this.#cached.options;
  }

  async mergePatch(path: string, patch: unknown): Promise<LeanAnswer> {
    const base = await this.#options();
    const body = JSON.stringify(patch);
    return new Promise<LeanAnswer>((resolve, reject) => {
      const req = (this.#secure ? httpsRequest : httpRequest)(
        {
          ...base,
          method: 'PATCH',
          path: `${this.#server.pathname.replace(/\/$/, '')}${path}`,
          headers: { ...base.headers, 'content-type': 'application/merge-patch+json', 'content-length': Buffer.byteLength(body), accept: 'application/json' },
          timeout: 30_000,
        },
        (res) => readAnswer(res, resolve, reject),
      );
      req.on('timeout', () => req.destroy(new Error('no answer from the API server within 30 s')));
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.#agent?.destroy();
  }
}
