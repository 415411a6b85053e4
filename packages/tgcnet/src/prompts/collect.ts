// Collecting a dataset's unique clinical prompts and writing an auxiliary description for each
// into a JSON Lines file, a few at a time.
//
// Resumable: prompts already in the file (by normalised text) are not asked again. Each entry
// is appended and fsync'd as soon as it is done, so an interrupted run leaves a valid file with
// at most a partial last line, which the next run cuts off before appending.
import { mkdir, open, readFile, truncate } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type OpenOptions, openDataset } from '../data/detect.js';
import type { CaseRecord, Dataset } from '../data/types.js';
import { EXPANDER_VERSION, expandPrompt, inferModality } from './expander.js';
import type { Modality } from './glossary.js';
import { type ChatClient, cleanCompletion } from './llm_client.js';
import { type AuxEntry, formatAuxLine, normalisePrompt, readAuxPromptsFile } from './store.js';
import { DEFAULT_TEMPLATE, type PromptTemplate, renderTemplate } from './template.js';

export interface UniquePrompt {
  /** The text as the dataset first has it. */
  prompt: string;
  /** How many cases carry it (any spelling that normalises the same). */
  count: number;
}

/** The distinct prompts of some cases (by normalised text), the most used first, then alphabetical. */
export function uniquePrompts(cases: readonly CaseRecord[]): UniquePrompt[] {
  const byKey = new Map<string, UniquePrompt>();
  for (const c of cases) {
    if (c.text.trim() === '') continue;
    const key = normalisePrompt(c.text);
    const seen = byKey.get(key);
    if (seen) seen.count++;
    else byKey.set(key, { prompt: c.text, count: 1 });
  }
  return [...byKey.values()].sort((a, b) => b.count - a.count || (a.prompt < b.prompt ? -1 : a.prompt > b.prompt ? 1 : 0));
}

/**
 * The modality of a dataset whose prompts do not say it: MosMedData+ (LViT's lung CT set) by
 * its folder name is CT; otherwise undefined, and each prompt decides (lung zones: chest
 * X-ray, organs: CT). --modality overrides.
 */
export function guessDatasetModality(dataset: Pick<Dataset, 'root' | 'format'>): Modality | undefined {
  if (/mosmed/i.test(dataset.root)) return 'ct';
  return undefined;
}

/** A dataset's unique prompts (all splits unless named). */
export async function datasetPrompts(root: string, options: OpenOptions = {}): Promise<{ dataset: Dataset; prompts: UniquePrompt[] }> {
  const dataset = await openDataset(root, options);
  return { dataset, prompts: uniquePrompts(dataset.cases) };
}

/** Writes one auxiliary text per prompt. */
export interface AuxGenerator {
  /** 'llm' or 'offline', written into each entry. */
  readonly source: 'llm' | 'offline';
  /** The model (LLM) or the expander's version (offline), written into each entry. */
  readonly model: string | null;
  generate(prompt: string, signal: AbortSignal): Promise<string>;
}

/** The glossary expander as a generator; `generic` collects the prompts it did not recognise. */
export function offlineGenerator(options: { modality?: Modality } = {}): AuxGenerator & { generic: string[] } {
  const generic: string[] = [];
  return {
    source: 'offline',
    model: EXPANDER_VERSION,
    generic,
    async generate(prompt: string) {
      const e = expandPrompt(prompt, { modality: options.modality });
      if (e.kind === 'generic') generic.push(prompt);
      return e.text;
    },
  };
}

/** A chat-completions LLM as a generator: the template rendered for the prompt, the answer cleaned. */
export function llmGenerator(client: ChatClient, options: { template?: PromptTemplate; modality?: Modality } = {}): AuxGenerator {
  const template = options.template ?? DEFAULT_TEMPLATE;
  return {
    source: 'llm',
    model: client.model,
    async generate(prompt: string, signal: AbortSignal) {
      const messages = renderTemplate(template, prompt, inferModality(prompt, options.modality));
      const answer = await client.complete(messages, signal);
      const text = cleanCompletion(answer.content);
      if (text === '') throw new Error(`${client.url}: the answer for ${JSON.stringify(prompt)} is empty once cleaned`);
      return text;
    },
  };
}

/** Appends lines to a JSONL file, each followed by fsync; writes are queued one at a time. */
export class JsonlAppender {
  private chain: Promise<void> = Promise.resolve();

  private constructor(
    private readonly handle: Awaited<ReturnType<typeof open>>,
    /** Bytes of a partial last line cut off when the file was opened. */
    readonly droppedBytes: number,
  ) {}

  /** Opens for appending, first cutting a partial last line left by an interrupted write. */
  static async open(file: string): Promise<JsonlAppender> {
    await mkdir(dirname(file), { recursive: true });
    let dropped = 0;
    if (existsSync(file)) {
      const bytes = await readFile(file);
      if (bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a) {
        const keep = bytes.lastIndexOf(0x0a) + 1;
        dropped = bytes.length - keep;
        await truncate(file, keep);
      }
    }
    return new JsonlAppender(await open(file, 'a'), dropped);
  }

  append(line: string): Promise<void> {
    const next = this.chain.then(async () => {
      await this.handle.appendFile(line, 'utf8');
      await this.handle.sync();
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.chain;
    await this.handle.close();
  }
}

export interface GenerateProgress {
  /** Entries in the file for these prompts (already there + new). */
  done: number;
  total: number;
  /** New this run. */
  generated: number;
  /** The prompt just written. */
  prompt: string;
}

export interface GenerateOptions {
  /** The prompts to cover (a dataset's unique prompts). */
  prompts: readonly string[];
  /** The JSONL file; created when missing, appended to otherwise. */
  out: string;
  generator: AuxGenerator;
  /** Requests at a time (default 4). */
  concurrency?: number;
  /** Stops the run: no new requests, in-flight ones aborted; what was written stays. */
  signal?: AbortSignal;
  /** Write at most this many new entries this run. */
  maxNew?: number;
  onProgress?: (p: GenerateProgress) => void;
}

export interface GenerateResult {
  file: string;
  /** Prompts asked for. */
  total: number;
  /** Of those, already in the file before this run. */
  existing: number;
  /** Written this run. */
  generated: number;
  /** Still without an entry. */
  remaining: number;
  stoppedBy: 'done' | 'abort' | 'limit';
  /** Entries of the file from another source or model than this generator's (kept, not redone). */
  otherSource: number;
  /** Bad lines of the existing file (skipped; their prompts were asked again). */
  skippedLines: number;
  /** Bytes of a partial last line cut off before appending. */
  droppedBytes: number;
}

/** A run that stopped on an error; the entries written before it are in the file. */
export class GenerateError extends Error {
  constructor(
    message: string,
    readonly result: GenerateResult,
    override readonly cause: unknown,
  ) {
    super(message);
    this.name = 'GenerateError';
  }
}

/**
 * Writes an entry for every prompt that the file lacks, `concurrency` at a time. Returns when
 * all are written, the signal aborts or maxNew is reached; throws a GenerateError (after the
 * in-flight requests are stopped) on the first prompt that fails for good.
 */
export async function generateAuxPrompts(options: GenerateOptions): Promise<GenerateResult> {
  const file = resolve(options.out);
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));
  const existingFile = existsSync(file) ? readAuxPromptsFile(file) : null;
  const have = new Set<string>();
  let otherSource = 0;
  for (const e of existingFile?.entries.values() ?? []) {
    have.add(normalisePrompt(e.prompt));
    if (e.source !== options.generator.source || e.model !== options.generator.model) otherSource++;
  }
  // Unique by normalised text, first spelling kept.
  const wanted = new Map<string, string>();
  for (const p of options.prompts) {
    const key = normalisePrompt(p);
    if (key !== '' && !wanted.has(key)) wanted.set(key, p);
  }
  const todo = [...wanted].filter(([key]) => !have.has(key)).map(([, p]) => p);
  const total = wanted.size;
  const existing = total - todo.length;

  const writer = await JsonlAppender.open(file);
  const stop = new AbortController();
  const onOuterAbort = () => stop.abort(options.signal!.reason);
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (options.signal?.aborted) stop.abort(options.signal.reason);

  let next = 0;
  let generated = 0;
  let failure: { prompt: string; error: unknown } | null = null;
  const limit = options.maxNew ?? Infinity;

  const worker = async () => {
    while (!stop.signal.aborted && next < todo.length && next < limit) {
      const prompt = todo[next++];
      let aux: string;
      try {
        aux = (await options.generator.generate(prompt, stop.signal)).trim();
        if (aux === '') throw new Error('the generator returned an empty text');
      } catch (err) {
        if (stop.signal.aborted) return;
        failure ??= { prompt, error: err };
        stop.abort(err);
        return;
      }
      const entry: AuxEntry = { prompt, aux, source: options.generator.source, model: options.generator.model };
      try {
        await writer.append(formatAuxLine(entry));
      } catch (err) {
        stop.abort(err); // the file cannot take more: the other workers stop too
        throw new Error(`cannot write to ${file}: ${(err as Error).message}`);
      }
      generated++;
      options.onProgress?.({ done: existing + generated, total, generated, prompt });
    }
  };

  let settled: PromiseSettledResult<void>[];
  try {
    // allSettled: every worker has stopped before the file is closed, even when one throws.
    settled = await Promise.allSettled(Array.from({ length: Math.min(concurrency, Math.max(1, todo.length)) }, worker));
  } finally {
    options.signal?.removeEventListener('abort', onOuterAbort);
    await writer.close();
  }
  const crashed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (crashed) throw crashed.reason;

  const remaining = total - existing - generated;
  const result: GenerateResult = {
    file,
    total,
    existing,
    generated,
    remaining,
    stoppedBy: remaining === 0 ? 'done' : failure || options.signal?.aborted ? 'abort' : 'limit',
    otherSource,
    skippedLines: existingFile?.skipped.length ?? 0,
    droppedBytes: writer.droppedBytes,
  };
  if (failure) {
    const f = failure as { prompt: string; error: unknown };
    const why = f.error instanceof Error ? f.error.message : String(f.error);
    throw new GenerateError(
      `stopped at the prompt ${JSON.stringify(f.prompt)}: ${why}\n` +
        `${existing + generated} of ${total} prompts have an entry in ${file} (${generated} new); rerun to continue with the other ${remaining}`,
      result,
      f.error,
    );
  }
  return result;
}
