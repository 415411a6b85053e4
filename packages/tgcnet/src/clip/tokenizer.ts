// OpenAI CLIP's byte-level BPE tokenizer, written here rather than taken from a package:
// the algorithm is ~100 lines, we must read three on-disk forms of the same vocabulary
// (vocab.json + merges.txt, tokenizer.json, OpenAI's bpe_simple_vocab_16e6.txt.gz), and
// the candidates on npm either fetch files from a hub or read only one of those forms.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readJsonFile } from '../fs/read_json.js';

export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';
export const CONTEXT_LENGTH = 77;
/** OpenAI's file lists more merges than CLIP uses; CLIP keeps the first 48,894 (49152 - 256 - 2). */
const OPENAI_MERGE_COUNT = 49152 - 256 - 2;

/**
 * GPT-2's reversible map from bytes to printable unicode characters: [table indexed by
 * byte value, the characters in CLIP's vocabulary order (printable bytes first)].
 */
function bytesToUnicode(): [string[], string[]] {
  const bs: number[] = [];
  for (let i = '!'.charCodeAt(0); i <= '~'.charCodeAt(0); i++) bs.push(i);
  for (let i = '¡'.charCodeAt(0); i <= '¬'.charCodeAt(0); i++) bs.push(i);
  for (let i = '®'.charCodeAt(0); i <= 'ÿ'.charCodeAt(0); i++) bs.push(i);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const table: string[] = new Array(256);
  bs.forEach((b, i) => {
    table[b] = String.fromCharCode(cs[i]);
  });
  return [table, cs.map((c) => String.fromCharCode(c))];
}

const [BYTE_CHARS, VOCAB_BYTE_ORDER] = bytesToUnicode();

// CLIP's pre-tokenizer: special tokens, English contractions, letter runs, single digits,
// runs of other non-space characters (case-insensitive, on lower-cased text).
const WORD_PATTERN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

const HTML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

function htmlUnescape(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return Number.isFinite(code) ? String.fromCodePoint(code) : m;
    }
    return HTML_ENTITIES[body.toLowerCase()] ?? m;
  });
}

/**
 * CLIP's text cleanup: html unescape (twice, as CLIP does), unicode NFC, whitespace
 * collapsed, lower case. OpenAI also runs ftfy.fix_text, which repairs mojibake; that has
 * no effect on well-formed text and is not reproduced.
 */
export function cleanText(text: string): string {
  return htmlUnescape(htmlUnescape(text)).normalize('NFC').replace(/\s+/g, ' ').trim().toLowerCase();
}

export interface EncodeOptions {
  /** Output length (CLIP: 77). Longer texts are truncated, keeping the end token. */
  contextLength?: number;
  /** Pad value (OpenAI pads with 0). */
  padId?: number;
}

export interface Encoded {
  /** [contextLength] token ids: start, text, end, padding. */
  ids: number[];
  /** Index of the end-of-text token, where CLIP pools the text. */
  eotIndex: number;
  /** True if the text was cut to fit. */
  truncated: boolean;
}

export class ClipTokenizer {
  readonly encoder: Map<string, number>;
  readonly decoder: Map<number, string>;
  readonly ranks: Map<string, number>;
  readonly sotId: number;
  readonly eotId: number;
  readonly #cache = new Map<string, string[]>();

  constructor(vocab: Map<string, number>, merges: [string, string][]) {
    this.encoder = vocab;
    this.decoder = new Map([...vocab].map(([k, v]) => [v, k]));
    this.ranks = new Map(merges.map(([a, b], i) => [`${a} ${b}`, i]));
    const sot = vocab.get(START_OF_TEXT);
    const eot = vocab.get(END_OF_TEXT);
    if (sot === undefined || eot === undefined) {
      throw new Error(`CLIP vocabulary lacks ${START_OF_TEXT} or ${END_OF_TEXT}: this is not a CLIP tokenizer`);
    }
    this.sotId = sot;
    this.eotId = eot;
  }

  get vocabSize(): number {
    return this.encoder.size;
  }

  /** From OpenAI's merges file (bpe_simple_vocab_16e6.txt or .gz): the vocabulary is derived. */
  static fromOpenAiBpe(path: string): ClipTokenizer {
    const raw = readFileSync(path);
    const text = (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
    const lines = text.split('\n');
    const merges = lines
      .slice(1, 1 + OPENAI_MERGE_COUNT)
      .map((l) => l.split(' ') as [string, string]);
    if (merges.length !== OPENAI_MERGE_COUNT || merges.some((m) => m.length !== 2)) {
      throw new Error(`${path}: expected OpenAI's CLIP BPE merges (a header line then ${OPENAI_MERGE_COUNT} "a b" lines)`);
    }
    const vocabList = [...VOCAB_BYTE_ORDER, ...VOCAB_BYTE_ORDER.map((c) => `${c}</w>`), ...merges.map(([a, b]) => a + b), START_OF_TEXT, END_OF_TEXT];
    return new ClipTokenizer(new Map(vocabList.map((t, i) => [t, i])), merges);
  }

  /** From Hugging Face's vocab.json + merges.txt. */
  static fromVocabMerges(vocabPath: string, mergesPath: string): ClipTokenizer {
    const vocab = readJsonFile(vocabPath, 'tokenizer vocabulary') as Record<string, number>;
    const merges = readFileSync(mergesPath, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0 && !l.startsWith('#version'))
      .map((l) => l.split(' ') as [string, string]);
    return new ClipTokenizer(new Map(Object.entries(vocab)), merges);
  }

  /** From Hugging Face's tokenizer.json (a BPE model with vocab and merges). */
  static fromTokenizerJson(path: string): ClipTokenizer {
    const json = readJsonFile(path, 'tokenizer') as {
      model?: { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[] };
      added_tokens?: { id: number; content: string }[];
    };
    if (json.model?.type !== 'BPE' || !json.model.vocab || !json.model.merges) {
      throw new Error(`${path}: expected a tokenizer.json with a BPE model (model.vocab, model.merges)`);
    }
    const vocab = new Map(Object.entries(json.model.vocab));
    for (const t of json.added_tokens ?? []) vocab.set(t.content, t.id);
    const merges = json.model.merges.map((m) => (typeof m === 'string' ? (m.split(' ') as [string, string]) : m));
    return new ClipTokenizer(vocab, merges);
  }

  /**
   * From a folder or file: tokenizer.json, vocab.json + merges.txt, or a
   * bpe_simple_vocab_16e6.txt(.gz). Throws naming what was looked for.
   */
  static fromPath(path: string): ClipTokenizer {
    if (!existsSync(path)) throw new Error(`CLIP tokenizer path ${path} does not exist`);
    if (!statSync(path).isDirectory()) {
      return path.endsWith('.json') ? ClipTokenizer.fromTokenizerJson(path) : ClipTokenizer.fromOpenAiBpe(path);
    }
    if (existsSync(join(path, 'vocab.json')) && existsSync(join(path, 'merges.txt'))) {
      return ClipTokenizer.fromVocabMerges(join(path, 'vocab.json'), join(path, 'merges.txt'));
    }
    if (existsSync(join(path, 'tokenizer.json'))) return ClipTokenizer.fromTokenizerJson(join(path, 'tokenizer.json'));
    for (const name of ['bpe_simple_vocab_16e6.txt.gz', 'bpe_simple_vocab_16e6.txt']) {
      if (existsSync(join(path, name))) return ClipTokenizer.fromOpenAiBpe(join(path, name));
    }
    throw new Error(
      `no CLIP tokenizer in ${path}: expected vocab.json + merges.txt, tokenizer.json, or bpe_simple_vocab_16e6.txt.gz`,
    );
  }

  /** BPE of one pre-token (already byte-mapped), as CLIP: the last symbol gets '</w>'. */
  private bpe(token: string): string[] {
    const cached = this.#cache.get(token);
    if (cached) return cached;
    const chars = [...token];
    let word = [...chars.slice(0, -1), `${chars[chars.length - 1]}</w>`];
    while (word.length > 1) {
      let best = -1;
      let bestRank = Number.POSITIVE_INFINITY;
      for (let i = 0; i < word.length - 1; i++) {
        const r = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const a = word[best];
      const b = word[best + 1];
      const merged: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i < word.length - 1 && word[i] === a && word[i + 1] === b) {
          merged.push(a + b);
          i++;
        } else {
          merged.push(word[i]);
        }
      }
      word = merged;
    }
    this.#cache.set(token, word);
    return word;
  }

  /** Token ids of the text, without start/end tokens. */
  tokenize(text: string): number[] {
    const ids: number[] = [];
    for (const match of cleanText(text).matchAll(WORD_PATTERN)) {
      const piece = match[0];
      if (piece === START_OF_TEXT || piece === END_OF_TEXT) {
        ids.push(piece === START_OF_TEXT ? this.sotId : this.eotId);
        continue;
      }
      const mapped = Array.from(Buffer.from(piece, 'utf8'), (b) => BYTE_CHARS[b]).join('');
      for (const sym of this.bpe(mapped)) {
        const id = this.encoder.get(sym);
        if (id === undefined) throw new Error(`BPE symbol '${sym}' is not in the vocabulary (merges and vocab disagree)`);
        ids.push(id);
      }
    }
    return ids;
  }

  /** start + text + end, truncated (keeping the end token) and padded to the context length. */
  encode(text: string, options: EncodeOptions = {}): Encoded {
    const context = options.contextLength ?? CONTEXT_LENGTH;
    const body = this.tokenize(text);
    const truncated = body.length + 2 > context;
    const kept = truncated ? body.slice(0, context - 2) : body;
    const ids = [this.sotId, ...kept, this.eotId];
    const eotIndex = ids.length - 1;
    while (ids.length < context) ids.push(options.padId ?? 0);
    return { ids, eotIndex, truncated };
  }

  decode(ids: number[]): string {
    const bytes: number[] = [];
    const byteOf = new Map(BYTE_CHARS.map((c, b) => [c, b]));
    let out = '';
    for (const id of ids) {
      if (id === this.eotId) break;
      if (id === this.sotId) continue;
      const tok = this.decoder.get(id);
      if (tok === undefined) continue;
      for (const ch of tok.replace('</w>', ' ')) {
        const b = byteOf.get(ch);
        if (b !== undefined) bytes.push(b);
        else {
          out += Buffer.from(bytes.splice(0)).toString('utf8') + ch;
        }
      }
    }
    return (out + Buffer.from(bytes).toString('utf8')).trim();
  }

  /** Hugging Face's vocab.json + merges.txt contents, for writing a checkpoint folder. */
  toVocabMerges(): { vocabJson: string; mergesTxt: string } {
    const vocab = Object.fromEntries(this.encoder);
    const merges = [...this.ranks.entries()].sort((a, b) => a[1] - b[1]).map(([m]) => m);
    return { vocabJson: JSON.stringify(vocab), mergesTxt: `#version: 0.2\n${merges.join('\n')}\n` };
  }
}
