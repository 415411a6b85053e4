// The API described for machines (GET /openapi.json, OpenAPI 3.1) and people (GET /docs). The
// response bodies are zod schemas converted to JSON Schema; the tests parse what the routes
// really answer with these same schemas, so the description cannot drift from the server.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { TGCNET_VERSION } from '../version.js';
import { MAX_PROMPTS } from './segment_route.js';

export const ErrorBody = z.object({
  error: z.object({ code: z.string().describe('stable, machine-readable reason, e.g. image_too_large'), message: z.string().describe('what was wrong and what to do') }),
});

export const HealthBody = z.object({
  ok: z.literal(true),
  queue: z.object({ waiting: z.number().int(), running: z.boolean().describe('a request is on the model now'), capacity: z.number().int() }),
  tensors: z.number().int().describe('libtorch tensors alive: flat over time when nothing leaks'),
  tensor_bytes: z.number(),
  rss_bytes: z.number(),
  served: z.number().int(),
  refused: z.number().int(),
  uptime_s: z.number(),
});

const AuxFields = {
  aux: z.string().nullable().describe('the auxiliary text used (DATE), or null'),
  aux_source: z.enum(['request', 'aux_prompts', 'offline', 'none']),
  note: z.string().optional().describe('why there is no aux, when the model reads one'),
};

export const SegmentJson = z.object({
  mask_png_base64: z.string().describe('1-channel 0/255 PNG at the image size'),
  probability_png_base64: z.string().optional().describe('with ?probabilities=true: the probability map, 8-bit PNG (value = probability x 255)'),
  width: z.number().int(),
  height: z.number().int(),
  area: z.number().int().describe('foreground pixels'),
  mean_probability: z.number(),
  prompt: z.string(),
  ...AuxFields,
  elapsed_ms: z.number(),
  inference_ms: z.number(),
});

export const SegmentManyJson = z.object({
  width: z.number().int(),
  height: z.number().int(),
  results: z.array(
    z.object({ prompt: z.string(), ...AuxFields, mask_png_base64: z.string(), probability_png_base64: z.string().optional(), area: z.number().int(), mean_probability: z.number() }),
  ),
  elapsed_ms: z.number(),
  inference_ms: z.number(),
});

const schema = (s: z.ZodType) => {
  const { $schema: _, ...rest } = z.toJSONSchema(s) as Record<string, unknown>;
  return rest;
};

const errors = (codes: Record<string, string>) =>
  Object.fromEntries(Object.entries(codes).map(([status, description]) => [status, { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }]));

/** The OpenAPI 3.1 document of this server (`secured`: an API key is required). */
export function openApiDocument(options: { secured: boolean }): Record<string, unknown> {
  const security = options.secured ? [{ bearer: [] }, { apiKey: [] }] : [];
  return {
    openapi: '3.1.0',
    info: {
      title: 'tgcnet segmentation API',
      version: TGCNET_VERSION,
      description: 'Text-guided medical image segmentation (TGC-Net): an image and a clinical prompt in, the mask of what the prompt describes out.',
    },
    paths: {
      '/v1/segment': {
        post: {
          summary: 'Segment what the prompt describes',
          description:
            `One image and one prompt: the 0/255 mask PNG (or JSON with Accept: application/json). Up to ${MAX_PROMPTS} text fields: one JSON answer with a mask per prompt, ` +
            'the image encoded once. Requests run one at a time; a full queue answers 503 with Retry-After.',
          security,
          parameters: [
            { name: 'probabilities', in: 'query', required: false, schema: { type: 'boolean' }, description: 'JSON answers also carry each probability map (probability_png_base64)' },
          ],
          requestBody: {
            required: true,
            content: {
              'multipart/form-data': {
                schema: {
                  type: 'object',
                  required: ['image', 'text'],
                  properties: {
                    image: { type: 'string', format: 'binary', description: 'PNG, JPEG, WebP, TIFF, GIF, BMP or single-frame DICOM' },
                    text: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, maxItems: MAX_PROMPTS }], description: 'the clinical prompt; repeat the field for several prompts' },
                    aux: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }], description: 'auxiliary text (DATE), one per text field, optional' },
                  },
                },
              },
            },
          },
          responses: {
            '200': {
              description: 'the mask',
              headers: { 'x-mask-area': { schema: { type: 'integer' } }, 'x-mean-probability': { schema: { type: 'number' } } },
              content: {
                'image/png': { schema: { type: 'string', format: 'binary' } },
                'application/json': { schema: { oneOf: [{ $ref: '#/components/schemas/Segment' }, { $ref: '#/components/schemas/SegmentMany' }] } },
              },
            },
            ...errors({
              '400': 'a missing, empty, duplicated or unexpected field',
              '401': 'no or a wrong API key',
              '403': 'a POST from another site\'s page, or to a host name that is not this server (no API key set)',
              '413': 'the body, image or prompt is too large',
              '415': 'not multipart, or not an image this server reads',
              '422': 'a damaged image',
              '503': 'the queue is full or the server is shutting down',
            }),
          },
        },
      },
      '/v1/health': {
        get: { summary: 'Liveness, the queue and memory', responses: { '200': { description: 'healthy', content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } } } } },
      },
      '/v1/model': {
        get: {
          summary: 'The model: preset, parameters, input sizes, checkpoint metrics, limits',
          security,
          responses: { '200': { description: 'model facts', content: { 'application/json': { schema: { type: 'object' } } } }, ...errors({ '401': 'no or a wrong API key' }) },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics: requests by route and status, latency, queue, live tensors, model load time',
          security,
          responses: { '200': { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } },
        },
      },
      '/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } } } },
    },
    components: {
      schemas: { Error: schema(ErrorBody), Health: schema(HealthBody), Segment: schema(SegmentJson), SegmentMany: schema(SegmentManyJson) },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'the key given to serve with --api-key-env' },
        apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
      },
    },
  };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The document as a plain page: one section per route, its fields and answers. */
export function docsPage(doc: Record<string, unknown>): string {
  const paths = doc.paths as Record<string, Record<string, { summary?: string; description?: string; responses?: Record<string, { description: string }>; requestBody?: { content: Record<string, { schema: { properties?: Record<string, { description?: string }> } }> } }>>;
  const sections = Object.entries(paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => {
      const fields = op.requestBody ? Object.entries(op.requestBody.content['multipart/form-data']?.schema.properties ?? {}) : [];
      return (
        `<section><h2><code>${method.toUpperCase()} ${escapeHtml(path)}</code></h2><p>${escapeHtml(op.summary ?? '')}</p>` +
        (op.description ? `<p>${escapeHtml(op.description)}</p>` : '') +
        (fields.length ? `<h3>Fields (multipart/form-data)</h3><ul>${fields.map(([n, f]) => `<li><code>${escapeHtml(n)}</code>: ${escapeHtml(f.description ?? '')}</li>`).join('')}</ul>` : '') +
        `<h3>Answers</h3><ul>${Object.entries(op.responses ?? {}).map(([s, r]) => `<li><b>${s}</b>: ${escapeHtml(r.description)}</li>`).join('')}</ul></section>`
      );
    }),
  );
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>tgcnet API</title><link rel="icon" href="/favicon.ico">
<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:820px;padding:0 1rem;color:#222}code{background:#f3f3f3;padding:0 .25rem}section{border-top:1px solid #ddd;margin-top:1.5rem}</style>
</head><body><h1>tgcnet API</h1><p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). Every refusal is JSON <code>{"error": {"code", "message"}}</code>. The viewer is at <a href="/">/</a>.</p>
<p>Example: <code>curl -F image=@chest.png -F text="Bilateral pulmonary infection, two infected areas, upper left lung and lower right lung." http://127.0.0.1:8080/v1/segment -o mask.png</code></p>
${sections.join('\n')}</body></html>`;
}

/** A small icon, so a browser's automatic /favicon.ico request is not a 404 in the console. */
const FAVICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#222"/><circle cx="8" cy="8" r="4.5" fill="#e74c3c"/></svg>';

export function registerDocsRoutes(app: FastifyInstance, options: { secured: boolean }): void {
  const doc = openApiDocument(options);
  const page = docsPage(doc);
  app.get('/openapi.json', async () => doc);
  app.get('/docs', async (_request, reply: FastifyReply) => reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'").send(page));
  app.get('/favicon.ico', async (_request, reply: FastifyReply) => reply.type('image/svg+xml').header('cache-control', 'max-age=86400').send(FAVICON));
}
