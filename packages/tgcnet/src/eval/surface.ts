// Boundary metrics as MONAI computes them (monai.metrics.compute_hausdorff_distance with
// percentile 95, and compute_surface_dice), in pixel spacing units (mm when the file says):
//
// - A mask's edge is its foreground minus its erosion by the 4-neighbour cross, with the
//   outside of the image counted as background (scipy's binary_erosion, border_value 0).
// - Distances are exact Euclidean distances, with anisotropic spacing, from every edge pixel
//   of one mask to the nearest edge pixel of the other (scipy's distance_transform_edt).
// - HD95 = max of the two directed 95th percentiles (linear interpolation, numpy's default).
//   Undefined (NaN) when either mask is empty, as MONAI returns NaN there.
// - NSD at tolerance tau = (edge pixels of both masks within tau of the other's edge) /
//   (edge pixels of both). Undefined (NaN) when both masks are empty; 0 when only one is.
// Reference values for the tests come from scipy (test-fixtures/surface_reference.py).

/** Edge pixels (1) of a binary mask (any non-zero = foreground), row-major width x height. */
export function maskEdges(mask: ArrayLike<number>, width: number, height: number): Uint8Array {
  const edges = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (mask[i] === 0) continue;
      const inner =
        x > 0 && x < width - 1 && y > 0 && y < height - 1 && mask[i - 1] !== 0 && mask[i + 1] !== 0 && mask[i - width] !== 0 && mask[i + width] !== 0;
      if (!inner) edges[i] = 1;
    }
  }
  return edges;
}

const FAR = 1e30;

/** Squared distance transform of one line (Felzenszwalb & Huttenlocher), weight = spacing². */
function lineTransform(f: Float64Array, n: number, weight: number, d: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = 0;
  v[0] = 0;
  z[0] = Number.NEGATIVE_INFINITY;
  z[1] = Number.POSITIVE_INFINITY;
  const meet = (q: number, p: number) => (f[q] + weight * q * q - (f[p] + weight * p * p)) / (2 * weight * (q - p));
  for (let q = 1; q < n; q++) {
    // z[0] is -Infinity, so the loop always stops at k = 0.
    let s = meet(q, v[k]);
    while (s <= z[k]) {
      k--;
      s = meet(q, v[k]);
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Number.POSITIVE_INFINITY;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    const p = v[k];
    d[q] = weight * (q - p) * (q - p) + f[p];
  }
}

/**
 * Euclidean distance from every pixel to the nearest site (non-zero), with spacing [x, y];
 * Infinity everywhere when there is no site.
 */
export function distanceToSites(sites: ArrayLike<number>, width: number, height: number, spacing: [number, number] = [1, 1]): Float64Array {
  const out = new Float64Array(width * height);
  let any = false;
  for (let i = 0; i < out.length; i++) {
    if (sites[i] !== 0) any = true;
    out[i] = sites[i] !== 0 ? 0 : FAR;
  }
  if (!any) return out.fill(Number.POSITIVE_INFINITY);
  const n = Math.max(width, height);
  const f = new Float64Array(n);
  const d = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  const [sx, sy] = spacing;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) f[x] = out[y * width + x];
    lineTransform(f, width, sx * sx, d, v, z);
    for (let x = 0; x < width; x++) out[y * width + x] = d[x];
  }
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) f[y] = out[y * width + x];
    lineTransform(f, height, sy * sy, d, v, z);
    for (let y = 0; y < height; y++) out[y * width + x] = d[y];
  }
  for (let i = 0; i < out.length; i++) out[i] = Math.sqrt(out[i]);
  return out;
}

/** numpy.percentile with linear interpolation; NaN for no values. */
export function percentile(values: readonly number[] | Float64Array, p: number): number {
  if (values.length === 0) return Number.NaN;
  const a = Float64Array.from(values).sort();
  const pos = ((a.length - 1) * p) / 100;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  if (a[lo] === a[hi]) return a[lo];
  return a[lo] + (a[hi] - a[lo]) * (pos - lo);
}

/** Distances from each edge pixel of `from` to the nearest edge pixel of `to` (Infinity if `to` has none). */
function directed(fromEdges: Uint8Array, toEdges: Uint8Array, width: number, height: number, spacing: [number, number]): Float64Array {
  const dist = distanceToSites(toEdges, width, height, spacing);
  const out: number[] = [];
  for (let i = 0; i < fromEdges.length; i++) if (fromEdges[i]) out.push(dist[i]);
  return Float64Array.from(out);
}

export interface SurfaceScores {
  /** 95th-percentile Hausdorff distance (spacing units); NaN when either mask is empty. */
  hd95: number;
  /** Normalised surface Dice at the tolerance; NaN when both masks are empty. */
  nsd: number;
}

export function surfaceScores(
  prediction: ArrayLike<number>,
  truth: ArrayLike<number>,
  width: number,
  height: number,
  options: { spacing?: [number, number]; tolerance: number },
): SurfaceScores {
  const spacing = options.spacing ?? [1, 1];
  const pe = maskEdges(prediction, width, height);
  const ge = maskEdges(truth, width, height);
  const predToTruth = directed(pe, ge, width, height, spacing);
  const truthToPred = directed(ge, pe, width, height, spacing);
  const hd95 = predToTruth.length === 0 || truthToPred.length === 0 ? Number.NaN : Math.max(percentile(predToTruth, 95), percentile(truthToPred, 95));
  const complete = predToTruth.length + truthToPred.length;
  let correct = 0;
  for (const d of predToTruth) if (d <= options.tolerance) correct++;
  for (const d of truthToPred) if (d <= options.tolerance) correct++;
  return { hd95, nsd: complete === 0 ? Number.NaN : correct / complete };
}
