import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readLungZones } from '../prompts/zones.js';
import { mulberry32 } from '../random.js';
import { addSlips, rewordZones } from './prompt_augment.js';

const PROMPTS = [
  'bilateral pulmonary infection, six infected areas, upper middle lower left lung and upper middle lower right lung.',
  'unilateral pulmonary infection, one infected area, lower right lung.',
  'bilateral pulmonary infection, three infected areas, middle lower left lung and lower right lung.',
];

test('rewording changes the words and keeps the zones', () => {
  const rand = mulberry32(1);
  const seen = new Set<string>();
  for (let k = 0; k < 300; k++) {
    const p = PROMPTS[k % PROMPTS.length];
    const r = rewordZones(p, rand);
    seen.add(r);
    assert.deepEqual(readLungZones(r), readLungZones(p), `${p} -> ${r}`);
  }
  assert.ok(seen.size > 30, `only ${seen.size} wordings`);
  assert.equal(rewordZones('spleen in an abdominal CT slice.', rand), 'spleen in an abdominal CT slice.');
});

test('slips are deterministic for a seed, vary the text, and the zone reader still reads them mostly right', () => {
  const p = PROMPTS[2];
  assert.equal(addSlips(p, mulberry32(5)), addSlips(p, mulberry32(5)));
  let changed = 0;
  let read = 0;
  for (let s = 0; s < 200; s++) {
    const out = addSlips(p, mulberry32(s));
    if (out !== p) changed++;
    if (JSON.stringify(readLungZones(out)) === JSON.stringify(readLungZones(p))) read++;
  }
  assert.ok(changed > 100, `${changed} of 200 changed`);
  assert.ok(read > 170, `${read} of 200 still read as the same zones`);
});
