// Dice and IoU at a threshold, two reductions of one accumulator (as MONAI's metric
// classes): macro = mean of per-image scores (LViT, RecLMIS); micro = pixels pooled over
// the split (LanGuideMedSeg, MMI-UNet).
//
// Empty masks: when prediction and ground truth are both empty, the case scores Dice 1 and
// IoU 1 (a correct "nothing here"); when only one is empty it scores 0. Micro pools
// pixels, so empty cases only add their false positives. Boundary metrics follow MONAI
// (surface.ts): HD95 is undefined when either mask is empty, NSD when both are; undefined
// cases are left out of their means and counted (Summary.empty says how many of each kind).

export interface CaseCounts {
  id: string;
  /** |pred AND gt| */
  intersection: number;
  /** |pred| */
  predicted: number;
  /** |gt| */
  actual: number;
  /** The prompt the case was evaluated with (per-prompt breakdowns, cases.csv). */
  prompt?: string;
  /** 95th-percentile Hausdorff distance (NaN: undefined), when boundary metrics were asked for. */
  hd95?: number;
  /** Normalised surface Dice at the evaluation's tolerance (NaN: undefined). */
  nsd?: number;
}

export function diceOf(c: Omit<CaseCounts, 'id'>): number {
  const denom = c.predicted + c.actual;
  return denom === 0 ? 1 : (2 * c.intersection) / denom;
}

export function iouOf(c: Omit<CaseCounts, 'id'>): number {
  const union = c.predicted + c.actual - c.intersection;
  return union === 0 ? 1 : c.intersection / union;
}

/** Counts for one case from binary arrays (any non-zero = foreground). */
export function countCase(id: string, pred: ArrayLike<number>, gt: ArrayLike<number>): CaseCounts {
  if (pred.length !== gt.length) throw new RangeError(`case ${id}: prediction has ${pred.length} pixels, ground truth ${gt.length}`);
  let intersection = 0;
  let predicted = 0;
  let actual = 0;
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i] !== 0;
    const g = gt[i] !== 0;
    if (p) predicted++;
    if (g) actual++;
    if (p && g) intersection++;
  }
  return { id, intersection, predicted, actual };
}

export interface Summary {
  cases: number;
  dice: { macro: number; micro: number };
  iou: { macro: number; micro: number };
  /** Cases with an empty ground truth and/or prediction (how the conventions above applied). */
  empty?: { both: number; truthOnly: number; predictionOnly: number };
  /** Boundary metrics over the cases where they are defined (present when they were computed). */
  surface?: { hd95: { mean: number; median: number; cases: number }; nsd: { mean: number; cases: number } };
}

export class SegmentationMetric {
  readonly cases: CaseCounts[] = [];

  update(counts: CaseCounts): void {
    this.cases.push(counts);
  }

  reset(): void {
    this.cases.length = 0;
  }

  aggregate(): Summary {
    const n = this.cases.length;
    if (n === 0) return { cases: 0, dice: { macro: Number.NaN, micro: Number.NaN }, iou: { macro: Number.NaN, micro: Number.NaN } };
    let inter = 0;
    let pred = 0;
    let act = 0;
    let diceSum = 0;
    let iouSum = 0;
    for (const c of this.cases) {
      inter += c.intersection;
      pred += c.predicted;
      act += c.actual;
      diceSum += diceOf(c);
      iouSum += iouOf(c);
    }
    const pooled = { intersection: inter, predicted: pred, actual: act };
    const empty = {
      both: this.cases.filter((c) => c.actual === 0 && c.predicted === 0).length,
      truthOnly: this.cases.filter((c) => c.actual === 0 && c.predicted > 0).length,
      predictionOnly: this.cases.filter((c) => c.actual > 0 && c.predicted === 0).length,
    };
    const summary: Summary = { cases: n, dice: { macro: diceSum / n, micro: diceOf(pooled) }, iou: { macro: iouSum / n, micro: iouOf(pooled) }, empty };
    if (this.cases.some((c) => c.hd95 !== undefined)) {
      const hd = this.cases.map((c) => c.hd95 ?? Number.NaN).filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
      const nsd = this.cases.map((c) => c.nsd ?? Number.NaN).filter((v) => !Number.isNaN(v));
      const mean = (v: number[]) => (v.length === 0 ? Number.NaN : v.reduce((a, b) => a + b, 0) / v.length);
      const median = hd.length === 0 ? Number.NaN : hd.length % 2 ? hd[(hd.length - 1) / 2] : (hd[hd.length / 2 - 1] + hd[hd.length / 2]) / 2;
      summary.surface = { hd95: { mean: mean(hd), median, cases: hd.length }, nsd: { mean: mean(nsd), cases: nsd.length } };
    }
    return summary;
  }

  /** Per-case CSV: id, prompt, dice, iou, hd95, nsd (empty when undefined or not computed), pixel counts. */
  toCsv(): string {
    const num = (v: number | undefined, digits: number) => (v === undefined || Number.isNaN(v) ? '' : v === Number.POSITIVE_INFINITY ? 'inf' : v.toFixed(digits));
    const rows = this.cases.map((c) =>
      [csvField(c.id), csvField(c.prompt ?? ''), diceOf(c).toFixed(6), iouOf(c).toFixed(6), num(c.hd95, 4), num(c.nsd, 6), c.intersection, c.predicted, c.actual].join(','),
    );
    return ['id,prompt,dice,iou,hd95,nsd,intersection,predicted,actual', ...rows].join('\n') + '\n';
  }

  /** Dice by prompt: how many cases each prompt has, their mean Dice and pooled Dice, most frequent first. */
  byPrompt(): { prompt: string; cases: number; diceMacro: number; diceMicro: number }[] {
    return this.byGroup((c) => [c.prompt ?? '']).map(({ group, ...rest }) => ({ prompt: group, ...rest }));
  }

  /** Dice by group, a case counting in every group `groupsOf` gives it (e.g. each lung zone its prompt names). */
  byGroup(groupsOf: (c: CaseCounts) => string[]): { group: string; cases: number; diceMacro: number; diceMicro: number }[] {
    const groups = new Map<string, CaseCounts[]>();
    for (const c of this.cases) {
      for (const g of groupsOf(c)) {
        const list = groups.get(g);
        if (list) list.push(c);
        else groups.set(g, [c]);
      }
    }
    return [...groups]
      .map(([group, list]) => {
        const pooled = list.reduce((a, c) => ({ intersection: a.intersection + c.intersection, predicted: a.predicted + c.predicted, actual: a.actual + c.actual }), { intersection: 0, predicted: 0, actual: 0 });
        return { group, cases: list.length, diceMacro: list.reduce((a, c) => a + diceOf(c), 0) / list.length, diceMicro: diceOf(pooled) };
      })
      .sort((a, b) => b.cases - a.cases || (a.group < b.group ? -1 : 1));
  }
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
