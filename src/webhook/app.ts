/**
 * The webhook's HTTP surface, built by a factory that never listens, so supertest drives it in
 * tests and server.ts serves it over TLS. The two admission routes are served by node's own
 * request and response objects; express serves everything else (health, metrics, 404, 405).
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type ErrorRequestHandler } from 'express';
import type { Logger } from 'pino';
import { ReviewError, decodeReview, encodeReviewJson } from '../admission/review.ts';
import { BodyBudget, BusyError, checkJsonRequest, readJson } from '../admission/body.ts';
import { guardObjectShape } from '../admission/shape.ts';
import { errored } from '../admission/response.ts';
import type { AdmissionHandler, AdmissionRequest, AdmissionResult } from '../admission/types.ts';
import { DecisionLog } from './decision-log.ts';
import type { Readiness } from './health.ts';
import type { WebhookMetrics } from './metrics.ts';

export interface AppDeps {
  readonly logger: Logger;
  readonly metrics: WebhookMetrics;
  readonly readiness: Readiness;
  readonly mutate: AdmissionHandler;
  /** `/validate`: every rule of the baseline (enrolled namespaces). */
  readonly validate: AdmissionHandler;
  /**
   * `/validate/integrity`: identity integrity only (every other non-exempt namespace,
   * docs/design.md#scope-and-lifecycle).
   */
  readonly validateIntegrity: AdmissionHandler;
  /** Bounds the bodies read at once across every admission route; default: BODY_LIMITS. */
  readonly bodyBudget?: BodyBudget;
}

type RouteDeps = AppDeps & { readonly bodyBudget: BodyBudget };

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendJsonText(res, status, JSON.stringify(body));
}

/** Writes a JSON answer on node's own response (the admission routes never touch express). */
function sendJsonText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Sends a JSON error body `{ error: { code, message } }` with an HTTP status. */
function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { error: { code, message } });
}

function decisionOf(result: AdmissionResult): string {
  if (!result.allowed) return (result.status?.code ?? 403) >= 500 ? 'errored' : 'denied';
  return result.patch && result.patch.length > 0 ? 'patched' : 'allowed';
}

type Webhook = 'mutate' | 'validate' | 'integrity';

/** Answers a review that could not be read or decoded, and counts it. */
function rejectReview(req: IncomingMessage, res: ServerResponse, err: unknown, webhook: Webhook, { logger, metrics }: RouteDeps): void {
  const e = err instanceof ReviewError ? err : new ReviewError(400, 'ERR_BAD_REVIEW', String(err));
  metrics.admission.answered(webhook, 'unknown', e instanceof BusyError ? 'shed' : 'rejected');
  logger.warn({ webhook, code: e.code }, `rejected admission review: ${e.message}`);
  // A body not read to its end is not drained (a hostile one may be stalled or endless):
  // the answer closes the connection. A refusal for load asks for a retry.
  if (!req.complete) res.setHeader('connection', 'close');
  if (e instanceof BusyError) res.setHeader('retry-after', String(e.retryAfterSeconds));
  sendError(res, e.status, e.code, e.message);
}

/** Runs one admission webhook: decode, call the handler, answer with the same uid, log and count. */
function admissionRoute(webhook: Webhook, handler: AdmissionHandler, deps: RouteDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { logger, metrics } = deps;
  const decisions = new DecisionLog(logger);
  return async (req, res) => {
    const started = performance.now();
    let request: AdmissionRequest;
    try {
      checkJsonRequest(req);
      request = decodeReview(await readJson(req, deps.bodyBudget));
      guardObjectShape(request);
    } catch (err) {
      rejectReview(req, res, err, webhook, deps);
      return;
    }
    metrics.admission.begin(webhook);
    let result: AdmissionResult;
    let httpStatus = 200;
    try {
      // Every handler answers synchronously today; awaiting a plain value would still suspend
      // the route for a microtask turn per review.
      const answer = handler(request);
      result = answer instanceof Promise ? await answer : answer;
    } catch (err) {
      // A failing handler is our bug, not the request's: answer 500 so the API server applies
      // the webhook's failurePolicy (Fail in enforce, Ignore in audit) instead of a denial,
      // and still carry the uid in an AdmissionReview body for the audit trail.
      httpStatus = 500;
      result = errored(`idgate ${webhook} webhook failed: ${err instanceof Error ? err.message : String(err)}`);
      logger.error({ webhook, uid: request.uid, err }, 'admission handler threw');
    } finally {
      metrics.admission.end(webhook);
    }
    sendJsonText(res, httpStatus, encodeReviewJson(request.uid, result));
    const seconds = (performance.now() - started) / 1000;
    const decision = decisionOf(result);
    metrics.admission.answered(webhook, request.operation, decision);
    metrics.duration.observe(webhook, request.operation, decision, seconds);
    decisions.write(webhook, request, result, seconds);
  };
}

/** Everything but the admission routes: health, readiness, metrics, 405 and 404, through express. */
function expressApp(deps: RouteDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const failing = deps.readiness.failing();
    if (failing.length === 0) res.json({ status: 'ok' });
    else res.status(503).json({ status: 'not ready', failing });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  for (const path of ['/mutate/pods', '/validate', '/validate/integrity', '/healthz', '/readyz', '/metrics']) {
    app.all(path, (req, res) => {
      res.set('Allow', path.startsWith('/mutate') || path.startsWith('/validate') ? 'POST' : 'GET');
      sendError(res, 405, 'ERR_METHOD', `${req.method} is not allowed on ${path}`);
    });
  }
  app.use((req, res) => sendError(res, 404, 'ERR_NOT_FOUND', `no route for ${req.method} ${req.path}`));

  // Only express itself can fail here (the admission routes answer their own errors).
  const onError: ErrorRequestHandler = (err, _req, res, _next) => {
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      sendError(res, status, 'ERR_BAD_REQUEST', (err as Error).message);
    } else {
      deps.logger.error({ err }, 'unexpected error in HTTP layer');
      sendError(res, 500, 'ERR_INTERNAL', 'internal error');
    }
  };
  app.use(onError);
  return app;
}

/** Builds the request listener; it has no server (see server.ts). */
export function createApp(appDeps: AppDeps): RequestListener {
  // One budget for every admission route: it bounds the process's memory, not a route's.
  const deps: RouteDeps = { ...appDeps, bodyBudget: appDeps.bodyBudget ?? new BodyBudget() };
  const app = expressApp(deps);

  // The admission routes bypass express (its request/response prototype swap, router,
  // body-parser and res.send per request): typical Pod over TLS 9,452 -> 10,374 req/s with 16
  // connections (npm run bench, BENCHMARKS.md; docs/design.md#why-the-admission-routes-bypass-express).
  // The API server appends `?timeout=…` to the path.
  const admission = new Map([
    ['/mutate/pods', admissionRoute('mutate', deps.mutate, deps)],
    ['/validate', admissionRoute('validate', deps.validate, deps)],
    ['/validate/integrity', admissionRoute('integrity', deps.validateIntegrity, deps)],
  ]);
  return (req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const route = req.method === 'POST' ? admission.get(query < 0 ? url : url.slice(0, query)) : undefined;
    if (!route) {
      app(req, res);
      return;
    }
    route(req, res).catch((err: unknown) => {
      deps.logger.error({ err }, 'unexpected error in the admission layer');
      if (!res.headersSent) sendError(res, 500, 'ERR_INTERNAL', 'internal error');
      else res.destroy();
    });
  };
}
