import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LEVELS, SIDES, type Zone, synthCase } from './synth.js';
import { describeZonesClinical, synthCaseClinical } from './synth_clinical.js';
import { mulberry32 } from '../random.js';

const LEVEL_WORDS: Record<string, string> = { upper: '(upper zones?|apex|apices)', middle: '(mid|middle) zones?', lower: '(lower zones?|bases?)' };

test('clinical style: deterministic, 256 px, and the mask is exactly the named zones\' lesions', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const c = synthCaseClinical(seed);
    assert.equal(c.image.length, 256 * 256);
    assert.deepEqual(synthCaseClinical(seed).image, c.image);
    assert.ok(c.namedZones.length >= 1 && c.namedZones.length <= c.opacityZones.length);
    const named = new Set(c.namedZones.map((z) => c.opacityZones.indexOf(z)));
    for (let i = 0; i < c.mask.length; i++) assert.equal(c.mask[i] === 255, c.zoneOf[i] >= 0 && named.has(c.zoneOf[i]), `seed ${seed} pixel ${i}`);
    assert.ok(c.mask.some((v) => v === 255), 'named lesions are visible');
  }
});

test('clinical wording names every zone and only those, without LViT\'s template', () => {
  const rand = mulberry32(9);
  const all: Zone[] = SIDES.flatMap((side) => LEVELS.map((level) => ({ level, side })));
  for (let k = 0; k < 200; k++) {
    const zones = all.filter(() => rand() < 0.4);
    if (zones.length === 0) continue;
    const text = describeZonesClinical(zones, rand).toLowerCase();
    assert.doesNotMatch(text, /infected area|pulmonary infection/);
    for (const z of all) {
      const onSide = new RegExp(`${z.side} ${LEVEL_WORDS[z.level]}`).test(text);
      const both = new RegExp(`both ${LEVEL_WORDS[z.level]}`).test(text);
      const named = zones.some((n) => n.side === z.side && n.level === z.level);
      assert.equal(onSide || both, named, `${z.side} ${z.level} in "${text}"`);
    }
  }
});

test('the two styles differ in size, pixels and wording for the same seed', () => {
  const a = synthCase(3);
  const b = synthCaseClinical(3);
  assert.equal(a.image.length, 224 * 224);
  assert.notEqual(a.text.split(' ')[0], b.text.split(' ')[0]);
});
