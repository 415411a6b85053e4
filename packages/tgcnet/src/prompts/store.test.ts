import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { tempDir } from '../data/formats/testing.js';
import type { CaseRecord } from '../data/types.js';
import { AuxPrompts, OFFLINE_AUX } from './aux_prompts.js';
import { type AuxEntry, formatAuxLine, normalisePrompt } from './store.js';

function entry(prompt: string, aux: string): AuxEntry {
  return { prompt, aux, source: 'offline', model: 'tgcnet-glossary-1' };
}

function kase(id: string, text: string, aux: string | null = null): CaseRecord {
  return { id, split: 'train', image: { kind: 'file', path: `${id}.png` }, mask: { kind: 'file', path: `mask_${id}.png` }, text, aux };
}

describe('normalisePrompt', () => {
  it('ignores case, runs of white space and a trailing period', () => {
    assert.equal(normalisePrompt('  Bilateral  pulmonary\tinfection, lower LEFT lung. '), 'bilateral pulmonary infection, lower left lung');
    assert.equal(normalisePrompt('spleen in an abdominal CT slice...'), 'spleen in an abdominal ct slice');
    assert.equal(normalisePrompt(''), '');
  });
});

describe('AuxPrompts from a file', () => {
  const tmp = tempDir('aux-store');
  after(() => tmp.cleanup());
  const open = (file: string, warnings: string[] = []) => AuxPrompts.open(file, undefined, (m) => warnings.push(m));

  it('skips a truncated last line with one warning, and keeps the rest', () => {
    const file = join(tmp.dir, 'truncated.jsonl');
    writeFileSync(file, formatAuxLine(entry('a.', 'A text.')) + formatAuxLine(entry('b.', 'B text.')) + '{"prompt": "c.", "aux": "C te');
    const warnings: string[] = [];
    const aux = open(file, warnings);
    assert.deepEqual([aux.get('a.'), aux.get('b.'), aux.get('c.')], ['A text.', 'B text.', null]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /skipped 1 bad line \(line 3: not valid JSON.*last line is incomplete/);
  });

  it('skips bad lines anywhere, lets a later line for a prompt win, and never throws on content', () => {
    const file = join(tmp.dir, 'mixed.jsonl');
    writeFileSync(
      file,
      [formatAuxLine(entry('a.', 'old')).trim(), 'garbage', '[1, 2]', '{"prompt": "x"}', '', formatAuxLine(entry('a.', 'new')).trim(), '{"prompt":"y","aux":"Y."}'].join('\r\n') + '\r\n',
    );
    const warnings: string[] = [];
    const aux = open(file, warnings);
    assert.equal(aux.get('a.'), 'new');
    assert.equal(aux.get('y'), 'Y.');
    assert.equal(aux.get('x'), null);
    assert.match(warnings[0], /skipped 3 bad lines/);
    writeFileSync(join(tmp.dir, 'empty.jsonl'), '');
    assert.equal(AuxPrompts.open(join(tmp.dir, 'empty.jsonl'), undefined, () => assert.fail('no warning for an empty file')).get('a.'), null);
  });

  it('matches exact text, then the normalised form; attach keeps a case\'s own aux and counts the rest', () => {
    const file = join(tmp.dir, 'two.jsonl');
    writeFileSync(
      file,
      formatAuxLine(entry('bilateral pulmonary infection, two infected areas, lower left lung and lower right lung.', 'Both lower zones.')) +
        formatAuxLine(entry('spleen in an abdominal CT slice.', 'Left upper quadrant.')),
    );
    const aux = open(file);
    const cases = [
      kase('exact', 'spleen in an abdominal CT slice.'),
      kase('normalised', 'Bilateral pulmonary infection,  two infected areas, lower left lung and lower right lung'),
      kase('own', 'spleen in an abdominal CT slice.', 'from the manifest'),
      kase('none1', 'liver in an abdominal CT slice.'),
      kase('none2', 'liver in an abdominal CT slice.'),
    ];
    const result = aux.attach(cases);
    assert.deepEqual(result, { attached: 2, missing: 2, missingPrompts: ['liver in an abdominal CT slice.'] });
    assert.deepEqual(cases.map((c) => c.aux), ['Left upper quadrant.', 'Both lower zones.', 'from the manifest', null, null]);
    assert.equal(aux.get('SPLEEN in an abdominal CT slice'), 'Left upper quadrant.');
    assert.match(aux.missingWarning(result)!, /no auxiliary prompt for 2 cases \(1 prompt, e\.g\. "liver in an abdominal CT slice\."\).*tgcnet prompts/);
  });
});

describe('AuxPrompts: which source', () => {
  const tmp = tempDir('aux-find');
  after(() => tmp.cleanup());

  it('an explicit file, else aux_prompts.jsonl in the folder or beside a manifest file, else none with the fix', () => {
    const folder = join(tmp.dir, 'ds');
    mkdirSync(folder);
    const none = AuxPrompts.open(undefined, folder);
    assert.equal(none.origin.kind, 'none');
    assert.equal(none.get('a.'), null);
    assert.match(none.missingWarning(none.attach([kase('3', 'c')]))!, /no auxiliary prompts for 1 case: no auxiliary prompts file \(none at .*ds\/aux_prompts\.jsonl\).*tgcnet prompts/);
    writeFileSync(join(folder, 'aux_prompts.jsonl'), formatAuxLine(entry('a.', 'A.')));
    writeFileSync(join(folder, 'manifest.csv'), 'image,mask,text\n');
    writeFileSync(join(tmp.dir, 'mine.jsonl'), formatAuxLine(entry('a.', 'mine')));
    assert.equal(AuxPrompts.open(undefined, folder).file, join(folder, 'aux_prompts.jsonl'));
    assert.equal(AuxPrompts.open(undefined, join(folder, 'manifest.csv')).get('A'), 'A.');
    assert.equal(AuxPrompts.open(join(tmp.dir, 'mine.jsonl'), folder).get('a.'), 'mine');
    assert.throws(() => AuxPrompts.open(join(tmp.dir, 'absent.jsonl'), folder), /absent\.jsonl does not exist/);
  });

  it("'offline' restates every prompt on the fly, new wordings included, and keeps a case's own aux", () => {
    const aux = AuxPrompts.open(OFFLINE_AUX, undefined);
    const cases = [kase('a', 'Bilateral pulmonary infection, two infected areas, all left lung and all right lung.'), kase('b', 'left base', 'given')];
    assert.deepEqual(aux.attach(cases), { attached: 1, missing: 0, missingPrompts: [] });
    assert.equal(cases[0].aux, 'bilateral pulmonary infection, six infected areas, upper middle lower left lung and upper middle lower right lung.');
    assert.equal(cases[1].aux, 'given');
    assert.equal(aux.get('Consolidation at the rigth base.'), 'unilateral pulmonary infection, one infected area, lower right lung.');
  });
});
