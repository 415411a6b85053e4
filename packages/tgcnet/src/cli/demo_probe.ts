// The demo's probe: one test image under three prompts, with the mask area each gives. A
// model that reads the text gives three different masks; one that ignores it gives three
// equal areas, which a reader sees at once.
import { openDataset } from '../data/detect.js';
import { loadImage, loadMask } from '../data/images.js';
import type { Zone } from '../data/synth.js';
import { SYNTH_STYLES, type SynthStyle, synthCaseIndex, synthCaseSeed } from '../data/synth_dataset.js';
import type { CaseRecord } from '../data/types.js';
import { segment } from '../infer/segment.js';
import { loadRun } from '../run/checkpoint.js';
import { CPU_FP32, type Execution } from '../model/execution.js';

export interface ProbeRow {
  prompt: string;
  /** Foreground pixels of the predicted mask. */
  area: number;
  /** Pixels the prompt names in this image, when the data's generator can tell (synthetic data). */
  truthArea: number | null;
  dice: number | null;
}

export interface Probe {
  case: string;
  rows: ProbeRow[];
}

function words(text: string): Set<string> {
  return new Set(text.toLowerCase().match(/[a-z]+/g) ?? []);
}

/** Of `candidates`, the prompt sharing the fewest words with all of `chosen` (ties: first). */
function mostDifferent(chosen: readonly string[], candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestOverlap = Number.POSITIVE_INFINITY;
  const seen = chosen.map(words);
  for (const c of candidates) {
    if (chosen.includes(c)) continue;
    const w = words(c);
    const overlap = Math.max(...seen.map((s) => [...w].filter((x) => s.has(x)).length / Math.max(1, w.size)));
    if (overlap < bestOverlap) [best, bestOverlap] = [c, overlap];
  }
  return best;
}

function dice(pred: Uint8Array, truth: Uint8Array): number {
  let inter = 0;
  let p = 0;
  let t = 0;
  for (let i = 0; i < pred.length; i++) {
    inter += pred[i] & truth[i];
    p += pred[i];
    t += truth[i];
  }
  return p + t === 0 ? 1 : (2 * inter) / (p + t);
}

/**
 * For data the demo generated (`synthetic` given), the probe image is the first test case
 * with lesions in two or more zones, and the expected mask of any prompt is known: the
 * pixels of that image's lesions in the zones the prompt's own case named.
 */
export async function runProbe(runDir: string, dataDir: string, synthetic: { style: SynthStyle; seed: number } | null, execution: Execution = CPU_FP32): Promise<Probe> {
  const dataset = await openDataset(dataDir, { splits: ['test'] });
  const cases = dataset.cases.filter((c) => c.split === 'test').sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (cases.length === 0) throw new Error(`${dataDir}: no test cases to probe`);
  const style = synthetic ? SYNTH_STYLES[synthetic.style] : null;
  const drawn = (c: CaseRecord) => {
    const index = synthCaseIndex(c.id);
    return style && synthetic && index !== null ? style.draw(synthCaseSeed(synthetic.seed, index)) : null;
  };
  const target = cases.find((c) => (drawn(c)?.opacityZones.length ?? 0) >= 2) ?? cases[0];
  const prompts = [target.text];
  const others = [...new Set(cases.map((c) => c.text))];
  for (let k = 0; k < 2; k++) {
    const p = mostDifferent(prompts, others);
    if (p !== null) prompts.push(p);
  }
  const truthFor = (prompt: string): Uint8Array | null => {
    const drawnTarget = drawn(target);
    const source = cases.find((c) => c.text === prompt);
    const named = source ? drawn(source)?.namedZones : undefined;
    if (!drawnTarget || !named) return null;
    const key = (z: Zone) => `${z.level} ${z.side}`;
    const wanted = new Set(named.map(key));
    const zoneWanted = drawnTarget.opacityZones.map((z) => wanted.has(key(z)));
    return Uint8Array.from(drawnTarget.zoneOf, (z) => (z >= 0 && zoneWanted[z] ? 1 : 0));
  };
  const run = loadRun(runDir, {}, execution);
  try {
    const image = await loadImage(target.image);
    const ownTruth = target.mask ? (await loadMask(target.mask)).data.map((v) => (v > 0 ? 1 : 0)) : null;
    const rows: ProbeRow[] = [];
    for (const prompt of prompts) {
      const aux = cases.find((c) => c.text === prompt)?.aux ?? null;
      const s = await segment(run, image, prompt, aux);
      const truth = prompt === target.text && ownTruth ? ownTruth : truthFor(prompt);
      const truthArea = truth ? truth.reduce((a, v) => a + v, 0) : null;
      rows.push({ prompt, area: s.area, truthArea, dice: truth ? dice(s.mask, truth) : null });
    }
    return { case: target.id, rows };
  } finally {
    run.model.dispose();
  }
}
