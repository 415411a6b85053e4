// A second synthetic style, drawn differently from synth.ts on purpose, so that a method
// tuned to one generator shows it: 256 px films with tapered lung fields, clavicles, a
// heart shadow and a diaphragm instead of ribs; low-frequency mottling and stronger noise;
// lesions that are irregular clusters of small nodules or ground-glass patches rather than
// one or two smooth ellipses; and prompts in a clinician's zone wording ("Patchy
// consolidation in the right upper zone and left base.") instead of LViT's template.
//
// Same task: some zones hold lesions, the prompt names a subset, the mask holds only the
// named ones. Sides follow the radiological convention (the patient's left is the image's right).
import { gaussian, mulberry32 } from '../random.js';
import { LEVELS, type Level, SIDES, type Side, type SynthCase, type Zone } from './synth.js';

const FINDINGS = ['Patchy consolidation', 'Airspace opacification', 'Ground-glass change', 'Infective change', 'Hazy opacity', 'Nodular shadowing'];
/** How a clinician names a level on one side: "right upper zone", "left apex", "left base". */
const LEVEL_NAMES: Record<Level, readonly string[]> = {
  upper: ['upper zone', 'apex'],
  middle: ['mid zone', 'middle zone'],
  lower: ['lower zone', 'base'],
};
/** The same levels on both sides: "both bases", "both upper zones". */
const BOTH_NAMES: Record<Level, readonly string[]> = {
  upper: ['both upper zones', 'both apices'],
  middle: ['both mid zones'],
  lower: ['both lower zones', 'both bases'],
};

function pickFrom<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)];
}

function joinList(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** A clinician's sentence for the zones, its wording drawn from `rand`. */
export function describeZonesClinical(zones: readonly Zone[], rand: () => number): string {
  if (zones.length === 0) throw new Error('describeZonesClinical: at least one zone');
  const phrases: string[] = [];
  const remaining = [...zones].sort((a, b) => LEVELS.indexOf(a.level) - LEVELS.indexOf(b.level) || SIDES.indexOf(b.side) - SIDES.indexOf(a.side));
  for (const level of LEVELS) {
    const here = remaining.filter((z) => z.level === level);
    if (here.length === 2 && rand() < 0.7) phrases.push(pickFrom(rand, BOTH_NAMES[level]));
    else for (const z of here) phrases.push(`${z.side} ${pickFrom(rand, LEVEL_NAMES[level])}`);
  }
  const finding = pickFrom(rand, FINDINGS);
  const where = joinList(phrases.map((p) => (p.startsWith('both') ? p : `the ${p}`)));
  switch (Math.floor(rand() * 3)) {
    case 0:
      return `${finding} in ${where}.`;
    case 1:
      return `${finding}: ${joinList(phrases)}.`;
    default:
      return `${where[0].toUpperCase()}${where.slice(1)}: ${finding.toLowerCase()}.`;
  }
}

interface LungField {
  cx: number;
  top: number;
  bottom: number;
  /** Half-width at the base; the apex is narrower. */
  halfWidth: number;
}

/** How far inside a tapered, rounded lung field a point is: < 1 inside. */
function lungDistance(x: number, y: number, l: LungField): number {
  const t = (y - l.top) / (l.bottom - l.top);
  if (t < 0 || t > 1) return 2;
  const hw = l.halfWidth * (0.5 + 0.5 * Math.sqrt(t)) * Math.pow(1 - Math.pow(2 * t - 1, 6), 0.25);
  return hw <= 0 ? 2 : Math.abs(x - l.cx) / hw;
}

/** One case of the clinical style, deterministic for a seed. */
export function synthCaseClinical(seed: number, size = 256): SynthCase {
  const rand = mulberry32(seed ^ 0x5bd1e995);
  const s = size / 256;
  const n = size * size;
  const jitter = (a: number) => (rand() - 0.5) * 2 * a * s;
  const top = 48 * s + jitter(8);
  const bottom = 200 * s + jitter(8);
  const byImageSide = {
    imageLeft: { cx: 82 * s + jitter(6), top: top + jitter(4), bottom: bottom + jitter(4), halfWidth: 44 * s + jitter(4) },
    imageRight: { cx: 174 * s + jitter(6), top: top + jitter(4), bottom: bottom - 10 * s + jitter(4), halfWidth: 42 * s + jitter(4) },
  };
  const lungOf = (side: Side): LungField => (side === 'left' ? byImageSide.imageRight : byImageSide.imageLeft);

  // Zones with lesions (1 to 4), of which the prompt names a subset: a proper one when more
  // than one zone is involved, except in a fifth of those cases, where all are named.
  const all: Zone[] = SIDES.flatMap((side) => LEVELS.map((level) => ({ level, side })));
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [all[i], all[j]] = [all[j], all[i]];
  }
  const lesionZones = all.slice(0, 1 + Math.floor(rand() * 4));
  const namedCount = lesionZones.length === 1 || rand() < 0.2 ? lesionZones.length : 1 + Math.floor(rand() * (lesionZones.length - 1));
  const namedZones = lesionZones.slice(0, namedCount);

  // Lesions: a cluster of 3-7 small nodules, or one ground-glass patch with a ragged edge.
  interface Spot {
    cx: number;
    cy: number;
    r: number;
    zone: number;
  }
  const spots: Spot[] = [];
  const patches: { cx: number; cy: number; rx: number; ry: number; phase: number[]; zone: number }[] = [];
  lesionZones.forEach((z, zi) => {
    const lung = lungOf(z.side);
    const third = (lung.bottom - lung.top) / 3;
    const y0 = lung.top + LEVELS.indexOf(z.level) * third;
    const cy = y0 + (0.3 + rand() * 0.4) * third;
    const cx = lung.cx + (rand() - 0.5) * lung.halfWidth * 0.8;
    if (rand() < 0.5) {
      const count = 3 + Math.floor(rand() * 5);
      for (let k = 0; k < count; k++) {
        spots.push({ cx: cx + gaussian(rand) * 9 * s, cy: cy + gaussian(rand) * 7 * s, r: (4 + rand() * 5) * s, zone: zi });
      }
    } else {
      patches.push({ cx, cy, rx: (13 + rand() * 10) * s, ry: (9 + rand() * 8) * s, phase: [rand(), rand(), rand()].map((p) => p * 2 * Math.PI), zone: zi });
    }
  });

  const exposure = 0.8 + rand() * 0.35;
  const gamma = 0.8 + rand() * 0.4;
  const noise = 0.03 + rand() * 0.04;
  const mottle = [0, 1, 2, 3].map(() => ({ fx: (1 + rand() * 4) / size, fy: (1 + rand() * 4) / size, p: rand() * 2 * Math.PI, a: 0.015 + rand() * 0.02 }));
  const mid = size / 2 + jitter(4);
  const image = new Uint8Array(n);
  const mask = new Uint8Array(n);
  const zoneOf = new Int8Array(n).fill(-1);
  const named = new Set(namedZones.map((z) => lesionZones.indexOf(z)));
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      const bodyX = Math.abs(x - mid) / (112 * s);
      const bodyY = (y - 130 * s) / (135 * s);
      const inBody = Math.pow(bodyX, 4) + Math.pow(Math.abs(bodyY), 4) < 1;
      let v = inBody ? 0.5 : 0.1;
      const dl = Math.min(lungDistance(x, y, byImageSide.imageLeft), lungDistance(x, y, byImageSide.imageRight));
      const inLung = dl < 1;
      if (inLung) v = 0.2 + 0.1 * dl * dl + 0.05 * ((y - top) / (bottom - top));
      // Heart: a bright shadow low and towards the image's right (the patient's left).
      const heart = ((x - mid - 18 * s) / (40 * s)) ** 2 + ((y - 172 * s) / (34 * s)) ** 2;
      if (heart < 1) v = Math.max(v, 0.62 - 0.1 * heart);
      // Diaphragm below the lungs and clavicles across the apices.
      if (inBody && !inLung && y > bottom - 6 * s) v = Math.max(v, 0.66);
      const clavicle = Math.abs(y - (40 * s + 0.18 * Math.abs(x - mid)));
      if (inBody && clavicle < 4 * s && Math.abs(x - mid) > 12 * s && Math.abs(x - mid) < 95 * s) v += 0.15;
      let lesion = 0;
      let zone = -1;
      if (inLung) {
        for (const sp of spots) {
          const d = Math.hypot(x - sp.cx, y - sp.cy) / sp.r;
          const val = d < 1 ? 1 : Math.exp(-(d - 1) * 3);
          if (val > lesion) [lesion, zone] = [val, sp.zone];
        }
        for (const p of patches) {
          const a = Math.atan2(y - p.cy, x - p.cx);
          const ragged = 1 + 0.18 * Math.sin(3 * a + p.phase[0]) + 0.12 * Math.sin(5 * a + p.phase[1]) + 0.08 * Math.sin(7 * a + p.phase[2]);
          const d = Math.sqrt(((x - p.cx) / p.rx) ** 2 + ((y - p.cy) / p.ry) ** 2) / ragged;
          const val = d < 1 ? 0.85 : 0.85 * Math.exp(-(d - 1) * 4);
          if (val > lesion) [lesion, zone] = [val, p.zone];
        }
        v += 0.3 * lesion;
        if (lesion > 0.5) {
          zoneOf[i] = zone;
          if (named.has(zone)) mask[i] = 255;
        }
      }
      for (const m of mottle) v += m.a * Math.sin(2 * Math.PI * (m.fx * x + m.fy * y) + m.p);
      const shaded = Math.pow(Math.max(0, v * exposure), gamma) + gaussian(rand) * noise;
      image[i] = Math.max(0, Math.min(255, Math.round(shaded * 255)));
    }
  }
  return { image, mask, opacityZones: lesionZones, namedZones, zoneOf, text: describeZonesClinical(namedZones, rand) };
}
