// The HTTP application, built from a loaded run: routes, limits, the queue, the API key and
// one error shape. Tests drive it with app.inject(); server.ts listens with it. The run (and
// its model) belongs to the caller, which disposes it after closing the app.
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance, type FastifyRequest, LogController } from 'fastify';
import type { LoadedRun } from '../run/checkpoint.js';
import { apiKeyChecker } from './auth.js';
import { AuxResolver } from './aux.js';
import { ApiError, errorBody, toApiError } from './errors.js';
import { ServeMetrics } from './metrics.js';
import { originChecker } from './origin.js';
import { registerInfoRoutes } from './info_routes.js';
import { registerDocsRoutes } from './openapi.js';
import { DEFAULT_LIMITS, type ServeLimits } from './limits.js';
import { InferenceQueue } from './queue.js';
import { registerSegmentRoute } from './segment_route.js';
import { registerViewerRoutes } from './viewer/routes.js';

export interface AppOptions {
  limits?: Partial<ServeLimits>;
  /** Requests that may wait behind the running one before 503 (default 16). */
  queue?: number;
  /** When set, /v1/segment and /v1/model need it (Bearer or x-api-key). */
  apiKey?: string | null;
  /** Without an API key: origins besides the server's own whose pages may POST ('*': any). */
  allowedOrigins?: string[];
  /** The server listens on a loopback address (Host must then name one; default true). */
  loopback?: boolean;
  /** Seconds the model took to load (GET /metrics reports it). */
  modelLoadSeconds?: number;
  /** Fastify's logger (pino) options, or false (the default: tests stay quiet). */
  logger?: boolean | { level: string; stream?: NodeJS.WritableStream };
}

export interface ServeApp {
  app: FastifyInstance;
  queue: InferenceQueue;
  limits: ServeLimits;
  aux: AuxResolver;
}

export const DEFAULT_QUEUE = 16;

/** Multipart framing and the text fields on top of the file; a request within the limit is never refused for them. */
const MULTIPART_OVERHEAD = 64 * 1024;

export async function buildApp(run: LoadedRun, options: AppOptions = {}): Promise<ServeApp> {
  const limits: ServeLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const queue = new InferenceQueue(options.queue ?? DEFAULT_QUEUE);
  const aux = new AuxResolver(run);
  const check = options.apiKey ? apiKeyChecker(options.apiKey) : null;
  const requireKey = check ? (request: FastifyRequest) => check(request.headers) : null;
  const counters = { served: 0, refused: 0 };

  const metrics = new ServeMetrics(queue, options.modelLoadSeconds ?? null);
  const app = Fastify({
    logger: options.logger ?? false,
    // One access-log line per request (onResponse below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: limits.maxBodyBytes,
    // A client that trickles its body in must not hold a connection for ever.
    requestTimeout: 120_000,
    // Bytes that are not HTTP at all never reach a route: answer them in the same JSON shape.
    clientErrorHandler: (err, socket) => {
      if (!socket.writable) return;
      const timeout = (err as NodeJS.ErrnoException).code === 'ERR_HTTP_REQUEST_TIMEOUT';
      const status = timeout ? '408 Request Timeout' : '400 Bad Request';
      const e = timeout
        ? new ApiError(408, 'request_timeout', 'the request took too long to arrive: send it again in one go')
        : new ApiError(400, 'bad_http', `the request is not valid HTTP (${(err as NodeJS.ErrnoException).code ?? err.message}): use an HTTP client (curl, fetch)`);
      const body = JSON.stringify(errorBody(e));
      socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    },
  });

  // A client that leaves: logged once, by the error handler (mid-upload) or by onRequestAbort
  // (while its request waits or runs: no response, so no onResponse either).
  const abortLogged = new WeakSet<FastifyRequest>();
  app.setErrorHandler((err, request, reply) => {
    const e = toApiError(err, limits);
    counters.refused++;
    if (e.status >= 500 && e.code === 'internal') request.log.error(err);
    // The client went away: nothing to answer, nothing wrong with the server.
    else if (e.status === 499 && !abortLogged.has(request)) {
      abortLogged.add(request);
      request.log.info({ status: 499, url: request.url.split('?')[0] }, 'client closed the connection');
    }
    void reply.code(e.status).headers(e.headers).type('application/json; charset=utf-8').send(errorBody(e));
  });
  app.setNotFoundHandler((request, reply) => {
    counters.refused++;
    const e = new ApiError(404, 'not_found', `no route ${request.method} ${request.url.split('?')[0]}: the routes are GET /, GET /docs, GET /openapi.json, GET /v1/health, GET /v1/model, GET /metrics and POST /v1/segment`);
    void reply.code(404).send(errorBody(e));
  });

  // Keyless, a POST must come from this server's own page or from a client that is not a
  // browser (origin.ts). With a key, the key is the check.
  const checkOrigin = check ? null : originChecker({ allowedOrigins: options.allowedOrigins ?? [], loopback: options.loopback ?? true });
  // A body announced larger than the limit is refused before a byte of it is read.
  app.addHook('onRequest', async (request) => {
    if (checkOrigin) checkOrigin(request, request.method === 'POST');
    const length = Number(request.headers['content-length']);
    if (Number.isFinite(length) && length > limits.maxBodyBytes + MULTIPART_OVERHEAD) {
      throw new ApiError(413, 'payload_too_large', `the request body is ${(length / 1024 / 1024).toFixed(1)} MB; this server takes at most ${(limits.maxBodyBytes / 1024 / 1024).toFixed(1)} MB: send a smaller image (or start serve with a larger --max-body-mb)`);
    }
  });

  await app.register(multipart, {
    // Busboy's own limits bound a body that announces no length (chunked).
    limits: {
      fileSize: limits.maxBodyBytes,
      // UTF-8 takes at most 4 bytes a character: a prompt within the limit is never cut.
      fieldSize: limits.maxPromptChars * 4 + 16,
      // Up to MAX_PROMPTS text and aux fields, and a few to spare for a clear 400.
      fields: 40,
      files: 4,
      parts: 44,
      headerPairs: 100,
    },
  });

  app.addHook('onRequestAbort', async (request) => {
    if (abortLogged.has(request)) return;
    abortLogged.add(request);
    request.log.info({ status: 499, url: request.url.split('?')[0] }, 'client closed the connection');
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.observe(request, reply);
    request.log.info(
      { method: request.method, url: request.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, ip: request.ip, length: reply.getHeader('content-length') },
      'request',
    );
  });
  app.get('/metrics', async (request, reply) => {
    requireKey?.(request);
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  const startedAt = Date.now();
  registerInfoRoutes(app, { run, queue, limits, aux, requireKey, counters, startedAt });
  registerSegmentRoute(app, { run, queue, limits, aux, requireKey, counters });
  registerViewerRoutes(app);
  registerDocsRoutes(app, { secured: check !== null });

  // Closing the app (SIGINT/SIGTERM in server.ts, or a test) refuses what waits and lets
  // the running forward finish, before Fastify waits for in-flight requests.
  app.addHook('preClose', async () => {
    await queue.close();
  });
  return { app, queue, limits, aux };
}
