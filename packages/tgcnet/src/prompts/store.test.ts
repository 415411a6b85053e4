import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { tempDir } from '../data/formats/testing.js';
import type { CaseRecord } from '../data/types.js';
import { type AuxEntry, applyAuxPrompts, attachAux, auxForPrompt, findAuxPrompts, formatAuxLine, lookupAux, normalisePrompt, readAuxPrompts } from './store.js';

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

describe('readAuxPrompts', () => {
  const tmp = tempDir('aux-store');
  after(() => tmp.cleanup());

  it('skips a truncated last line with one warning, and keeps the rest', () => {
    const file = join(tmp.dir, 'truncated.jsonl');
    writeFileSync(file, formatAuxLine(entry('a.', 'A text.')) + formatAuxLine(entry('b.', 'B text.')) + '{"prompt": "c.", "aux": "C te');
    const warnings: string[] = [];
    const map = readAuxPrompts(file, (m) => warnings.push(m));
    assert.deepEqual([...map.keys()], ['a.', 'b.']);
    assert.equal(map.get('b.')!.aux, 'B text.');
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
    const map = readAuxPrompts(file, (m) => warnings.push(m));
    assert.equal(map.get('a.')!.aux, 'new');
    assert.deepEqual(map.get('y'), { prompt: 'y', aux: 'Y.', source: 'unknown', model: null });
    assert.equal(map.size, 2);
    assert.match(warnings[0], /skipped 3 bad lines/);
    assert.deepEqual(readAuxPrompts(join(tmp.dir, 'truncated.jsonl'), () => {}).size, 2);
    writeFileSync(join(tmp.dir, 'empty.jsonl'), '');
    assert.equal(readAuxPrompts(join(tmp.dir, 'empty.jsonl'), () => assert.fail('no warning for an empty file')).size, 0);
  });
});

describe('attachAux', () => {
  const prompts = new Map<string, AuxEntry>([
    ['bilateral pulmonary infection, two infected areas, lower left lung and lower right lung.', entry('bilateral pulmonary infection, two infected areas, lower left lung and lower right lung.', 'Both lower zones.')],
    ['spleen in an abdominal CT slice.', entry('spleen in an abdominal CT slice.', 'Left upper quadrant.')],
  ]);

  it('matches exact text, then the normalised form; keeps a case own aux; counts the rest', () => {
    const cases = [
      kase('exact', 'spleen in an abdominal CT slice.'),
      kase('normalised', 'Bilateral pulmonary infection,  two infected areas, lower left lung and lower right lung'),
      kase('own', 'spleen in an abdominal CT slice.', 'from the manifest'),
      kase('none1', 'liver in an abdominal CT slice.'),
      kase('none2', 'liver in an abdominal CT slice.'),
    ];
    const result = attachAux(cases, prompts);
    assert.deepEqual(result, { attached: 2, missing: 2, missingPrompts: ['liver in an abdominal CT slice.'] });
    assert.equal(cases[0].aux, 'Left upper quadrant.');
    assert.equal(cases[1].aux, 'Both lower zones.');
    assert.equal(cases[2].aux, 'from the manifest');
    assert.equal(cases[3].aux, null);
  });

  it('looks one prompt up the same way (for predict and serve)', () => {
    assert.equal(lookupAux(prompts, 'SPLEEN in an abdominal CT slice')!.aux, 'Left upper quadrant.');
    assert.equal(lookupAux(prompts, 'kidney'), undefined);
  });
});

describe('findAuxPrompts and applyAuxPrompts', () => {
  const tmp = tempDir('aux-find');
  after(() => tmp.cleanup());

  it('prefers an explicit file, else aux_prompts.jsonl in the folder or beside a manifest file', () => {
    const folder = join(tmp.dir, 'ds');
    mkdirSync(folder);
    assert.equal(findAuxPrompts(folder), null);
    writeFileSync(join(folder, 'aux_prompts.jsonl'), formatAuxLine(entry('a.', 'A.')));
    writeFileSync(join(folder, 'manifest.csv'), 'image,mask,text\n');
    writeFileSync(join(tmp.dir, 'mine.jsonl'), '');
    assert.equal(findAuxPrompts(folder), join(folder, 'aux_prompts.jsonl'));
    assert.equal(findAuxPrompts(join(folder, 'manifest.csv')), join(folder, 'aux_prompts.jsonl'));
    assert.equal(findAuxPrompts(folder, join(tmp.dir, 'mine.jsonl')), join(tmp.dir, 'mine.jsonl'));
    assert.throws(() => findAuxPrompts(folder, join(tmp.dir, 'absent.jsonl')), /absent\.jsonl does not exist/);
  });

  it('attaches and warns about what stays without aux; without a file, warns and attaches nothing', () => {
    const folder = join(tmp.dir, 'ds');
    const warnings: string[] = [];
    const cases = [kase('1', 'A'), kase('2', 'b.')];
    const r = applyAuxPrompts(cases, folder, undefined, (m) => warnings.push(m));
    assert.equal(r.file, join(folder, 'aux_prompts.jsonl'));
    assert.equal(r.attached, 1);
    assert.equal(cases[0].aux, 'A.');
    assert.equal(r.missing, 1);
    assert.match(warnings[0], /no auxiliary prompt for 1 case .*"b\."/);

    const lonely = join(tmp.dir, 'lonely');
    mkdirSync(lonely);
    const warned: string[] = [];
    const none = applyAuxPrompts([kase('3', 'c')], lonely, undefined, (m) => warned.push(m));
    assert.equal(none.file, null);
    assert.equal(none.missing, 1);
    assert.match(warned[0], /no auxiliary prompts for 1 case: no .*lonely\/aux_prompts\.jsonl .*tgcnet prompts/);
  });

  it('gives predict the aux text of one prompt, or null with a warning', () => {
    const folder = join(tmp.dir, 'ds');
    const warned: string[] = [];
    assert.equal(auxForPrompt('a', { dataRoot: folder, warn: (m) => warned.push(m) }), 'A.');
    assert.equal(auxForPrompt('zzz', { dataRoot: folder, warn: (m) => warned.push(m) }), null);
    assert.equal(auxForPrompt('a', { dataRoot: join(tmp.dir, 'lonely'), warn: (m) => warned.push(m) }), null);
    assert.equal(auxForPrompt('a', { warn: (m) => warned.push(m) }), null);
    assert.equal(warned.length, 3);
    assert.match(warned[0], /no entry for "zzz"/);
    assert.match(warned[1], /no auxiliary prompts file/);
  });
});
