// `tgcnet prompts`: an auxiliary description for each unique prompt of a dataset, from an
// OpenAI-compatible LLM server (--llm-url) or, without one, from the offline glossary
// expander. Progress and retries go to stderr, the summary to stdout.
import type { FormatName } from '../data/types.js';
import { GenerateError, type GenerateResult, datasetPrompts, generateAuxPrompts, guessDatasetModality, llmGenerator, offlineGenerator } from '../prompts/collect.js';
import { MODALITIES, type Modality } from '../prompts/glossary.js';
import { ChatClient } from '../prompts/llm_client.js';
import { defaultAuxPromptsPath } from '../prompts/aux_prompts.js';
import { loadTemplate } from '../prompts/template.js';

export interface PromptsCommandOptions {
  data: string;
  format?: string;
  /** Default: <data>/aux_prompts.jsonl (beside the manifest for a manifest file), where training looks. */
  out?: string;
  llmUrl?: string;
  model?: string;
  /** The name of the environment variable that holds the API key. */
  apiKeyEnv?: string;
  template?: string;
  /** xray, ct or mri, for prompts that do not name one. */
  modality?: string;
  /** Requests at a time (default 4). */
  concurrency?: number;
  /** Per request, seconds (default 60). */
  timeout?: number;
  /** Retries per request (default 5). */
  retries?: number;
  /** Write at most this many new entries. */
  limit?: number;
  json?: boolean;
}

export interface PromptsSummary extends GenerateResult {
  source: 'llm' | 'offline';
  model: string | null;
  /** Prompts the offline expander did not recognise (generic text written). */
  generic: string[];
  seconds: number;
}

interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Stop cleanly on the first Ctrl-C (default true). */
  handleSignals?: boolean;
}

const MODALITY_ALIASES: Record<string, Modality> = { xray: 'xray', 'x-ray': 'xray', cxr: 'xray', radiograph: 'xray', ct: 'ct', mri: 'mri', mr: 'mri' };

function parseModality(value: string | undefined): Modality | undefined {
  if (value === undefined) return undefined;
  const m = MODALITY_ALIASES[value.trim().toLowerCase()];
  if (!m) throw new Error(`--modality: unknown modality "${value}" (expected ${MODALITIES.join(', ')})`);
  return m;
}

function apiKeyFrom(variable: string | undefined): string | undefined {
  if (variable === undefined) return undefined;
  const name = variable.replace(/^\$/, '');
  const key = process.env[name];
  if (key === undefined || key.trim() === '') throw new Error(`--api-key-env ${name}: the environment variable ${name} is not set (or empty)`);
  return key.trim();
}

export async function promptsCommand(opts: PromptsCommandOptions, io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<PromptsSummary> {
  const started = performance.now();
  if (opts.llmUrl === undefined) {
    for (const [flag, value] of [['--model', opts.model], ['--api-key-env', opts.apiKeyEnv], ['--template', opts.template]] as const) {
      if (value !== undefined) throw new Error(`${flag} applies to an LLM server: add --llm-url (without it the offline expander writes the texts)`);
    }
  } else if (!opts.model) {
    throw new Error('--llm-url needs --model: the model name the server knows (llama.cpp accepts any name)');
  }
  for (const [flag, value] of [['--timeout', opts.timeout], ['--concurrency', opts.concurrency], ['--limit', opts.limit]] as const) {
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) throw new Error(`${flag}: expected a positive number, got ${value}`);
  }
  if (opts.retries !== undefined && !(Number.isInteger(opts.retries) && opts.retries >= 0)) throw new Error(`--retries: expected a non-negative integer, got ${opts.retries}`);
  const modality = parseModality(opts.modality);
  const apiKey = apiKeyFrom(opts.apiKeyEnv);
  const template = opts.template ? loadTemplate(opts.template) : undefined;

  const { dataset, prompts } = await datasetPrompts(opts.data, { format: opts.format as FormatName | undefined });
  if (prompts.length === 0) throw new Error(`${dataset.root}: no cases with a prompt (format ${dataset.format}; see \`tgcnet data check\`)`);
  const datasetModality = modality ?? guessDatasetModality(dataset);
  const out = opts.out ?? defaultAuxPromptsPath(opts.data);

  const progressLine = (text: string, end = false) => {
    if (io.stderr.isTTY) io.stderr.write(`\r${text}\u001b[K${end ? '\n' : ''}`);
    else if (end) io.stderr.write(`${text}\n`);
  };
  const offline = opts.llmUrl === undefined ? offlineGenerator({ modality: datasetModality }) : null;
  let generator;
  if (offline) generator = offline;
  else {
    const client = new ChatClient({
      baseUrl: opts.llmUrl!,
      model: opts.model!,
      apiKey,
      apiKeySource: opts.apiKeyEnv ? `$${opts.apiKeyEnv.replace(/^\$/, '')}` : undefined,
      timeoutMs: opts.timeout !== undefined ? opts.timeout * 1000 : undefined,
      retries: opts.retries,
      onRetry: ({ attempt, delayMs, reason }) => {
        if (io.stderr.isTTY) io.stderr.write('\n');
        io.stderr.write(`tgcnet: retry ${attempt} in ${(delayMs / 1000).toFixed(1)} s: ${reason}\n`);
      },
    });
    io.stderr.write(`tgcnet: asking ${client.url} (model ${client.model}) for ${prompts.length} unique prompts of ${dataset.root}\n`);
    generator = llmGenerator(client, { template, modality: datasetModality });
  }

  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    io.stderr.write('\ntgcnet: interrupted: stopping; what is written stays (Ctrl-C again to quit now)\n');
    controller.abort(new Error('interrupted'));
  };
  const handleSignals = io.handleSignals ?? true;
  if (handleSignals) process.on('SIGINT', onSigint);

  let result: GenerateResult;
  try {
    result = await generateAuxPrompts({
      prompts: prompts.map((p) => p.prompt),
      out,
      generator,
      concurrency: opts.concurrency,
      signal: controller.signal,
      maxNew: opts.limit,
      onProgress: (p) => progressLine(`auxiliary prompts ${p.done}/${p.total} (${p.generated} new)`),
    });
  } catch (err) {
    if (io.stderr.isTTY) io.stderr.write('\n');
    throw err instanceof GenerateError ? new Error(err.message) : err;
  } finally {
    if (handleSignals) process.off('SIGINT', onSigint);
  }
  if (io.stderr.isTTY && result.generated > 0) io.stderr.write('\n');

  if (result.droppedBytes > 0) io.stderr.write(`tgcnet: warning: ${result.file} ended in a partial line (an interrupted run); cut it off (${result.droppedBytes} bytes) before appending\n`);
  if (result.skippedLines > 0) io.stderr.write(`tgcnet: warning: ${result.file}: ${result.skippedLines} bad line(s) skipped; their prompts were asked again\n`);
  if (result.otherSource > 0) {
    io.stderr.write(
      `tgcnet: note: ${result.otherSource} entr${result.otherSource === 1 ? 'y' : 'ies'} of ${result.file} come from another source or model than ` +
        `${generator.source}${generator.model ? ` (${generator.model})` : ''}; they are kept (delete them, or write to another --out, to redo them)\n`,
    );
  }
  const generic = offline?.generic ?? [];
  if (generic.length > 0) {
    io.stderr.write(
      `tgcnet: note: the glossary knows nothing of ${generic.length} prompt(s), which got a generic text, e.g. ${generic.slice(0, 3).map((p) => JSON.stringify(p)).join(', ')}\n`,
    );
  }

  const summary: PromptsSummary = { ...result, source: generator.source, model: generator.model, generic, seconds: (performance.now() - started) / 1000 };
  if (opts.json) io.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    const state =
      result.stoppedBy === 'done'
        ? 'all prompts covered'
        : `${result.remaining} still missing (${result.stoppedBy === 'limit' ? '--limit reached' : 'interrupted'}; rerun to continue)`;
    io.stdout.write(
      `${result.file}: ${result.existing + result.generated} of ${result.total} unique prompts (${result.generated} new, ${result.existing} already there; ` +
        `${generator.source}${generator.model ? ` ${generator.model}` : ''}), ${state}, in ${summary.seconds.toFixed(1)} s\n`,
    );
  }
  if (result.stoppedBy === 'abort') process.exitCode = 130;
  return summary;
}
