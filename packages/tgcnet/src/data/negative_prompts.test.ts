import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readLungZones } from '../prompts/zones.js';
import { NEGATIVE_PROMPTS_FILE, attachNegativePrompts, readNegativePrompts, writeNegativePrompts } from './negative_prompts.js';
import { SYNTH_STYLES, type SynthStyle, negativePromptsOf, synthCaseSeed, writeSynthDataset } from './synth_dataset.js';
import type { CaseRecord } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'tgcnet-negatives-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('negative prompts name only zones without a lesion, in the style\'s own wording, and leave the cases as they were', () => {
  for (const style of ['lvit', 'clinical'] as SynthStyle[]) {
    for (let index = 0; index < 60; index++) {
      const seed = synthCaseSeed(4, index);
      const c = SYNTH_STYLES[style].draw(seed);
      const prompts = negativePromptsOf(style, c, seed);
      assert.equal(prompts.length, 2, `${style} case ${index}: ${JSON.stringify(prompts)}`);
      assert.equal(new Set(prompts).size, prompts.length, 'no prompt twice');
      const lesions = new Set(c.opacityZones.map((z) => `${z.side} ${z.level}`));
      for (const p of prompts) {
        const zones = readLungZones(p);
        assert.ok(zones && zones.length >= 1 && zones.length <= 3, `${style}: "${p}" names one to three zones`);
        for (const z of zones) assert.ok(!lesions.has(`${z.side} ${z.level}`), `${style} case ${index}: "${p}" names ${z.side} ${z.level}, which has a lesion`);
      }
      // Drawn from their own stream: the case is the one its seed always gave.
      assert.deepEqual(SYNTH_STYLES[style].draw(seed).image, c.image);
      assert.equal(SYNTH_STYLES[style].draw(seed).text, c.text);
    }
  }
});

test('data synth writes negative_prompts.jsonl for every case, and it reads back by case id', async () => {
  const data = join(dir, 'synth');
  await writeSynthDataset({ out: data, n: 12, seed: 1, size: 32 });
  const read = readNegativePrompts(data);
  assert.ok(read);
  assert.equal(read.file, join(data, NEGATIVE_PROMPTS_FILE));
  assert.equal(read.byId.size, 12);
  assert.deepEqual([...read.byId.keys()].slice(0, 2), ['synth_00000', 'synth_00001']);
  const cases: CaseRecord[] = ['synth_00003', 'other'].map((id) => ({ id, split: 'train', image: { kind: 'file', path: 'x.png' }, mask: null, text: 't', aux: null }));
  assert.equal(attachNegativePrompts(cases, read.byId), 1);
  assert.deepEqual(cases[0].negatives?.map((n) => n.prompt), read.byId.get('synth_00003'));
  assert.equal(cases[0].negatives?.[0].aux, null);
  assert.equal(cases[1].negatives, undefined);
});

test('no file is no negatives; a broken line names the file and the line', () => {
  const data = join(dir, 'plain');
  writeNegativePrompts(join(data, NEGATIVE_PROMPTS_FILE), [{ id: 'a', prompts: ['upper left lung.'] }]);
  assert.equal(readNegativePrompts(join(dir, 'nowhere')), null);
  assert.equal(readNegativePrompts(data)?.byId.get('a')?.[0], 'upper left lung.');
  const file = join(data, NEGATIVE_PROMPTS_FILE);
  writeFileSync(file, `${readFileSync(file, 'utf8')}{"id":"b","prompts":[]}\n`);
  assert.throws(() => readNegativePrompts(data), new RegExp(`${NEGATIVE_PROMPTS_FILE} line 2: expected .*at least one non-empty prompt`));
  writeFileSync(file, '{"id":"a","prompts":["x"]}\nnot json\n');
  assert.throws(() => readNegativePrompts(data), /line 2: expected/);
});
