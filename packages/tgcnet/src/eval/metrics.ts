// Dice and IoU at a threshold, two reductions of one accumulator (as MONAI's metric
// classes): macro = mean of per-image scores (LViT, RecLMIS); micro = pixels pooled over
// the split (LanGuideMedSeg, MMI-UNet).
//
// Empty masks: when prediction and ground truth are both empty, the case scores Dice 1 and
// IoU 1 (a correct "nothing here"); when only one is empty it scores 0. Micro pools
// pixels, so empty cases only add their false positives.

export interface CaseCounts {
  id: string;
  /** |pred AND gt| */
  intersection: number;
  /** |pred| */
  predicted: number;
  /** |gt| */
  actual: number;
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
    return { cases: n, dice: { macro: diceSum / n, micro: diceOf(pooled) }, iou: { macro: iouSum / n, micro: iouOf(pooled) } };
  }

  /** Per-case CSV: id, dice, iou, pixel counts. */
  toCsv(): string {
    const rows = this.cases.map((c) => [csvField(c.id), diceOf(c).toFixed(6), iouOf(c).toFixed(6), c.intersection, c.predicted, c.actual].join(','));
    return ['id,dice,iou,intersection,predicted,actual', ...rows].join('\n') + '\n';
  }
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
