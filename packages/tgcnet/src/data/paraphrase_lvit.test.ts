import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readLungZones } from '../prompts/zones.js';
import { LVIT_SLIPS, lvitOriginalWording } from './paraphrase_lvit.js';
import { valHalfOf } from './val_half.js';

test("LViT's original wording: all-lung phrases, counted lungs, sentence case", () => {
  const clean = (id: string) => {
    // an id without slips, so the rules show alone
    for (let k = 0; ; k++) {
      const candidate = `${id}-${k}`;
      const t = lvitOriginalWording('bilateral pulmonary infection, six infected areas, upper middle lower left lung and upper middle lower right lung.', candidate)!;
      if (!LVIT_SLIPS.some(([, to]) => t.includes(to))) return t;
    }
  };
  assert.equal(clean('a'), 'Bilateral pulmonary infection, two infected areas, all left lung and all right lung.');
  assert.equal(lvitOriginalWording('spleen in an abdominal CT slice.', 'x'), null);
});

test('about 40% of cases carry a slip, the same ones every time, and the zones survive most slips', () => {
  const caption = 'bilateral pulmonary infection, four infected areas, middle lower left lung and middle lower right lung.';
  let slipped = 0;
  for (let i = 0; i < 500; i++) {
    const t = lvitOriginalWording(caption, `case${i}`)!;
    assert.equal(t, lvitOriginalWording(caption, `case${i}`));
    if (t !== 'Bilateral pulmonary infection, four infected areas, middle lower left lung and middle lower right lung.') slipped++;
  }
  assert.ok(slipped > 150 && slipped < 250, `${slipped}`);
  assert.deepEqual(readLungZones(lvitOriginalWording(caption, 'case1')!), readLungZones(caption));
});

test('validation halves are fixed by the id and split the cases about evenly', () => {
  const ids = Array.from({ length: 2000 }, (_, i) => `covid_${i}.png`);
  const a = ids.filter((id) => valHalfOf(id) === 'a').length;
  assert.ok(a > 900 && a < 1100, `${a}`);
  assert.equal(valHalfOf('covid_7.png'), valHalfOf('covid_7.png'));
});
