// Synthetic chest radiographs where the text decides the answer. Each image has two lung
// fields, ribs, a mediastinum and noise, with opacities in several of six zones
// (upper/middle/lower x left/right); the prompt names a subset of those zones in LViT's
// wording, and the mask holds only the opacities of the named zones. A model that ignores
// the text segments every opacity and scores poorly.
//
// Sides follow the radiological convention: the patient's left lung is on the image's right.
import { gaussian, mulberry32 } from '../random.js';

export type Side = 'left' | 'right';
export type Level = 'upper' | 'middle' | 'lower';
export interface Zone {
  level: Level;
  side: Side;
}

export const LEVELS: readonly Level[] = ['upper', 'middle', 'lower'];
export const SIDES: readonly Side[] = ['left', 'right'];
/** Cases with one opacity zone, named; all others show unnamed opacities too. */
const SINGLE_ZONE_FRACTION = 0.15;
const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six'];

/** LViT's wording: "Bilateral pulmonary infection, two infected areas, upper left lung and lower right lung." */
export function describeZones(zones: readonly Zone[]): string {
  if (zones.length === 0) throw new Error('describeZones: at least one zone');
  const sorted = [...zones].sort((a, b) => SIDES.indexOf(a.side) - SIDES.indexOf(b.side) || LEVELS.indexOf(a.level) - LEVELS.indexOf(b.level));
  const sides = new Set(sorted.map((z) => z.side));
  const lateral = sides.size === 2 ? 'Bilateral' : 'Unilateral';
  const n = sorted.length;
  const areas = `${NUMBER_WORDS[n]} infected area${n === 1 ? '' : 's'}`;
  const names = sorted.map((z) => `${z.level} ${z.side} lung`);
  const list = names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
  return `${lateral} pulmonary infection, ${areas}, ${list}.`;
}

export interface SynthCase {
  /** Greyscale pixels, row-major. */
  image: Uint8Array;
  /** 0/255: opacities in the named zones only. */
  mask: Uint8Array;
  /** Zones that hold opacities. */
  opacityZones: Zone[];
  /** Zones the prompt names (a non-empty subset of opacityZones). */
  namedZones: Zone[];
  /** Per pixel, the index in opacityZones of the lesion it belongs to, or -1: the mask any prompt should give. */
  zoneOf: Int8Array;
  text: string;
}

interface Geometry {
  size: number;
  /** Lung ellipses by image side: [cx, cy, rx, ry]. */
  lungs: Record<'imageLeft' | 'imageRight', [number, number, number, number]>;
  top: number;
  bottom: number;
}

function geometry(size: number, rand: () => number): Geometry {
  const s = size / 224;
  const jitter = () => (rand() - 0.5) * 8 * s;
  const cy = 105 * s + jitter();
  const ry = (68 + jitter() / 2) * s;
  return {
    size,
    lungs: {
      imageLeft: [70 * s + jitter(), cy, (38 + jitter() / 2) * s, ry],
      imageRight: [154 * s + jitter(), cy, (38 + jitter() / 2) * s, ry],
    },
    top: cy - ry,
    bottom: cy + ry,
  };
}

/** The patient's left lung is the image's right lung. */
function lungOf(g: Geometry, side: Side): [number, number, number, number] {
  return side === 'left' ? g.lungs.imageRight : g.lungs.imageLeft;
}

function zoneBand(g: Geometry, level: Level): [number, number] {
  const third = (g.bottom - g.top) / 3;
  const i = LEVELS.indexOf(level);
  return [g.top + i * third, g.top + (i + 1) * third];
}

function insideEllipse(x: number, y: number, [cx, cy, rx, ry]: [number, number, number, number]): number {
  return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2;
}

/** One synthetic case, deterministic for a seed. */
export function synthCase(seed: number, size = 224): SynthCase {
  const rand = mulberry32(seed);
  const g = geometry(size, rand);
  const s = size / 224;
  const n = size * size;
  const px = new Float32Array(n);
  const opacity = new Float32Array(n);
  const zoneOf = new Int8Array(n).fill(-1);

  // Zones with opacities: usually 2 to 4 of the six, of which the prompt names a proper
  // subset, so segmenting every opacity is wrong; sometimes a single, named one.
  const all: Zone[] = SIDES.flatMap((side) => LEVELS.map((level) => ({ level, side })));
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [all[i], all[j]] = [all[j], all[i]];
  }
  const single = rand() < SINGLE_ZONE_FRACTION;
  const opacityZones = all.slice(0, single ? 1 : 2 + Math.floor(rand() * 3));
  const namedCount = single ? 1 : 1 + Math.floor(rand() * (opacityZones.length - 1));
  const namedZones = opacityZones.slice(0, namedCount);

  // Opacity blobs: 1-2 per zone, soft-edged, inside the zone's band of its lung.
  interface Blob {
    cx: number;
    cy: number;
    rx: number;
    ry: number;
    zone: number;
  }
  const blobs: Blob[] = [];
  opacityZones.forEach((z, zi) => {
    const [lcx, , lrx] = lungOf(g, z.side);
    const [y0, y1] = zoneBand(g, z.level);
    const count = 1 + Math.floor(rand() * 2);
    for (let b = 0; b < count; b++) {
      blobs.push({
        cx: lcx + (rand() - 0.5) * lrx * 0.9,
        cy: y0 + (0.25 + rand() * 0.5) * (y1 - y0),
        rx: (14 + rand() * 12) * s,
        ry: (11 + rand() * 10) * s,
        zone: zi,
      });
    }
  });

  const brightness = 0.9 + rand() * 0.2;
  const contrast = 0.85 + rand() * 0.3;
  const noise = 0.02 + rand() * 0.03;
  const ribPhase = rand() * 6 * s;
  const mid = size / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      const body = insideEllipse(x, y, [mid, 118 * s, 100 * s, 108 * s]);
      let v = body < 1 ? 0.42 : 0.06;
      const lungL = insideEllipse(x, y, g.lungs.imageLeft);
      const lungR = insideEllipse(x, y, g.lungs.imageRight);
      const inLung = lungL < 1 || lungR < 1;
      if (inLung) v = 0.16 + 0.06 * Math.min(lungL, lungR);
      // Mediastinum and heart: bright, widening downwards, towards the image's right.
      const halfWidth = (14 + Math.max(0, y - 100 * s) * 0.25) * s;
      if (body < 1 && Math.abs(x - mid - Math.max(0, y - 110 * s) * 0.15) < halfWidth && !inLung) v = 0.62;
      // Ribs: bright curved bands across the thorax.
      if (body < 1 && y > 30 * s && y < 190 * s) {
        const curve = y - 0.0045 * (x - mid) ** 2 / s - ribPhase;
        const phase = ((curve % (18 * s)) + 18 * s) % (18 * s);
        if (phase < 3.2 * s) v += 0.1;
      }
      if (inLung) {
        let o = 0;
        let best = -1;
        let bestVal = 0;
        for (const [bi, blob] of blobs.entries()) {
          const d = ((x - blob.cx) / blob.rx) ** 2 + ((y - blob.cy) / blob.ry) ** 2;
          const val = Math.exp(-d * 1.6);
          o = Math.max(o, val);
          if (val > bestVal) {
            bestVal = val;
            best = bi;
          }
        }
        opacity[i] = o;
        if (best >= 0 && o > 0.45) zoneOf[i] = blobs[best].zone;
        v += 0.42 * o;
      }
      px[i] = v;
    }
  }

  const image = new Uint8Array(n);
  const mask = new Uint8Array(n);
  const named = new Set(namedZones.map((z) => opacityZones.indexOf(z)));
  for (let i = 0; i < n; i++) {
    const v = (px[i] * brightness - 0.3) * contrast + 0.3 + gaussian(rand) * noise;
    image[i] = Math.max(0, Math.min(255, Math.round(v * 255)));
    if (zoneOf[i] >= 0 && named.has(zoneOf[i])) mask[i] = 255;
  }
  return { image, mask, opacityZones, namedZones, zoneOf, text: describeZones(namedZones) };
}
