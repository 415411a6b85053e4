// GET /v1/health (open even with an API key: load balancers probe it) and GET /v1/model.
// Health reports the live tensor count, which must stay flat across requests: a number
// that grows means a tensor without an owner.
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { memory } from '@tgcnet/torch';
import type { FastifyInstance } from 'fastify';
import { parameterReport } from '../model/tgcnet.js';
import type { LoadedRun } from '../run/checkpoint.js';
import type { SegmentRouteContext } from './segment_route.js';
import { readJsonFile } from '../fs/read_json.js';

/** The segment route's context plus the start time (uptime in /v1/health). */
export interface InfoRouteContext extends SegmentRouteContext {
  startedAt: number;
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The best validation Dice the run recorded: best/metrics.json, else last/state.json. */
export function bestDice(run: LoadedRun): number | null {
  const val = run.metrics.val as Record<string, unknown> | undefined;
  const fromMetrics = num(val?.diceMicro);
  if (fromMetrics !== null) return fromMetrics;
  const statePath = join(run.runDir, 'last', 'state.json');
  if (!existsSync(statePath)) return null;
  try {
    const d = num((readJsonFile(statePath, 'training state') as Record<string, unknown>).bestDice);
    return d !== null && d >= 0 ? d : null;
  } catch {
    return null;
  }
}

/** The pretrained CLIP as a client may see it: the hub name and revision, else the folder's name. */
function clipName(run: LoadedRun): string | null {
  if (run.run.clipSource === null) return null;
  if (run.run.clipHub) return `${run.run.clipHub.repo}@${run.run.clipHub.commit}`;
  return basename(run.run.clipSource);
}

export function modelInfo(ctx: InfoRouteContext): Record<string, unknown> {
  const { run } = ctx;
  const c = run.run.model;
  return {
    preset: run.run.train.preset ?? null,
    config: { encoder: c.encoder, text: c.text, alignment: c.alignment, modules: c.modules, dModel: c.dModel },
    parameters: parameterReport(run.model),
    execution: { device: run.execution.device, precision: run.execution.precision },
    input: { cnn: c.encoder === 'vit-only' ? null : c.cnnInput, vit: c.encoder === 'cnn-only' ? null : c.vitInput, channels: 'greyscale, any size (resized; masks come back at the input size)' },
    // Names, never absolute paths: a client learns nothing of the server's file system.
    clip: { source: clipName(run), frozen: run.run.clipSource !== null && !c.clipTrainable },
    aux: { used: ctx.aux.usesAux, prompts_file: ctx.aux.file === null ? null : basename(ctx.aux.file) },
    checkpoint: { run: basename(run.runDir), dir: basename(run.checkpointDir), created_at: run.run.createdAt, best_dice: bestDice(run), metrics: run.metrics },
    limits: { max_body_bytes: ctx.limits.maxBodyBytes, max_pixels: ctx.limits.maxPixels, max_prompt_chars: ctx.limits.maxPromptChars, queue: ctx.queue.capacity },
  };
}

export function registerInfoRoutes(app: FastifyInstance, ctx: InfoRouteContext): void {
  const info = modelInfo(ctx);
  app.get('/v1/health', async () => {
    const mem = memory();
    return {
      ok: true,
      queue: { waiting: ctx.queue.depth, running: ctx.queue.running, capacity: ctx.queue.capacity },
      tensors: mem.tensors,
      tensor_bytes: mem.bytes,
      rss_bytes: process.memoryUsage().rss,
      served: ctx.counters.served,
      refused: ctx.counters.refused,
      uptime_s: Math.round((Date.now() - ctx.startedAt) / 100) / 10,
    };
  });
  app.get('/v1/model', async (request) => {
    ctx.requireKey?.(request);
    return info;
  });
}
