// POST /v1/segment: multipart fields image (file), text, optional aux. Reads every part
// (so the connection stays usable), checks the fields, the prompt lengths and the image
// header, then waits its turn in the queue for decoding and the forward pass. Answers the
// mask as a PNG (0/255, the image's own size), or JSON when the client accepts it.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { maskPng } from '../infer/images_io.js';
import { segment } from '../infer/segment.js';
import type { LoadedRun } from '../run/checkpoint.js';
import type { AuxResolver } from './aux.js';
import { ApiError } from './errors.js';
import { type ImageHeader, type ServeLimits, checkPrompt, decodeGrey, readImageHeader } from './limits.js';
import type { InferenceQueue } from './queue.js';

const EXPECTED = 'image (file), text (the prompt) and optionally aux';

interface SegmentFields {
  image: Buffer;
  text: string;
  aux: string | null;
}

/** Frozen CLIP caches text features per prompt; a server sees unbounded prompts, so bound it. */
export const MAX_CACHED_PROMPTS = 256;

/** Reads the multipart body into the three fields; every problem is a 4xx ApiError. */
async function readFields(request: FastifyRequest, limits: ServeLimits): Promise<SegmentFields> {
  if (!request.isMultipart()) {
    throw new ApiError(415, 'not_multipart', `send multipart/form-data with the fields ${EXPECTED} (e.g. curl -F image=@x.png -F text="...")`);
  }
  let image: Buffer | null = null;
  let text: string | null = null;
  let aux: string | null = null;
  const unexpected: string[] = [];
  const duplicated: string[] = [];
  const wrongKind: string[] = [];
  const truncated: string[] = [];
  for await (const part of request.parts()) {
    const name = part.fieldname;
    if (part.type === 'file') {
      // Read every file part, even an unwanted one, so the request is consumed whole.
      const bytes = await part.toBuffer();
      if (name === 'image') {
        if (image !== null) duplicated.push(name);
        image = bytes;
      } else if (name === 'text' || name === 'aux') wrongKind.push(`${name} was sent as a file; send it as a plain text field`);
      else unexpected.push(name);
    } else {
      const value = typeof part.value === 'string' ? part.value : String(part.value);
      if (part.valueTruncated) truncated.push(name);
      if (name === 'text') {
        if (text !== null) duplicated.push(name);
        text = value;
      } else if (name === 'aux') {
        if (aux !== null) duplicated.push(name);
        aux = value;
      } else if (name === 'image') wrongKind.push('image was sent as a text field; attach the image file (curl -F image=@file.png, FormData.append("image", blob))');
      else unexpected.push(name);
    }
  }
  if (unexpected.length > 0) {
    throw new ApiError(400, 'unexpected_field', `unexpected field${unexpected.length > 1 ? 's' : ''} ${unexpected.map((n) => `'${n}'`).join(', ')}: the fields are ${EXPECTED}`);
  }
  if (wrongKind.length > 0) throw new ApiError(400, 'wrong_field_kind', wrongKind.join('; '));
  if (duplicated.length > 0) throw new ApiError(400, 'duplicate_field', `field ${duplicated.map((n) => `'${n}'`).join(', ')} sent more than once: send each of ${EXPECTED} once`);
  if (truncated.length > 0) {
    const field = truncated.includes('text') ? 'text' : truncated[0];
    throw new ApiError(413, 'prompt_too_long', `the ${field} field is longer than the ${limits.maxPromptChars}-character limit (CLIP reads the first 77 tokens): shorten it`);
  }
  if (image === null) throw new ApiError(400, 'missing_image', `no image: the fields are ${EXPECTED}`);
  if (text === null || text.trim() === '') throw new ApiError(400, 'missing_text', `no prompt: add a text field saying what to segment, e.g. "Bilateral pulmonary infection, two infected areas, upper left lung and lower right lung."`);
  checkPrompt('text', text, limits.maxPromptChars);
  if (aux !== null) checkPrompt('aux', aux, limits.maxPromptChars);
  return { image, text, aux };
}

function wantsJson(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  return typeof accept === 'string' && /\bapplication\/json\b/i.test(accept);
}

export interface SegmentRouteContext {
  run: LoadedRun;
  queue: InferenceQueue;
  limits: ServeLimits;
  aux: AuxResolver;
  requireKey: ((request: FastifyRequest) => void) | null;
  counters: { served: number; refused: number };
}

export function registerSegmentRoute(app: FastifyInstance, ctx: SegmentRouteContext): void {
  app.post('/v1/segment', async (request: FastifyRequest, reply: FastifyReply) => {
    const started = performance.now();
    ctx.requireKey?.(request);
    const fields = await readFields(request, ctx.limits);
    const header: ImageHeader = await readImageHeader(fields.image, ctx.limits.maxPixels);
    const aux = ctx.aux.resolve(fields.text, fields.aux);
    const { seg, inferenceMs } = await ctx.queue.run(async () => {
      const t0 = performance.now();
      const image = await decodeGrey(fields.image, header, ctx.limits.maxPixels);
      const result = await segment(ctx.run, image, fields.text, aux.aux);
      if (ctx.run.model.textCache.size > MAX_CACHED_PROMPTS) ctx.run.model.textCache.clear();
      return { seg: result, inferenceMs: performance.now() - t0 };
    });
    const png = await maskPng(seg.mask, seg.width, seg.height);
    const elapsedMs = performance.now() - started;
    ctx.counters.served++;
    if (wantsJson(request)) {
      return reply.type('application/json; charset=utf-8').send({
        mask_png_base64: png.toString('base64'),
        width: seg.width,
        height: seg.height,
        area: seg.area,
        mean_probability: seg.meanProbability,
        prompt: fields.text,
        aux: aux.aux,
        aux_source: aux.source,
        ...(aux.note ? { note: aux.note } : {}),
        elapsed_ms: Math.round(elapsedMs * 10) / 10,
        inference_ms: Math.round(inferenceMs * 10) / 10,
      });
    }
    return reply
      .type('image/png')
      .header('x-mask-width', String(seg.width))
      .header('x-mask-height', String(seg.height))
      .header('x-mask-area', String(seg.area))
      .header('x-mean-probability', seg.meanProbability.toFixed(6))
      .header('x-elapsed-ms', elapsedMs.toFixed(1))
      .send(png);
  });
}
