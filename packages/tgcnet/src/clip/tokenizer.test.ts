import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { defaultBpePath } from '../paths.js';
import { ClipTokenizer, cleanText } from './tokenizer.js';

const bpe = defaultBpePath();
const skip = bpe === null ? 'needs ../shared/clip/bpe_simple_vocab_16e6.txt.gz (not found)' : false;
const dir = mkdtempSync(join(tmpdir(), 'tgcnet-tok-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// Known answers from ../shared/clip/README.md.
const KNOWN: [string, number[]][] = [
  ['a photo of a cat', [49406, 320, 1125, 539, 320, 2368, 49407]],
  [
    'Bilateral pulmonary infection, two infected areas, upper left lung and upper right lung.',
    [49406, 25599, 39132, 14774, 267, 1237, 26136, 5429, 267, 7067, 1823, 16271, 537, 7067, 1155, 16271, 269, 49407],
  ],
];

test('OpenAI BPE file: known token ids', { skip }, () => {
  const tok = ClipTokenizer.fromPath(bpe!);
  assert.equal(tok.vocabSize, 49408);
  for (const [text, ids] of KNOWN) {
    const enc = tok.encode(text);
    assert.deepEqual(enc.ids.slice(0, ids.length), ids, text);
    assert.equal(enc.eotIndex, ids.length - 1);
    assert.equal(enc.ids.length, 77);
    assert.ok(enc.ids.slice(ids.length).every((x) => x === 0));
  }
});

test('vocab.json + merges.txt and tokenizer.json give the same ids', { skip }, () => {
  const tok = ClipTokenizer.fromPath(bpe!);
  const { vocabJson, mergesTxt } = tok.toVocabMerges();
  writeFileSync(join(dir, 'vocab.json'), vocabJson);
  writeFileSync(join(dir, 'merges.txt'), mergesTxt);
  const merges = mergesTxt.split('\n').filter((l) => l && !l.startsWith('#'));
  const vocab = JSON.parse(vocabJson) as Record<string, number>;
  const special = ['<|startoftext|>', '<|endoftext|>'];
  const json = {
    model: { type: 'BPE', vocab: Object.fromEntries(Object.entries(vocab).filter(([k]) => !special.includes(k))), merges },
    added_tokens: special.map((content) => ({ id: vocab[content], content })),
  };
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
  const fromVm = ClipTokenizer.fromVocabMerges(join(dir, 'vocab.json'), join(dir, 'merges.txt'));
  const fromJson = ClipTokenizer.fromTokenizerJson(join(dir, 'tokenizer.json'));
  const text = "Unilateral pulmonary infection, one infected area, lower right lung. It's 3x ground-glass opacity (GGO) &amp; ok!";
  assert.deepEqual(fromVm.encode(text).ids, tok.encode(text).ids);
  assert.deepEqual(fromJson.encode(text).ids, tok.encode(text).ids);
});

test('truncation keeps the end token; decode inverts encode', { skip }, () => {
  const tok = ClipTokenizer.fromPath(bpe!);
  const long = tok.encode('lung '.repeat(200));
  assert.equal(long.ids.length, 77);
  assert.equal(long.ids[76], 49407);
  assert.equal(long.eotIndex, 76);
  assert.equal(long.truncated, true);
  assert.equal(tok.decode(tok.encode('upper left lung, two areas.').ids), 'upper left lung , two areas .');
  assert.equal(tok.encode('x', { contextLength: 8 }).ids.length, 8);
});

test('text cleanup: html entities, whitespace, case', () => {
  assert.equal(cleanText('  Left&amp;Right\n\tLUNG &#39;s  '), "left&right lung 's");
});

test('a folder without tokenizer files is an error that names what was looked for', () => {
  assert.throws(() => ClipTokenizer.fromPath(tmpdir()), /expected vocab.json \+ merges.txt, tokenizer.json, or bpe_simple_vocab_16e6/);
  assert.throws(() => ClipTokenizer.fromPath('/nonexistent/tok'), /does not exist/);
});
