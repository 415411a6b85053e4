// POST /v1/segment: multipart fields image (file), text, optional aux. Reads every part
// (so the connection stays usable), checks the fields, the prompt lengths and the image
// header, then waits its turn in the queue for decoding and the forward pass. Answers the
// mask as a PNG (0/255, the image's own size), or JSON when the client accepts it.
// Several `text` fields (with as many `aux` fields, or none) ask about one image under
// several prompts: the image is encoded once, and the answer is JSON with one mask each.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { MSD_CT_WINDOW } from '../data/formats/msd.js';
import { type Volume, decodeNiftiBytes, requireThreeD } from '../data/images.js';
import { niftiMaskBytes } from '../data/nifti_mask.js';
import { maskPng, probabilityPng } from '../infer/images_io.js';
import { segmentVolume } from '../infer/volume.js';
import { segmentPrompts } from '../infer/segment.js';
import type { LoadedRun } from '../run/checkpoint.js';
import type { AuxResolver } from './aux.js';
import { ApiError } from './errors.js';
import { type ImageHeader, type ServeLimits, checkPrompt, decodeGrey, readImageHeader } from './limits.js';
import type { InferenceQueue } from './queue.js';

const gzipAsync = promisify(gzip);

const EXPECTED = 'image (file), text (the prompt; repeat it for several prompts) and optionally aux (one per text)';

/** Prompts one request may ask about one image. */
export const MAX_PROMPTS = 16;

interface SegmentFields {
  image: Buffer;
  texts: string[];
  auxes: string[];
}

/** Frozen CLIP caches text features per prompt; a server sees unbounded prompts, so bound it. */
export const MAX_CACHED_PROMPTS = 256;

/** Reads the multipart body into the three fields; every problem is a 4xx ApiError. */
async function readFields(request: FastifyRequest, limits: ServeLimits): Promise<SegmentFields> {
  if (!request.isMultipart()) {
    throw new ApiError(415, 'not_multipart', `send multipart/form-data with the fields ${EXPECTED} (e.g. curl -F image=@x.png -F text="...")`);
  }
  let image: Buffer | null = null;
  const texts: string[] = [];
  const auxes: string[] = [];
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
      if (name === 'text') texts.push(value);
      else if (name === 'aux') auxes.push(value);
      else if (name === 'image') wrongKind.push('image was sent as a text field; attach the image file (curl -F image=@file.png, FormData.append("image", blob))');
      else unexpected.push(name);
    }
  }
  if (unexpected.length > 0) {
    throw new ApiError(400, 'unexpected_field', `unexpected field${unexpected.length > 1 ? 's' : ''} ${unexpected.map((n) => `'${n}'`).join(', ')}: the fields are ${EXPECTED}`);
  }
  if (wrongKind.length > 0) throw new ApiError(400, 'wrong_field_kind', wrongKind.join('; '));
  if (duplicated.length > 0) throw new ApiError(400, 'duplicate_field', "field 'image' sent more than once: send one image per request (several text fields ask about one image)");
  if (truncated.length > 0) {
    const field = truncated.includes('text') ? 'text' : truncated[0];
    throw new ApiError(413, 'prompt_too_long', `the ${field} field is longer than the ${limits.maxPromptChars}-character limit (CLIP reads the first 77 tokens): shorten it`);
  }
  if (image === null) throw new ApiError(400, 'missing_image', `no image: the fields are ${EXPECTED}`);
  if (texts.length === 0 || texts.some((t) => t.trim() === '')) {
    throw new ApiError(400, 'missing_text', `no prompt${texts.length > 1 ? ' in one of the text fields' : ''}: add a text field saying what to segment, e.g. "Bilateral pulmonary infection, two infected areas, upper left lung and lower right lung."`);
  }
  if (texts.length > MAX_PROMPTS) throw new ApiError(400, 'too_many_prompts', `${texts.length} text fields: at most ${MAX_PROMPTS} prompts per image; send the rest in another request`);
  if (auxes.length !== 0 && auxes.length !== texts.length) {
    throw new ApiError(400, 'aux_count', `${texts.length} text field(s) and ${auxes.length} aux field(s): send one aux per text, in the same order, or none`);
  }
  for (const t of texts) checkPrompt('text', t, limits.maxPromptChars);
  for (const a of auxes) checkPrompt('aux', a, limits.maxPromptChars);
  return { image, texts, auxes };
}

/** The aux a JSON answer reports for one prompt: the text used, where it came from, and why none. */
function auxFields(aux: ReturnType<AuxResolver['resolve']>): { aux: string | null; aux_source: string; note?: string } {
  return { aux: aux.aux, aux_source: aux.source, ...(aux.note ? { note: aux.note } : {}) };
}

function timings(elapsedMs: number, inferenceMs: number): { elapsed_ms: number; inference_ms: number } {
  return { elapsed_ms: Math.round(elapsedMs * 10) / 10, inference_ms: Math.round(inferenceMs * 10) / 10 };
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

/**
 * A NIfTI upload: every axial slice segmented as `predict` does (MSD's CT window), the mask
 * returned as a gzipped NIfTI-1 with the upload's header geometry (or base64 in JSON).
 */
async function answerVolume(
  request: FastifyRequest,
  reply: FastifyReply,
  ctx: SegmentRouteContext,
  fields: SegmentFields,
  header: ImageHeader,
  aux: ReturnType<AuxResolver['resolve']>,
  started: number,
): Promise<FastifyReply> {
  if (fields.texts.length > 1) throw new ApiError(400, 'one_prompt_per_volume', 'a NIfTI volume takes one prompt per request: send the other prompts in their own requests');
  if (header.width * header.height > ctx.limits.maxPixels) {
    throw new ApiError(413, 'image_too_large', `the volume's slices are ${header.width}x${header.height}, more than the ${(ctx.limits.maxPixels / 1e6).toFixed(1)} megapixels this server takes (--max-pixels)`);
  }
  try {
    requireThreeD(header.nifti!.header, 'the uploaded volume');
  } catch (err) {
    throw new ApiError(400, 'not_3d', (err as Error).message);
  }
  const text = fields.texts[0];
  const { seg, inferenceMs } = await ctx.queue.run(async () => {
    const t0 = performance.now();
    let vol: Volume;
    try {
      vol = await decodeNiftiBytes(fields.image, 'the uploaded volume');
    } catch (err) {
      const message = (err as Error).message;
      // Size limits (--max-volume-mb, --max-slices) are the client's to respect, not damage.
      if (/more than the limit/.test(message)) throw new ApiError(413, 'volume_too_large', message);
      throw new ApiError(422, 'corrupt_image', `the volume could not be read (${message}): the file is damaged or truncated`);
    }
    const result = await segmentVolume(ctx.run, vol, [MSD_CT_WINDOW[0], MSD_CT_WINDOW[1]], text, aux.aux);
    if (ctx.run.model.textCache.size > MAX_CACHED_PROMPTS) ctx.run.model.textCache.clear();
    return { seg: result, inferenceMs: performance.now() - t0 };
  });
  let nii: Buffer;
  try {
    nii = await gzipAsync(niftiMaskBytes(header.nifti!, seg.mask, 'the uploaded volume'));
  } catch (err) {
    throw new ApiError(415, 'unsupported_image', (err as Error).message);
  }
  const elapsedMs = performance.now() - started;
  ctx.counters.served++;
  if (wantsJson(request)) {
    return reply.type('application/json; charset=utf-8').send({
      mask_nifti_base64: nii.toString('base64'),
      width: seg.nx,
      height: seg.ny,
      slices: seg.nz,
      area: seg.area,
      slice_areas: seg.sliceAreas,
      mean_probability: seg.meanProbability,
      prompt: text,
      ...auxFields(aux),
      ...timings(elapsedMs, inferenceMs),
    });
  }
  return reply
    .type('application/gzip')
    .header('content-disposition', 'attachment; filename="mask.nii.gz"')
    .header('x-mask-width', String(seg.nx))
    .header('x-mask-height', String(seg.ny))
    .header('x-mask-slices', String(seg.nz))
    .header('x-mask-area', String(seg.area))
    .header('x-mean-probability', seg.meanProbability.toFixed(6))
    .header('x-elapsed-ms', elapsedMs.toFixed(1))
    .send(nii);
}

export function registerSegmentRoute(app: FastifyInstance, ctx: SegmentRouteContext): void {
  app.post('/v1/segment', async (request: FastifyRequest, reply: FastifyReply) => {
    const started = performance.now();
    ctx.requireKey?.(request);
    const fields = await readFields(request, ctx.limits);
    // ?probabilities=true: JSON answers carry the probability map too (the viewer's heat map and threshold).
    const asked = (request.query as Record<string, unknown>).probabilities;
    if (asked !== undefined && !/^(1|0|true|false|yes|no)$/i.test(String(asked))) {
      throw new ApiError(400, 'bad_query', `probabilities=${String(asked)}: expected true or false`);
    }
    const withProbabilities = asked !== undefined && /^(1|true|yes)$/i.test(String(asked));
    const header: ImageHeader = await readImageHeader(fields.image, ctx.limits.maxPixels);
    const auxes = fields.texts.map((text, i) => ctx.aux.resolve(text, fields.auxes[i] ?? null));
    if (header.format === 'nifti') return answerVolume(request, reply, ctx, fields, header, auxes[0], started);
    const { segs, inferenceMs } = await ctx.queue.run(async () => {
      const t0 = performance.now();
      const image = await decodeGrey(fields.image, header, ctx.limits.maxPixels);
      // One path for one prompt or several: segmentPrompts of one prompt is segment().
      const result = await segmentPrompts(ctx.run, image, fields.texts.map((text, i) => ({ text, aux: auxes[i].aux })), { probabilities: withProbabilities });
      if (ctx.run.model.textCache.size > MAX_CACHED_PROMPTS) ctx.run.model.textCache.clear();
      return { segs: result, inferenceMs: performance.now() - t0 };
    });
    const pngs = await Promise.all(segs.map((s) => maskPng(s.mask, s.width, s.height)));
    const probabilityPngs = await Promise.all(segs.map((s) => (s.probabilities ? probabilityPng(s.probabilities, s.width, s.height) : null)));
    const probabilityField = (i: number) => (probabilityPngs[i] ? { probability_png_base64: probabilityPngs[i]!.toString('base64') } : {});
    const elapsedMs = performance.now() - started;
    ctx.counters.served++;
    if (segs.length > 1) {
      // Several masks do not fit one PNG: the answer is JSON whatever Accept says.
      return reply.type('application/json; charset=utf-8').send({
        width: segs[0].width,
        height: segs[0].height,
        results: segs.map((seg, i) => ({
          prompt: fields.texts[i],
          ...auxFields(auxes[i]),
          mask_png_base64: pngs[i].toString('base64'),
          ...probabilityField(i),
          area: seg.area,
          mean_probability: seg.meanProbability,
        })),
        ...timings(elapsedMs, inferenceMs),
      });
    }
    const [seg] = segs;
    const [png] = pngs;
    const aux = auxes[0];
    const text = fields.texts[0];
    if (wantsJson(request)) {
      return reply.type('application/json; charset=utf-8').send({
        mask_png_base64: png.toString('base64'),
        ...probabilityField(0),
        width: seg.width,
        height: seg.height,
        area: seg.area,
        mean_probability: seg.meanProbability,
        prompt: text,
        ...auxFields(aux),
        ...timings(elapsedMs, inferenceMs),
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
