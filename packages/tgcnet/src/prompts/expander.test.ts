import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Zone, describeZones } from '../data/synth.js';
import { swapLeftRight } from '../data/text_flip.js';
import { detectModality, expandPrompt, inferModality, parseLungPrompt } from './expander.js';

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

describe('parseLungPrompt', () => {
  it('reads laterality, count and the zones of each side in LViT wording', () => {
    assert.deepEqual(parseLungPrompt('bilateral pulmonary infection, five infected areas, upper middle lower left lung and middle lower right lung.'), {
      sides: [
        { side: 'left', levels: ['upper', 'middle', 'lower'] },
        { side: 'right', levels: ['middle', 'lower'] },
      ],
      laterality: 'bilateral',
      count: 5,
    });
    assert.deepEqual(parseLungPrompt('Unilateral pulmonary infection, one infected area, lower right lung.'), {
      sides: [{ side: 'right', levels: ['lower'] }],
      laterality: 'unilateral',
      count: 1,
    });
  });
  it('reads other orders: "left lower zone", "upper and lower right lung", "lower zones of both lungs"', () => {
    assert.deepEqual(parseLungPrompt('consolidation in the left lower zone')!.sides, [{ side: 'left', levels: ['lower'] }]);
    assert.deepEqual(parseLungPrompt('opacity in the upper and lower right lung')!.sides, [{ side: 'right', levels: ['upper', 'lower'] }]);
    assert.deepEqual(parseLungPrompt('ground-glass opacity in the lower zones of both lungs')!.sides, [
      { side: 'left', levels: ['lower'] },
      { side: 'right', levels: ['lower'] },
    ]);
    // A named side alone does not make it unilateral.
    assert.equal(parseLungPrompt('consolidation in the left lower zone')!.laterality, null);
    assert.equal(parseLungPrompt('left kidney in an abdominal CT slice.'), null);
    assert.equal(parseLungPrompt('left lobe of the liver'), null);
  });
});

describe('expandPrompt on lung prompts', () => {
  const prompts = allZonePrompts();

  it('is deterministic: the same prompt gives the same text, whatever came before', () => {
    const first = prompts.map((p) => expandPrompt(p).text);
    const again = [...prompts].reverse().map((p) => expandPrompt(p).text).reverse();
    assert.deepEqual(again, first);
    assert.equal(expandPrompt(prompts[5]).text, expandPrompt(prompts[5].toUpperCase()).text, 'keyed on the normalised prompt');
  });

  it('reads as prose, and different prompts read differently', () => {
    const texts = prompts.map((p) => expandPrompt(p).text);
    texts.forEach((t, i) => assertProse(t, prompts[i]));
    assert.equal(new Set(texts).size, texts.length);
    const openings = new Set(texts.map((t) => t.split(' ').slice(0, 2).join(' ')));
    assert.ok(openings.size >= 5, `only ${openings.size} ways to open a note: ${[...openings].join(' | ')}`);
  });

  it('names the anatomy of each zone and which side of the image each lung is on', () => {
    const upper = expandPrompt('Unilateral pulmonary infection, one infected area, upper left lung.');
    assert.equal(upper.kind, 'lung');
    assert.equal(upper.modality, 'xray');
    assert.match(upper.text, /left upper zone/);
    assert.match(upper.text, /above the second anterior rib/);
    assert.match(upper.text, /left lung (is on|appears on) the (image's right|right of the image)/);
    assert.match(upper.text, /right lung is clear|sparing the right lung|clear right lung/);
    assert.match(upper.text, /ground-glass|opacity|consolidation|whiter/);

    const lower = expandPrompt('Unilateral pulmonary infection, one infected area, lower right lung.').text;
    assert.match(lower, /below the fourth anterior rib/);
    assert.match(lower, /right lung (is on|appears on) the (image's left|left of the image)/);

    const two = expandPrompt('Bilateral pulmonary infection, three infected areas, middle lower left lung and lower right lung.').text;
    assert.match(two, /three areas/);
    assert.match(two, /bilateral/i);
    assert.match(two, /between the second and fourth anterior ribs/);
    assert.match(two, /below the fourth anterior rib/);
    assert.doesNotMatch(two, /above the second anterior rib/, 'no upper zone was named');
  });

  it('stays true under a horizontal flip (left and right swapped in prompt and text alike)', () => {
    for (const p of prompts.filter((q) => /unilateral/i.test(q))) {
      const side = /left lung/.test(p) ? 'left' : 'right';
      const other = side === 'left' ? 'right' : 'left';
      for (const text of [expandPrompt(p).text, swapLeftRight(expandPrompt(swapLeftRight(p)).text)]) {
        assert.match(text, new RegExp(`${side} lung (is on|appears on) the (image's ${other}|${other} of the image)`), text);
      }
    }
  });

  it('writes CT wording for CT prompts (MosMedData+) and on --modality ct', () => {
    const p = 'Bilateral pulmonary infection, two infected areas, upper left lung and lower right lung.';
    const ct = expandPrompt(p, { modality: 'ct' });
    assert.equal(ct.modality, 'ct');
    assert.match(ct.text, /slices/);
    assert.match(ct.text, /ground-glass|ground glass|attenuation|consolidation/);
    assert.doesNotMatch(ct.text, /rib|radiograph|film|X-ray/);
    assert.equal(expandPrompt('Lower left lung infection on CT.').modality, 'ct');
    assertProse(ct.text, p);
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
