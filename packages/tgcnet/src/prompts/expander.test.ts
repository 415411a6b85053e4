import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Zone, describeZones } from '../data/synth.js';
import { swapLeftRight } from '../data/text_flip.js';
import { detectModality, expandPrompt, inferModality } from './expander.js';
import { readLungZones } from './zones.js';

/** Every LViT-style prompt over the six zones (63 of them), in our synthetic data's wording. */
function allZonePrompts(): string[] {
  const zones: Zone[] = (['left', 'right'] as const).flatMap((side) => (['upper', 'middle', 'lower'] as const).map((level) => ({ level, side })));
  const out: string[] = [];
  for (let mask = 1; mask < 64; mask++) out.push(describeZones(zones.filter((_, i) => mask & (1 << i))));
  return out;
}

/** Prose: sentences that start with a capital and end with a period, one paragraph, no template debris. */
function assertProse(text: string, context: string): void {
  assert.doesNotMatch(text, /\{|\}|undefined|null|NaN|\n|  |\s[,.;]|,,|\.\./, `${context}: ${text}`);
  const sentences = text.split(/(?<=\.)\s+(?=[A-Z])/);
  assert.ok(sentences.length >= 2, `${context}: fewer than two sentences: ${text}`);
  for (const s of sentences) assert.match(s, /^[A-Z].*[a-z0-9)]\.$/, `${context}: not a sentence: "${s}"`);
  const words = text.split(/\s+/).length;
  assert.ok(words >= 15 && words <= 90, `${context}: ${words} words: ${text}`);
}

describe('expandPrompt on lung prompts', () => {
  const prompts = allZonePrompts();

  it('restates the zones in the canonical wording, whatever the prompt\'s words', () => {
    const e = expandPrompt('Unilateral pulmonary infection, one infected area, upper left lung.');
    assert.equal(e.kind, 'lung');
    assert.equal(e.modality, 'xray');
    assert.equal(e.text, 'unilateral pulmonary infection, one infected area, upper left lung.');
    // LViT's original wording, a radiologist's, and a typo all mean the same zones.
    const canonical = 'bilateral pulmonary infection, six infected areas, upper middle lower left lung and upper middle lower right lung.';
    for (const p of ['Bilateral pulmonary infection, two infected areas, all left lung and all right lung.', 'Patchy opacities in both upper, mid and lower zones.', 'bilateral pulmonary infection, six infected areas, upper midlle lower leftlung and upper middle lower right lung']) {
      assert.equal(expandPrompt(p).text, canonical, p);
    }
  });

  it('is deterministic, different zones read differently, and it stays true under a horizontal flip', () => {
    const texts = prompts.map((p) => expandPrompt(p).text);
    assert.deepEqual([...prompts].reverse().map((p) => expandPrompt(p).text).reverse(), texts);
    assert.equal(new Set(texts).size, prompts.length, 'one restatement per zone set');
    // Flipped: the restatement of the swapped prompt, swapped back, names the same zones.
    for (const p of prompts) assert.deepEqual(readLungZones(swapLeftRight(expandPrompt(swapLeftRight(p)).text)), readLungZones(expandPrompt(p).text), p);
  });

  it('keeps the modality a prompt or the dataset gives', () => {
    const p = 'Bilateral pulmonary infection, two infected areas, upper left lung and lower right lung.';
    assert.equal(expandPrompt(p, { modality: 'ct' }).modality, 'ct');
    assert.equal(expandPrompt('Lower left lung infection on CT.').modality, 'ct');
  });
});

describe('expandPrompt on organ and other prompts', () => {
  it('describes MSD organ prompts: place, side on the image, CT appearance', () => {
    const spleen = expandPrompt('spleen in an abdominal CT slice.');
    assert.equal(spleen.kind, 'organ');
    assert.equal(spleen.modality, 'ct');
    assert.match(spleen.text, /left upper quadrant/);
    assert.match(spleen.text, /image's right|right half of the image/);
    assert.match(spleen.text, /CT/);
    assertProse(spleen.text, 'spleen');

    const cases: [string, RegExp][] = [
      ['liver in an abdominal CT slice.', /right upper quadrant/],
      ['pancreas in an abdominal CT slice.', /duodenal loop/],
      ['left kidney in an abdominal CT slice.', /left retroperitoneum/],
      ['right kidney in an abdominal CT slice.', /right retroperitoneum/],
      ['kidney in an abdominal CT slice.', /each side of the spine/],
      ['gallbladder in an abdominal CT slice.', /underside of the liver/],
      ['liver tumour in an abdominal CT slice.', /tumour .*within the liver|within the liver/],
      ['cancer in an abdominal CT slice.', /focal mass/],
      ['hippocampus in a brain MRI slice.', /temporal/],
      ['left atrium in a cardiac MRI slice.', /pulmonary veins/],
    ];
    for (const [prompt, re] of cases) {
      const e = expandPrompt(prompt);
      assert.equal(e.kind, 'organ', prompt);
      assert.match(e.text, re, prompt);
      assertProse(e.text, prompt);
    }
    assert.equal(expandPrompt('hippocampus in a brain MRI slice.').modality, 'mri');
    assert.match(expandPrompt('edema in a brain MRI slice.').text, /FLAIR/);
  });

  it('handles an unknown or empty prompt with a short generic note, never throwing', () => {
    for (const p of ['polyp in a colonoscopy frame', '', '!!!', 'x'.repeat(500), 'Befund links oben.']) {
      const e = expandPrompt(p);
      assert.equal(e.kind, 'generic', p);
      assert.ok(e.text.length > 20, p);
      assert.doesNotMatch(e.text, /undefined|null|\{/);
    }
    assert.match(expandPrompt('polyp in a colonoscopy frame').text, /"polyp in a colonoscopy frame"/);
  });

  it('tells the modality a prompt names, and falls back by finding', () => {
    assert.equal(detectModality('spleen in an abdominal CT slice.'), 'ct');
    assert.equal(detectModality('prostate in a pelvic MRI slice.'), 'mri');
    assert.equal(detectModality('chest X-ray with opacity'), 'xray');
    assert.equal(detectModality('bilateral pulmonary infection'), null);
    assert.equal(inferModality('bilateral pulmonary infection, lower left lung.'), 'xray');
    assert.equal(inferModality('bilateral pulmonary infection, lower left lung.', 'ct'), 'ct');
    assert.equal(inferModality('spleen'), 'ct');
    assert.equal(inferModality('polyp'), null);
  });
});
