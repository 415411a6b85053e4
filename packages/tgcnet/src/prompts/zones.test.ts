import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cleanWords, readLungZones, restatePrompt, restateZones } from './zones.js';

const z = (spec: string) =>
  spec.split(' ').map((s) => ({ side: s[0] === 'L' ? 'left' : 'right', level: ({ u: 'upper', m: 'middle', l: 'lower' } as const)[s[1] as 'u' | 'm' | 'l'] }) as const);

test('reads LViT wording, its original "all" form, and a radiologist\'s zone names', () => {
  assert.deepEqual(readLungZones('bilateral pulmonary infection, five infected areas, upper middle lower left lung and middle lower right lung.'), z('Lu Lm Ll Rm Rl'));
  assert.deepEqual(readLungZones('Bilateral pulmonary infection, two infected areas, all left lung and all right lung.'), z('Lu Lm Ll Ru Rm Rl'));
  assert.deepEqual(readLungZones('opacity in the upper and lower right lung'), z('Ru Rl'));
  assert.deepEqual(readLungZones('Hazy opacity: right apex, left mid zone and both lower zones.'), z('Lm Ll Ru Rl'));
  assert.deepEqual(readLungZones('The left apex and the right base: infective change.'), z('Lu Rl'));
  assert.deepEqual(readLungZones('ground-glass opacity in the lower zones of both lungs'), z('Ll Rl'));
  assert.deepEqual(readLungZones('left upper and right lower zones'), z('Lu Rl'), 'a level after a side binds to that side');
  assert.deepEqual(readLungZones('consolidation, bilateral bases'), z('Ll Rl'));
  assert.equal(readLungZones('left kidney in an abdominal CT slice.'), null);
  assert.equal(readLungZones('bilateral pulmonary infection'), null, 'no zone named');
});

test('survives typos, run-together words, case and spacing', () => {
  assert.deepEqual(cleanWords('Unilateral pulmonry infecton, one infected area, midlle  LEFTLUNG.'), [
    'unilateral', 'pulmonary', 'infection', ',', 'one', 'infected', 'area', ',', 'middle', 'left', 'lung',
  ]);
  assert.deepEqual(readLungZones('upper leftlung and lowerright lung'), z('Lu Rl'));
  assert.deepEqual(readLungZones('Uppper rigth lung'), z('Ru'));
});

test('restates zones in the normalised QaTa wording, which it reads back unchanged', () => {
  assert.equal(restateZones(z('Ll Rl')), 'bilateral pulmonary infection, two infected areas, lower left lung and lower right lung.');
  assert.equal(restateZones(z('Rl')), 'unilateral pulmonary infection, one infected area, lower right lung.');
  const canonical = 'bilateral pulmonary infection, six infected areas, upper middle lower left lung and upper middle lower right lung.';
  assert.equal(restatePrompt(canonical), canonical);
  assert.equal(restatePrompt('spleen in an abdominal CT slice.'), null);
  assert.throws(() => restateZones([]), /no zones/);
});

test('agrees with QaTa-COV19\'s own zone labels on every train and valid caption', async (t) => {
  const { sharedDir } = await import('../paths.js');
  const { existsSync, readFileSync } = await import('node:fs');
  const file = `${sharedDir() ?? '../shared'}/data/qata-cov19/prompts/annotation.json`;
  if (!existsSync(file)) {
    t.skip(`needs ${file}`);
    return;
  }
  const all = JSON.parse(readFileSync(file, 'utf8')) as Record<string, { caption: string; pseudo_label: number[] }[]>;
  const order = ['Lu', 'Lm', 'Ll', 'Ru', 'Rm', 'Rl'];
  let n = 0;
  for (const entry of [...all.train, ...all.valid]) {
    const zones = (readLungZones(entry.caption) ?? []).map((q) => `${q.side === 'left' ? 'L' : 'R'}${q.level[0]}`);
    assert.deepEqual(order.map((k) => (zones.includes(k) ? 1 : 0)), entry.pseudo_label, entry.caption);
    n++;
  }
  assert.equal(n, 7145);
});
