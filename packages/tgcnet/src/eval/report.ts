// The HTML report: loss and Dice curves (inline SVG) from metrics.jsonl, the metric
// table, and the best and worst cases as image / ground truth / prediction overlays.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { DiceIntervals } from './bootstrap.js';
import { type CaseCounts, type Summary, diceOf, iouOf } from './metrics.js';
import { makeDir } from '../fs/make_dir.js';

export interface ReportCase {
  counts: CaseCounts;
  text: string;
  width: number;
  height: number;
  image: Uint8Array;
  truth: Uint8Array;
  prediction: Uint8Array;
}

export interface ReportInput {
  title: string;
  summary: Summary;
  /** Extra rows for the metric table (e.g. the shuffled-prompt control). */
  extraRows?: { label: string; summary: Summary }[];
  /** metrics.jsonl of the run, for the curves (absent: no curves). */
  metricsLog: string | null;
  best: ReportCase[];
  worst: ReportCase[];
  facts: Record<string, string>;
  diceCi?: DiceIntervals | null;
  perPrompt?: { prompt: string; cases: number; diceMacro: number; diceMicro: number }[];
  perZone?: { zone: string; cases: number; diceMacro: number; diceMicro: number }[];
  /** Every case's Dice, for the histogram. */
  caseDice?: number[];
  threshold?: number;
  nsdTolerance?: number;
  /** Each case under a prompt naming only zones without its lesions (run_eval.ts). */
  negativePrompts?: { cases: number; emptyFraction: number; meanArea: number; areaRatio: number };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

interface Series {
  name: string;
  color: string;
  points: [number, number][];
}

/** A line chart as inline SVG: axes, ticks, one polyline per series, a legend. */
export function lineChart(title: string, series: Series[], yLabel: string, yRange?: [number, number]): string {
  const W = 460;
  const H = 260;
  const m = { l: 52, r: 16, t: 28, b: 36 };
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return `<p>${escapeHtml(title)}: no data yet.</p>`;
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs) === Math.min(...xs) ? Math.min(...xs) + 1 : Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (yRange) {
    // A fixed scale (Dice: 0 to 1), so a 0.02 change looks like one.
    [y0, y1] = yRange;
  } else {
    if (y1 - y0 < 1e-9) [y0, y1] = [y0 - 0.5, y1 + 0.5];
    const pad = (y1 - y0) * 0.05;
    [y0, y1] = [y0 - pad, y1 + pad];
  }
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const ticks = (a: number, b: number, n: number) => Array.from({ length: n + 1 }, (_, i) => a + ((b - a) * i) / n);
  const parts: string[] = [];
  parts.push(`<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(title)}">`);
  parts.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-weight="600">${escapeHtml(title)}</text>`);
  for (const t of ticks(y0, y1, 4)) {
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${sy(t)}" y2="${sy(t)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.l - 6}" y="${sy(t) + 4}" text-anchor="end" font-size="11">${t.toFixed(3)}</text>`);
  }
  for (const t of ticks(x0, x1, Math.min(6, Math.max(1, Math.round(x1 - x0))))) {
    parts.push(`<text x="${sx(t)}" y="${H - m.b + 16}" text-anchor="middle" font-size="11">${Number.isInteger(t) ? t : t.toFixed(1)}</text>`);
  }
  parts.push(`<text x="${W / 2}" y="${H - 4}" text-anchor="middle" font-size="11">epoch</text>`);
  parts.push(`<text x="12" y="${H / 2}" text-anchor="middle" font-size="11" transform="rotate(-90 12 ${H / 2})">${escapeHtml(yLabel)}</text>`);
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#999"/>`);
  series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const pts = s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const [x, y] of s.points) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
    parts.push(`<text x="${m.l + 8}" y="${m.t + 14 + i * 14}" font-size="11" fill="${s.color}">${escapeHtml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Per-case Dice in ten bins from 0 to 1, as an SVG bar chart. */
export function diceHistogram(dice: readonly number[]): string {
  const W = 460;
  const H = 220;
  const m = { l: 44, r: 12, t: 28, b: 36 };
  const bins = new Array<number>(10).fill(0);
  for (const d of dice) bins[Math.min(9, Math.max(0, Math.floor(d * 10)))]++;
  const top = Math.max(1, ...bins);
  const bw = (W - m.l - m.r) / 10;
  const parts = [`<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="Histogram of per-case Dice">`];
  parts.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-weight="600">Per-case Dice (${dice.length} cases)</text>`);
  bins.forEach((n, i) => {
    const h = ((H - m.t - m.b) * n) / top;
    const x = m.l + i * bw;
    parts.push(`<rect x="${(x + 1).toFixed(1)}" y="${(H - m.b - h).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="#2471a3"><title>${(i / 10).toFixed(1)}-${((i + 1) / 10).toFixed(1)}: ${n}</title></rect>`);
    if (n > 0) parts.push(`<text x="${(x + bw / 2).toFixed(1)}" y="${(H - m.b - h - 3).toFixed(1)}" text-anchor="middle" font-size="10">${n}</text>`);
    parts.push(`<text x="${x.toFixed(1)}" y="${H - m.b + 14}" text-anchor="middle" font-size="10">${(i / 10).toFixed(1)}</text>`);
  });
  parts.push(`<text x="${W - m.r}" y="${H - m.b + 14}" text-anchor="end" font-size="10">1.0</text>`);
  parts.push(`<text x="${W / 2}" y="${H - 4}" text-anchor="middle" font-size="11">Dice</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}

/** image | image + ground truth (green) | image + prediction (red), as one PNG. */
async function overlayPng(c: ReportCase): Promise<Buffer> {
  const { width: w, height: h } = c;
  const panel = (tint: Uint8Array | null, rgb: [number, number, number]) => {
    const out = Buffer.alloc(w * h * 3);
    for (let i = 0; i < w * h; i++) {
      const g = c.image[i];
      const on = tint !== null && tint[i] !== 0;
      out[i * 3] = on ? Math.round(0.5 * g + 0.5 * rgb[0]) : g;
      out[i * 3 + 1] = on ? Math.round(0.5 * g + 0.5 * rgb[1]) : g;
      out[i * 3 + 2] = on ? Math.round(0.5 * g + 0.5 * rgb[2]) : g;
    }
    return out;
  };
  const raw = { raw: { width: w, height: h, channels: 3 as const } };
  const panels = [panel(null, [0, 0, 0]), panel(c.truth, [40, 220, 80]), panel(c.prediction, [240, 50, 50])];
  return sharp({ create: { width: w * 3 + 8, height: h, channels: 3, background: { r: 255, g: 255, b: 255 } } })
    .composite(await Promise.all(panels.map(async (p, i) => ({ input: await sharp(p, raw).png().toBuffer(), left: i * (w + 4), top: 0 }))))
    .png()
    .toBuffer();
}

function readCurves(path: string | null): { loss: [number, number][]; diceMicro: [number, number][]; diceMacro: [number, number][] } {
  const curves = { loss: [] as [number, number][], diceMicro: [] as [number, number][], diceMacro: [] as [number, number][] };
  if (!path || !existsSync(path)) return curves;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const e = JSON.parse(line) as { type?: string; epoch?: number; trainLoss?: number; val?: { diceMicro: number; diceMacro: number } };
    if (e.type !== 'epoch' || e.epoch === undefined) continue;
    if (e.trainLoss !== undefined) curves.loss.push([e.epoch, e.trainLoss]);
    if (e.val) {
      curves.diceMicro.push([e.epoch, e.val.diceMicro]);
      curves.diceMacro.push([e.epoch, e.val.diceMacro]);
    }
  }
  return curves;
}

export async function writeReport(dir: string, input: ReportInput): Promise<string> {
  makeDir(join(dir, 'cases'));
  const curves = readCurves(input.metricsLog);
  const caseHtml = async (c: ReportCase) => {
    const file = `cases/${c.counts.id.replace(/[^A-Za-z0-9_.-]/g, '_')}.png`;
    writeFileSync(join(dir, file), await overlayPng(c));
    return (
      `<figure><img src="${file}" alt="case ${escapeHtml(c.counts.id)}: image, ground truth, prediction" width="${c.width * 3 + 8}">` +
      `<figcaption><b>${escapeHtml(c.counts.id)}</b> Dice ${diceOf(c.counts).toFixed(3)}, IoU ${iouOf(c.counts).toFixed(3)}<br>` +
      `${escapeHtml(c.text)}</figcaption></figure>`
    );
  };
  const num = (v: number | undefined, digits: number) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(digits));
  const row = (label: string, s: Summary) =>
    `<tr><th scope="row">${escapeHtml(label)}</th><td>${s.cases}</td><td>${s.dice.micro.toFixed(4)}</td><td>${s.dice.macro.toFixed(4)}</td>` +
    `<td>${s.iou.micro.toFixed(4)}</td><td>${s.iou.macro.toFixed(4)}</td><td>${num(s.surface?.hd95.median, 2)}</td><td>${num(s.surface?.nsd.mean, 4)}</td></tr>`;
  const ci = input.diceCi;
  const e = input.summary.empty;
  const prompts = (input.perPrompt ?? []).slice(0, 30);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}
th[scope=row]{text-align:left}figure{display:inline-block;margin:.5rem;vertical-align:top;max-width:100%}
figure img{image-rendering:pixelated;max-width:100%;height:auto}figcaption{font-size:12px;max-width:680px}
.charts{display:flex;flex-wrap:wrap;gap:1rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}
</style></head><body>
<h1>${escapeHtml(input.title)}</h1>
<dl>${Object.entries(input.facts).map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>
<h2>Metrics (threshold ${input.threshold ?? 0.5})</h2>
<table><thead><tr><th scope="col">evaluation</th><th scope="col">cases</th><th scope="col">Dice micro</th><th scope="col">Dice macro</th><th scope="col">IoU micro</th><th scope="col">IoU macro</th><th scope="col">HD95 median</th><th scope="col">NSD (${input.nsdTolerance ?? 2})</th></tr></thead>
<tbody>${row('model', input.summary)}${(input.extraRows ?? []).map((r) => row(r.label, r.summary)).join('')}</tbody></table>
${ci ? `<p>95% bootstrap intervals (${ci.resamples} resamples of the cases): Dice micro ${ci.micro[0].toFixed(4)}-${ci.micro[1].toFixed(4)}, macro ${ci.macro[0].toFixed(4)}-${ci.macro[1].toFixed(4)}.</p>` : ''}
<p>Micro pools pixels over all cases; macro averages per-case scores. A case whose prediction and ground truth are both empty scores Dice 1${e ? ` (${e.both} such cases; ${e.truthOnly} with an empty ground truth but a prediction, ${e.predictionOnly} with a lesion but an empty prediction, Dice 0)` : ''}.
HD95 (in mm where the files give a spacing, else pixels) is undefined when either mask is empty and NSD when both are, as in MONAI; their summaries leave those cases out${input.summary.surface ? ` (HD95 over ${input.summary.surface.hd95.cases} cases, NSD over ${input.summary.surface.nsd.cases})` : ''}.</p>
${input.negativePrompts ? `<p>Asked about zones where the film has no lesion (${input.negativePrompts.cases} cases, each under one prompt naming only such zones; the right answer is an empty mask): ${(100 * input.negativePrompts.emptyFraction).toFixed(1)}% empty, ${input.negativePrompts.meanArea.toFixed(0)} px marked per case on average, ${(100 * input.negativePrompts.areaRatio).toFixed(1)}% of the area marked under the cases' own prompts.</p>` : ''}
<div class="charts">${diceHistogram(input.caseDice ?? [])}</div>
${prompts.length > 0 ? `<h2>By prompt</h2>
<table><thead><tr><th scope="col">prompt</th><th scope="col">cases</th><th scope="col">Dice macro</th><th scope="col">Dice micro</th></tr></thead>
<tbody>${prompts.map((p) => `<tr><th scope="row">${escapeHtml(p.prompt)}</th><td>${p.cases}</td><td>${p.diceMacro.toFixed(4)}</td><td>${p.diceMicro.toFixed(4)}</td></tr>`).join('')}</tbody></table>
${(input.perPrompt ?? []).length > prompts.length ? `<p>The ${prompts.length} most frequent of ${(input.perPrompt ?? []).length} prompts; cases.csv has every case with its prompt.</p>` : ''}` : ''}
${(input.perZone ?? []).length > 0 ? `<h2>By lung zone</h2><p>A case counts in every zone its prompt names.</p>
<table><thead><tr><th scope="col">zone</th><th scope="col">cases</th><th scope="col">Dice macro</th><th scope="col">Dice micro</th></tr></thead>
<tbody>${input.perZone!.map((z) => `<tr><th scope="row">${escapeHtml(z.zone)}</th><td>${z.cases}</td><td>${z.diceMacro.toFixed(4)}</td><td>${z.diceMicro.toFixed(4)}</td></tr>`).join('')}</tbody></table>` : ''}
<h2>Training curves</h2>
<div class="charts">
${lineChart('Training loss (0.5 Dice + 0.5 BCE)', [{ name: 'train loss', color: '#c0392b', points: curves.loss }], 'loss')}
${lineChart('Validation Dice', [
    { name: 'Dice micro', color: '#2471a3', points: curves.diceMicro },
    { name: 'Dice macro', color: '#27ae60', points: curves.diceMacro },
  ], 'Dice', [0, 1])}
</div>
<h2>Best cases</h2>
<p>Each: the image, the ground truth (green), the prediction (red).</p>
${(await Promise.all(input.best.map(caseHtml))).join('\n')}
<h2>Worst cases</h2>
${(await Promise.all(input.worst.map(caseHtml))).join('\n')}
</body></html>
`;
  const path = join(dir, 'index.html');
  writeFileSync(`${path}.tmp-${process.pid}`, html);
  renameSync(`${path}.tmp-${process.pid}`, path);
  return path;
}
