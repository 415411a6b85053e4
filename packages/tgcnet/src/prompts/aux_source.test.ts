import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CaseRecord } from '../data/types.js';
import { OFFLINE_AUX, attachAuxTexts, auxTextFor } from './aux_source.js';

function record(id: string, text: string, aux: string | null = null): CaseRecord {
  return { id, split: 'train', image: { kind: 'file', path: `${id}.png` }, mask: null, text, aux };
}

test("'offline' gives every case and any new wording its canonical restatement, keeping a case's own aux", () => {
  const cases = [record('a', 'Bilateral pulmonary infection, two infected areas, all left lung and all right lung.'), record('b', 'left base', 'given')];
  const warnings: string[] = [];
  const result = attachAuxTexts(cases, '/nowhere', OFFLINE_AUX, (m) => warnings.push(m));
  assert.deepEqual(result, { file: null, attached: 1, missing: 0, missingPrompts: [] });
  assert.equal(cases[0].aux, 'bilateral pulmonary infection, six infected areas, upper middle lower left lung and upper middle lower right lung.');
  assert.equal(cases[1].aux, 'given');
  assert.deepEqual(warnings, []);
  assert.equal(auxTextFor('Consolidation at the rigth base.', { spec: OFFLINE_AUX }), 'unilateral pulmonary infection, one infected area, lower right lung.');
});
