import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import { promptsCommand } from '../cli/prompts.js';
import { openDataset } from '../data/detect.js';
import { tempDir, writeText } from '../data/formats/testing.js';
import type { CaseRecord } from '../data/types.js';
import { GenerateError, generateAuxPrompts, llmGenerator, offlineGenerator, uniquePrompts } from './collect.js';
import { EXPANDER_VERSION } from './expander.js';
import { ChatClient } from './llm_client.js';
import { AuxPrompts } from './aux_prompts.js';
import { formatAuxLine } from './store.js';
import { type Action, type ChatServer, answerFor, startChatServer } from './testing.js';

const PROMPTS = [
  'unilateral pulmonary infection, one infected area, lower left lung.',
  'unilateral pulmonary infection, one infected area, lower right lung.',
  'bilateral pulmonary infection, two infected areas, lower left lung and lower right lung.',
  'bilateral pulmonary infection, two infected areas, middle left lung and middle right lung.',
  'bilateral pulmonary infection, three infected areas, upper lower left lung and lower right lung.',
  'unilateral pulmonary infection, one infected area, upper right lung.',
  'spleen in an abdominal CT slice.',
  'liver in an abdominal CT slice.',
];

function llm(server: ChatServer, extra: Partial<ConstructorParameters<typeof ChatClient>[0]> = {}) {
  return llmGenerator(new ChatClient({ baseUrl: server.url, model: 'test-model', timeoutMs: 2000, retries: 3, baseDelayMs: 5, maxDelayMs: 20, ...extra }));
}

/** Every line of the file parses as a complete entry; returns them. */
function readLines(file: string): { prompt: string; aux: string; source: string; model: string | null }[] {
  const text = readFileSync(file, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), 'the file ends with a newline');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const v = JSON.parse(l);
      assert.deepEqual(Object.keys(v), ['prompt', 'aux', 'source', 'model']);
      assert.equal(typeof v.aux, 'string');
      return v;
    });
}

function sink(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return Object.assign(w, { text: () => chunks.join('') });
}

function kase(id: string, text: string): CaseRecord {
  return { id, split: 'train', image: { kind: 'file', path: `${id}.png` }, mask: null, text, aux: null };
}

describe('uniquePrompts', () => {
  it('dedupes by normalised text, most used first, keeping the first spelling', () => {
    const cases = [kase('1', 'b.'), kase('2', 'A.'), kase('3', 'a'), kase('4', ' A. '), kase('5', 'c'), kase('6', '')];
    assert.deepEqual(uniquePrompts(cases), [
      { prompt: 'A.', count: 3 },
      { prompt: 'b.', count: 1 },
      { prompt: 'c', count: 1 },
    ]);
  });
});

describe('generateAuxPrompts with an LLM server', () => {
  const tmp = tempDir('aux-collect');
  let server: ChatServer | null = null;
  after(() => tmp.cleanup());
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  it('asks once per missing prompt, at most `concurrency` at a time, and writes one valid line each', async () => {
    server = await startChatServer(() => ({ kind: 'ok', delayMs: 40 }));
    const out = join(tmp.dir, 'all.jsonl');
    const progress: number[] = [];
    const result = await generateAuxPrompts({ prompts: [...PROMPTS, PROMPTS[0].toUpperCase()], out, generator: llm(server), concurrency: 3, onProgress: (p) => progress.push(p.done) });
    assert.deepEqual({ ...result, file: undefined }, { file: undefined, total: 8, existing: 0, generated: 8, remaining: 0, stoppedBy: 'done', otherSource: 0, skippedLines: 0, droppedBytes: 0 });
    assert.equal(server.requests.length, 8);
    assert.ok(server.maxInFlight() <= 3 && server.maxInFlight() >= 2, `max in flight ${server.maxInFlight()}`);
    assert.deepEqual(progress, [1, 2, 3, 4, 5, 6, 7, 8]);
    const lines = readLines(out);
    assert.deepEqual(lines.map((l) => l.prompt).sort(), [...PROMPTS].sort());
    for (const l of lines) {
      assert.equal(l.aux, answerFor(l.prompt));
      assert.equal(l.source, 'llm');
      assert.equal(l.model, 'test-model');
    }
    // Every request: POST, the endpoint, JSON with the model, two messages and temperature 0.
    for (const r of server.requests) {
      assert.equal(r.method, 'POST');
      assert.equal(r.url, '/v1/chat/completions');
      assert.equal(r.json!.model, 'test-model');
      assert.equal(r.json!.temperature, 0);
      assert.deepEqual(r.json!.messages!.map((m) => m.role), ['system', 'user']);
    }
    // The CT prompts are asked about CT, the lung prompts about chest X-rays.
    const spleen = server.requests.find((r) => r.prompt === 'spleen in an abdominal CT slice.')!;
    assert.match(spleen.json!.messages![1].content, /Imaging: CT\./);
    const lung = server.requests.find((r) => r.prompt === PROMPTS[0])!;
    assert.match(lung.json!.messages![1].content, /Imaging: chest X-ray\./);

    // A rerun has nothing to ask.
    const again = await generateAuxPrompts({ prompts: PROMPTS, out, generator: llm(server) });
    assert.equal(again.generated, 0);
    assert.equal(again.existing, 8);
    assert.equal(server.requests.length, 8);
  });

  it('survives 429, 500, timeouts, malformed and truncated answers without a corrupt line', async () => {
    const trouble: Action[] = [
      { kind: 'status', status: 429, headers: { 'retry-after': '0' } },
      { kind: 'status', status: 500 },
      { kind: 'ok', delayMs: 1000 },
      { kind: 'malformed' },
      { kind: 'truncated' },
      { kind: 'status', status: 502 },
    ];
    server = await startChatServer((_r, i) => trouble[i] ?? { kind: 'ok' });
    const out = join(tmp.dir, 'trouble.jsonl');
    const result = await generateAuxPrompts({ prompts: PROMPTS, out, generator: llm(server, { timeoutMs: 200, retries: trouble.length }), concurrency: 2 });
    assert.equal(result.generated, PROMPTS.length);
    assert.equal(server.requests.length, PROMPTS.length + trouble.length);
    const lines = readLines(out);
    assert.deepEqual(lines.map((l) => l.prompt).sort(), [...PROMPTS].sort());
    assert.ok(lines.every((l) => l.aux === answerFor(l.prompt)));
  });

  it('a run stopped after N new entries leaves a valid file; the rerun asks only for the rest', async () => {
    server = await startChatServer();
    const out = join(tmp.dir, 'limit.jsonl');
    const first = await generateAuxPrompts({ prompts: PROMPTS, out, generator: llm(server), concurrency: 2, maxNew: 3 });
    assert.equal(first.stoppedBy, 'limit');
    assert.equal(first.generated, 3);
    assert.equal(first.remaining, 5);
    const written = readLines(out).map((l) => l.prompt);
    assert.equal(written.length, 3);

    const asked = server.requests.length;
    const second = await generateAuxPrompts({ prompts: PROMPTS, out, generator: llm(server), concurrency: 2 });
    assert.equal(second.existing, 3);
    assert.equal(second.generated, 5);
    const rerunAsked = server.requests.slice(asked).map((r) => r.prompt);
    assert.deepEqual(rerunAsked.sort(), PROMPTS.filter((p) => !written.includes(p)).sort());
    assert.deepEqual(readLines(out).map((l) => l.prompt).sort(), [...PROMPTS].sort());
  });

  it('a run aborted midway (Ctrl-C) keeps what was written; the rerun asks only for the rest', async () => {
    server = await startChatServer((_r, i) => ({ kind: 'ok', delayMs: i < 2 ? 10 : i < 4 ? 300 : 0 }));
    const out = join(tmp.dir, 'abort.jsonl');
    const controller = new AbortController();
    const first = await generateAuxPrompts({
      prompts: PROMPTS,
      out,
      generator: llm(server),
      concurrency: 2,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.generated === 2) controller.abort(new Error('interrupted'));
      },
    });
    assert.equal(first.stoppedBy, 'abort');
    assert.equal(first.generated, 2);
    const written = readLines(out).map((l) => l.prompt);
    assert.equal(written.length, 2);

    const asked = server.requests.length;
    await generateAuxPrompts({ prompts: PROMPTS, out, generator: llm(server), concurrency: 2 });
    assert.deepEqual(server.requests.slice(asked).map((r) => r.prompt).sort(), PROMPTS.filter((p) => !written.includes(p)).sort());
    assert.deepEqual(readLines(out).map((l) => l.prompt).sort(), [...PROMPTS].sort());
  });

  it('a process killed mid-run (SIGKILL) leaves a valid file; the rerun asks only for the rest', async () => {
    server = await startChatServer(() => ({ kind: 'ok', delayMs: 100 }));
    const out = join(tmp.dir, 'killed.jsonl');
    const script = `
      import { generateAuxPrompts, llmGenerator } from ${JSON.stringify(new URL('./collect.js', import.meta.url).href)};
      import { ChatClient } from ${JSON.stringify(new URL('./llm_client.js', import.meta.url).href)};
      const generator = llmGenerator(new ChatClient({ baseUrl: process.env.URL, model: 'test-model' }));
      await generateAuxPrompts({ prompts: JSON.parse(process.env.PROMPTS), out: process.env.OUT, generator, concurrency: 1 });
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, URL: server.url, OUT: out, PROMPTS: JSON.stringify(PROMPTS) }, stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const deadline = Date.now() + 10_000;
    const lineCount = () => {
      try {
        return readFileSync(out, 'utf8').split('\n').length - 1;
      } catch {
        return 0;
      }
    };
    while (lineCount() < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    const written = readLines(out).map((l) => l.prompt);
    assert.ok(written.length >= 3 && written.length < PROMPTS.length, `${written.length} lines before the kill`);

    const asked = server.requests.length;
    await generateAuxPrompts({ prompts: PROMPTS, out, generator: llm(server), concurrency: 2 });
    assert.deepEqual(server.requests.slice(asked).map((r) => r.prompt).sort(), PROMPTS.filter((p) => !written.includes(p)).sort());
    assert.deepEqual(readLines(out).map((l) => l.prompt).sort(), [...PROMPTS].sort());
  });

  it('cuts a partial last line left by a killed writer before appending', async () => {
    server = await startChatServer();
    const out = join(tmp.dir, 'partial.jsonl');
    const good = formatAuxLine({ prompt: PROMPTS[0], aux: 'kept.', source: 'llm', model: 'test-model' });
    writeFileSync(out, `${good}{"prompt": "${PROMPTS[1]}", "aux": "half a li`);
    const result = await generateAuxPrompts({ prompts: PROMPTS, out, generator: llm(server) });
    assert.ok(result.droppedBytes > 0);
    assert.equal(result.skippedLines, 1);
    assert.equal(result.existing, 1);
    assert.equal(result.generated, PROMPTS.length - 1);
    assert.ok(!server.requests.some((r) => r.prompt === PROMPTS[0]));
    const lines = readLines(out);
    assert.equal(lines.length, PROMPTS.length);
    assert.equal(lines[0].aux, 'kept.');
  });

  it('stops on 401 with a clear error; the file keeps the entries written before', async () => {
    server = await startChatServer((_r, i) => (i < 2 ? { kind: 'ok' } : { kind: 'status', status: 401, body: '{"error":{"message":"invalid key"}}' }));
    const out = join(tmp.dir, 'unauthorised.jsonl');
    await assert.rejects(generateAuxPrompts({ prompts: PROMPTS, out, generator: llm(server, { apiKey: 'k', apiKeySource: '$MY_KEY' }), concurrency: 1 }), (err: GenerateError) => {
      assert.ok(err instanceof GenerateError);
      assert.match(err.message, /401 .*invalid key.*\$MY_KEY/);
      assert.match(err.message, /2 of 8 prompts have an entry .*rerun to continue with the other 6/);
      assert.equal(err.result.generated, 2);
      return true;
    });
    assert.equal(server.requests.length, 3, 'no request after the 401');
    assert.equal(readLines(out).length, 2);
  });
});

describe('tgcnet prompts (promptsCommand)', () => {
  const tmp = tempDir('aux-cli');
  const data = join(tmp.dir, 'ds');
  let server: ChatServer;
  before(async () => {
    // A manifest dataset: 12 cases, 4 distinct prompts (two spellings of one of them).
    const texts = [PROMPTS[0], PROMPTS[0], PROMPTS[0].toUpperCase().replace(/\.$/, ''), PROMPTS[2], PROMPTS[2], PROMPTS[6], PROMPTS[6], PROMPTS[6], 'polyp in a colonoscopy frame.', PROMPTS[0], PROMPTS[2], PROMPTS[6]];
    const rows = texts.map((text, i) => {
      writeText(join(data, `img/${i}.png`), '');
      writeText(join(data, `mask/${i}.png`), '');
      return JSON.stringify({ image: `img/${i}.png`, mask: `mask/${i}.png`, text, split: i < 9 ? 'train' : 'val' });
    });
    writeText(join(data, 'manifest.jsonl'), `${rows.join('\n')}\n`);
    server = await startChatServer();
  });
  after(async () => {
    await server.close();
    tmp.cleanup();
  });

  it('offline: writes <data>/aux_prompts.jsonl that training then finds and attaches', async () => {
    const stdout = sink();
    const stderr = sink();
    const summary = await promptsCommand({ data }, { stdout, stderr, handleSignals: false });
    assert.equal(summary.total, 4);
    assert.equal(summary.generated, 4);
    assert.equal(summary.source, 'offline');
    assert.deepEqual(summary.generic, ['polyp in a colonoscopy frame.']);
    assert.match(stdout.text(), new RegExp(`aux_prompts\\.jsonl: 4 of 4 unique prompts \\(4 new, 0 already there; offline ${EXPANDER_VERSION}\\), all prompts covered`));
    assert.match(stderr.text(), /glossary knows nothing of 1 prompt/);
    const lines = readLines(join(data, 'aux_prompts.jsonl'));
    assert.ok(lines.every((l) => l.source === 'offline' && l.model === EXPANDER_VERSION));

    const dataset = await openDataset(data);
    const warnings: string[] = [];
    const attached = AuxPrompts.open(undefined, data, (m) => warnings.push(m)).attach(dataset.cases);
    assert.equal(attached.attached, 12);
    assert.equal(attached.missing, 0);
    assert.deepEqual(warnings, []);
    assert.ok(dataset.cases.every((c) => c.aux !== null && c.aux.length > 20));
  });

  it('with --llm-url: sends the key from --api-key-env, asks only for what --out lacks, and notes other sources', async () => {
    const out = join(tmp.dir, 'llm.jsonl');
    writeFileSync(out, formatAuxLine({ prompt: PROMPTS[6], aux: 'from before.', source: 'offline', model: EXPANDER_VERSION }));
    process.env.TGCNET_TEST_KEY = 'sk-from-env';
    const stdout = sink();
    const stderr = sink();
    try {
      const summary = await promptsCommand(
        { data, out, llmUrl: server.url, model: 'test-model', apiKeyEnv: 'TGCNET_TEST_KEY', concurrency: 2, json: true },
        { stdout, stderr, handleSignals: false },
      );
      assert.equal(summary.generated, 3);
      assert.equal(summary.existing, 1);
      assert.equal(summary.otherSource, 1);
      assert.equal(JSON.parse(stdout.text()).generated, 3);
    } finally {
      delete process.env.TGCNET_TEST_KEY;
    }
    assert.equal(server.requests.length, 3);
    assert.ok(server.requests.every((r) => r.headers.authorization === 'Bearer sk-from-env'));
    assert.ok(!server.requests.some((r) => r.prompt === PROMPTS[6]));
    assert.match(stderr.text(), /1 entry of .* come from another source or model/);
    assert.doesNotMatch(stderr.text() + stdout.text(), /sk-from-env/);
  });

  it('--template replaces the messages', async () => {
    const template = join(tmp.dir, 'template.txt');
    writeFileSync(template, 'Be brief.\n---\nPROMPT=<<{prompt}>> on {modality}\n');
    const before = server.requests.length;
    await promptsCommand({ data, out: join(tmp.dir, 'templated.jsonl'), llmUrl: `${server.url}/v1`, model: 'm', template }, { stdout: sink(), stderr: sink(), handleSignals: false });
    const sent = server.requests.slice(before);
    assert.equal(sent.length, 4);
    const spleen = sent.find((r) => r.prompt === PROMPTS[6])!;
    assert.deepEqual(spleen.json!.messages, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: `PROMPT=<<${PROMPTS[6]}>> on CT` },
    ]);
  });

  it('refuses option mixes that cannot work, before any request', async () => {
    const io = { stdout: sink(), stderr: sink(), handleSignals: false };
    await assert.rejects(promptsCommand({ data, model: 'm' }, io), /--model applies to an LLM server: add --llm-url/);
    await assert.rejects(promptsCommand({ data, llmUrl: server.url }, io), /--llm-url needs --model/);
    await assert.rejects(promptsCommand({ data, llmUrl: server.url, model: 'm', apiKeyEnv: 'TGCNET_NO_SUCH_VAR' }, io), /TGCNET_NO_SUCH_VAR is not set/);
    await assert.rejects(promptsCommand({ data, modality: 'pet' }, io), /unknown modality "pet"/);
  });
});
