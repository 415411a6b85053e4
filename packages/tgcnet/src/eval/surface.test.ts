import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { distanceToSites, maskEdges, percentile, surfaceScores } from './surface.js';

interface Reference {
  name: string;
  width: number;
  height: number;
  spacing: [number, number];
  tolerance: number;
  prediction: number[];
  truth: number[];
  hd95: number | null;
  nsd: number | null;
}
const reference = JSON.parse(readFileSync(new URL('../../test/fixtures/surface_reference.json', import.meta.url), 'utf8')) as { cases: Reference[] };

test('HD95 and NSD equal scipy\'s on 64 cases (random blobs, empty masks, borders, anisotropic spacing)', () => {
  assert.equal(reference.cases.length, 64);
  for (const c of reference.cases) {
    const got = surfaceScores(c.prediction, c.truth, c.width, c.height, { spacing: c.spacing, tolerance: c.tolerance });
    const label = `${c.name} spacing ${c.spacing} tolerance ${c.tolerance}`;
    if (c.hd95 === null) assert.ok(Number.isNaN(got.hd95), `${label}: HD95 undefined`);
    else assert.ok(Math.abs(got.hd95 - c.hd95) < 1e-9, `${label}: HD95 ${got.hd95} vs ${c.hd95}`);
    if (c.nsd === null) assert.ok(Number.isNaN(got.nsd), `${label}: NSD undefined`);
    else assert.ok(Math.abs(got.nsd - c.nsd) < 1e-12, `${label}: NSD ${got.nsd} vs ${c.nsd}`);
  }
});

test('edges, distances and percentiles on cases worked by hand', () => {
  // A 3x3 block in a 5x5 image: its 8 outer pixels are edges, the centre is not.
  const block = [0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0];
  assert.deepEqual([...maskEdges(block, 5, 5)], block.map((v, i) => (i === 12 ? 0 : v)));
  const d = distanceToSites([1, 0, 0, 0], 4, 1, [0.5, 1]);
  assert.deepEqual([...d], [0, 0.5, 1, 1.5]);
  assert.ok([...distanceToSites([0, 0], 2, 1)].every((v) => v === Number.POSITIVE_INFINITY));
  assert.equal(percentile([1, 2, 3, 4], 95), 3.85);
  assert.ok(Number.isNaN(percentile([], 95)));
});
