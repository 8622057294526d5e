/**
 * The webhook's HTTP surface as an express app, built by a factory that never listens, so
 * supertest drives it in tests and server.ts serves it over TLS.
 */
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from 'pino';
import { MAX_BODY_BYTES, ReviewError, decodeReview, encodeReview } from '../admission/review.ts';
import { guardObjectShape } from '../admission/shape.ts';
import { errored } from '../admission/response.ts';
import type { AdmissionHandler, AdmissionRequest, AdmissionResult } from '../admission/types.ts';
import type { Readiness } from './health.ts';
import type { WebhookMetrics } from './metrics.ts';

export interface AppDeps {
  readonly logger: Logger;
  readonly metrics: WebhookMetrics;
  readonly readiness: Readiness;
  readonly mutate: AdmissionHandler;
  readonly validate: AdmissionHandler;
}

/** Sends a JSON error body `{ error: { code, message } }` with an HTTP status. */
function sendError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

function decisionOf(result: AdmissionResult): string {
  if (!result.allowed) return (result.status?.code ?? 403) >= 500 ? 'errored' : 'denied';
  return result.patch && result.patch.length > 0 ? 'patched' : 'allowed';
}

/** Runs one admission webhook: decode, call the handler, answer with the same uid, log and count. */
function admissionRoute(webhook: 'mutate' | 'validate', handler: AdmissionHandler, deps: AppDeps): RequestHandler {
  const { logger, metrics } = deps;
  return async (req: Request, res: Response) => {
    const started = performance.now();
    if (!req.is('application/json')) {
      metrics.requests.inc({ webhook, operation: 'unknown', decision: 'rejected' });
      sendError(res, 415, 'ERR_CONTENT_TYPE', `Content-Type must be application/json, got ${JSON.stringify(req.get('content-type') ?? null)}`);
      return;
    }
    let request: AdmissionRequest;
    try {
      request = decodeReview(req.body);
      guardObjectShape(request);
    } catch (err) {
      const e = err instanceof ReviewError ? err : new ReviewError(400, 'ERR_BAD_REVIEW', String(err));
      metrics.requests.inc({ webhook, operation: 'unknown', decision: 'rejected' });
      logger.warn({ webhook, code: e.code }, `rejected admission review: ${e.message}`);
      sendError(res, e.status, e.code, e.message);
      return;
    }
    metrics.inFlight.inc({ webhook });
    let result: AdmissionResult;
    let httpStatus = 200;
    try {
      result = await handler(request);
    } catch (err) {
      // A failing handler is our bug, not the request's: answer 500 so the API server applies
      // the webhook's failurePolicy (Fail in enforce, Ignore in audit) instead of a denial,
      // and still carry the uid in an AdmissionReview body for the audit trail.
      httpStatus = 500;
      result = errored(`idgate ${webhook} webhook failed: ${err instanceof Error ? err.message : String(err)}`);
      logger.error({ webhook, uid: request.uid, err }, 'admission handler threw');
    } finally {
      metrics.inFlight.dec({ webhook });
    }
    res.status(httpStatus).json(encodeReview(request.uid, result));
    const seconds = (performance.now() - started) / 1000;
    metrics.requests.inc({ webhook, operation: request.operation, decision: decisionOf(result) });
    metrics.duration.observe({ webhook, operation: request.operation }, seconds);
    const meta = request.object?.metadata ?? request.oldObject?.metadata;
    logger.info(
      {
        webhook,
        uid: request.uid,
        kind: request.kind.kind,
        namespace: request.namespace,
        name: request.name || meta?.name || meta?.generateName,
        operation: request.operation,
        user: request.userInfo?.username,
        allowed: result.allowed,
        dryRun: request.dryRun === true,
        durationMs: Math.round(seconds * 1e5) / 100,
        ...result.log,
      },
      'admission decision',
    );
  };
}

/** Builds the app; it has no listener (see server.ts). */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // express.json's 100 KB default would refuse ordinary Pods with large managedFields.
  const json = express.json({ limit: MAX_BODY_BYTES, type: 'application/json', strict: false });

  app.post('/mutate/pods', json, admissionRoute('mutate', deps.mutate, deps));
  app.post('/validate', json, admissionRoute('validate', deps.validate, deps));
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
  for (const path of ['/mutate/pods', '/validate', '/healthz', '/readyz', '/metrics']) {
    app.all(path, (req, res) => {
      res.set('Allow', path.startsWith('/mutate') || path === '/validate' ? 'POST' : 'GET');
      sendError(res, 405, 'ERR_METHOD', `${req.method} is not allowed on ${path}`);
    });
  }
  app.use((req, res) => sendError(res, 404, 'ERR_NOT_FOUND', `no route for ${req.method} ${req.path}`));

  const onError: ErrorRequestHandler = (err, _req, res, _next) => {
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large') {
      sendError(res, 413, 'ERR_BODY_TOO_LARGE', `body exceeds ${MAX_BODY_BYTES} bytes (3 MiB), the most a valid AdmissionReview can be`);
    } else if (type === 'entity.parse.failed') {
      sendError(res, 400, 'ERR_NOT_JSON', `body is not valid JSON: ${(err as Error).message}`);
    } else if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
      sendError(res, 415, 'ERR_ENCODING', (err as Error).message);
    } else if (typeof (err as { status?: unknown }).status === 'number' && (err as { status: number }).status < 500) {
      sendError(res, (err as { status: number }).status, 'ERR_BAD_REQUEST', (err as Error).message);
    } else {
      deps.logger.error({ err }, 'unexpected error in HTTP layer');
      sendError(res, 500, 'ERR_INTERNAL', 'internal error');
    }
  };
  app.use(onError);
  return app;
}
