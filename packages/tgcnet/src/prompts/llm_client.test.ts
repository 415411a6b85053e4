import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ChatClient, LlmError, chatCompletionsUrl, cleanCompletion, parseRetryAfter } from './llm_client.js';
import { DEFAULT_TEMPLATE, parseTemplate, renderTemplate } from './template.js';
import { type Action, type ChatServer, answerFor, startChatServer } from './testing.js';

const PROMPT = 'bilateral pulmonary infection, two infected areas, lower left lung and lower right lung.';

/** A client with fast backoff for the tests. */
function client(server: ChatServer, extra: Partial<ConstructorParameters<typeof ChatClient>[0]> = {}): ChatClient {
  return new ChatClient({ baseUrl: server.url, model: 'test-model', apiKey: 'sk-test-123', apiKeySource: '$TEST_KEY', timeoutMs: 2000, retries: 3, baseDelayMs: 5, maxDelayMs: 20, ...extra });
}

function messages() {
  return renderTemplate(DEFAULT_TEMPLATE, PROMPT, 'xray');
}

/** A server whose first requests follow `script`, the rest answer well. */
async function scripted(script: Action[]): Promise<ChatServer> {
  return startChatServer((_req, i) => script[i] ?? { kind: 'ok' });
}

describe('chatCompletionsUrl', () => {
  it('adds /v1/chat/completions to a bare base and /chat/completions to a versioned one', () => {
    assert.equal(chatCompletionsUrl('http://localhost:8080'), 'http://localhost:8080/v1/chat/completions');
    assert.equal(chatCompletionsUrl('http://localhost:11434/'), 'http://localhost:11434/v1/chat/completions');
    assert.equal(chatCompletionsUrl('http://localhost:8000/v1'), 'http://localhost:8000/v1/chat/completions');
    assert.equal(chatCompletionsUrl('https://api.openai.com/v1/'), 'https://api.openai.com/v1/chat/completions');
    assert.equal(chatCompletionsUrl('https://openrouter.ai/api/v1'), 'https://openrouter.ai/api/v1/chat/completions');
    assert.equal(chatCompletionsUrl('https://generativelanguage.googleapis.com/v1beta/openai/'), 'https://generativelanguage.googleapis.com/v1beta/openai/chat/completions');
    assert.equal(chatCompletionsUrl('http://gpu-box/llm'), 'http://gpu-box/llm/v1/chat/completions');
  });
  it('keeps a full endpoint and refuses what is not an http URL', () => {
    assert.equal(chatCompletionsUrl('http://h:1/v1/chat/completions'), 'http://h:1/v1/chat/completions');
    assert.equal(chatCompletionsUrl('http://h:1/custom/chat/completions/'), 'http://h:1/custom/chat/completions');
    assert.throws(() => chatCompletionsUrl('localhost:8080'), /not (a|an http\(s\)) URL/);
    assert.throws(() => chatCompletionsUrl('not a url'), /not a URL/);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    assert.equal(parseRetryAfter('2'), 2000);
    assert.equal(parseRetryAfter(' 0.5 '), 500);
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:03 GMT', now), 3000);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now), 0);
    assert.equal(parseRetryAfter(null), null);
    assert.equal(parseRetryAfter('soon'), null);
  });
});

describe('cleanCompletion', () => {
  it('makes one paragraph of an answer', () => {
    assert.equal(cleanCompletion('<think>\nthe user wants...\n</think>\n\n**Description:** Hazy opacity\n in the  left lower zone.'), 'Hazy opacity in the left lower zone.');
    assert.equal(cleanCompletion('"Patchy consolidation."'), 'Patchy consolidation.');
    assert.equal(cleanCompletion('- First point.\n- Second point.'), 'First point. Second point.');
  });
});

describe('templates', () => {
  it('fills {prompt} and {modality}; a --- line splits system from user', () => {
    const t = parseTemplate('You are terse.\n---\nDescribe {prompt} on {modality}. Keep {braces}.');
    assert.deepEqual(renderTemplate(t, 'spleen $& slice', 'ct'), [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Describe spleen $& slice on CT. Keep {braces}.' },
    ]);
    assert.deepEqual(renderTemplate(parseTemplate('Only {prompt}'), 'x', null), [{ role: 'user', content: 'Only x' }]);
    assert.throws(() => parseTemplate('no placeholder here', 'my.txt'), /my\.txt: .*must contain \{prompt\}/);
  });
});

describe('ChatClient against a loopback server', () => {
  let server: ChatServer;
  before(async () => {
    server = await startChatServer();
  });
  after(() => server.close());

  it('sends exactly one POST to /v1/chat/completions with the bearer key, model, messages and temperature 0', async () => {
    const result = await client(server).complete(messages());
    assert.equal(result.content, answerFor(PROMPT));
    assert.equal(result.model, 'test-model');
    assert.equal(server.requests.length, 1);
    const req = server.requests[0];
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/v1/chat/completions');
    assert.equal(req.headers.authorization, 'Bearer sk-test-123');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers.accept, 'application/json');
    assert.deepEqual(req.json, {
      model: 'test-model',
      messages: [
        { role: 'system', content: DEFAULT_TEMPLATE.system },
        { role: 'user', content: DEFAULT_TEMPLATE.user.replaceAll('{prompt}', PROMPT).replaceAll('{modality}', 'chest X-ray') },
      ],
      temperature: 0,
      stream: false,
    });
    assert.match(req.json!.messages![1].content, /2-3 sentences/);
  });

  it('sends no Authorization header without a key, and uses a versioned base as given', async () => {
    const before = server.requests.length;
    await new ChatClient({ baseUrl: `${server.url}/v1`, model: 'm' }).complete(messages());
    const req = server.requests[before];
    assert.equal(req.url, '/v1/chat/completions');
    assert.equal(req.headers.authorization, undefined);
  });
});

describe('ChatClient retries', () => {
  it('retries 500, malformed JSON and a truncated body, then succeeds', async () => {
    const server = await scripted([{ kind: 'status', status: 500 }, { kind: 'malformed' }, { kind: 'truncated' }]);
    try {
      const retries: string[] = [];
      const result = await client(server, { onRetry: (r) => retries.push(r.reason) }).complete(messages());
      assert.equal(result.content, answerFor(PROMPT));
      assert.equal(server.requests.length, 4);
      assert.equal(retries.length, 3);
      assert.match(retries[0], /500/);
      assert.match(retries[1], /not valid JSON/);
      assert.match(retries[2], /terminated|closed|socket|aborted/i);
      // Every try sends the same request.
      assert.ok(server.requests.every((r) => r.body === server.requests[0].body));
    } finally {
      await server.close();
    }
  });

  it('waits as long as Retry-After says after a 429', async () => {
    const server = await scripted([{ kind: 'status', status: 429, headers: { 'retry-after': '1' }, body: '{"error":{"message":"slow down"}}' }]);
    try {
      const waits: number[] = [];
      const t0 = performance.now();
      await client(server, { onRetry: (r) => waits.push(r.delayMs) }).complete(messages());
      const elapsed = performance.now() - t0;
      assert.deepEqual(waits, [1000]);
      assert.ok(elapsed >= 950, `waited only ${elapsed.toFixed(0)} ms`);
      assert.equal(server.requests.length, 2);
    } finally {
      await server.close();
    }
  });

  it('gives up on an answer slower than the timeout, and retries it', async () => {
    const server = await scripted([{ kind: 'ok', delayMs: 1500 }]);
    try {
      const reasons: string[] = [];
      const t0 = performance.now();
      const result = await client(server, { timeoutMs: 150, onRetry: (r) => reasons.push(r.reason) }).complete(messages());
      assert.equal(result.content, answerFor(PROMPT));
      assert.ok(performance.now() - t0 < 1400, 'did not wait for the slow answer');
      assert.match(reasons[0], /no complete answer within 0\.1 s/);
      assert.equal(server.requests.length, 2);
    } finally {
      await server.close();
    }
  });

  it('stops after the last retry with the last reason', async () => {
    const server = await startChatServer(() => ({ kind: 'status', status: 503 }));
    try {
      await assert.rejects(client(server, { retries: 2 }).complete(messages()), (err: LlmError) => {
        assert.ok(err instanceof LlmError);
        assert.equal(err.status, 503);
        assert.match(err.message, /503 .*gave up after 3 tries/);
        return true;
      });
      assert.equal(server.requests.length, 3);
    } finally {
      await server.close();
    }
  });

  it('fails at once on 401 naming the key variable, never retrying nor printing the key', async () => {
    const server = await scripted([{ kind: 'status', status: 401, body: '{"error":{"message":"Incorrect API key provided"}}' }]);
    try {
      await assert.rejects(client(server).complete(messages()), (err: LlmError) => {
        assert.equal(err.status, 401);
        assert.equal(err.retryable, false);
        assert.match(err.message, /401 .*Incorrect API key provided.*check the API key in \$TEST_KEY/);
        assert.doesNotMatch(err.message, /sk-test-123/);
        return true;
      });
      assert.equal(server.requests.length, 1);
    } finally {
      await server.close();
    }
  });

  it('fails at once on 404 naming the URL and the model', async () => {
    const server = await scripted([{ kind: 'status', status: 404, body: '{"error":"model \\"test-model\\" not found, try pulling it first"}' }]);
    try {
      await assert.rejects(client(server).complete(messages()), (err: LlmError) => {
        assert.match(err.message, new RegExp(`${server.url}/v1/chat/completions: 404 .*not found, try pulling it.*check --llm-url and --model`));
        return true;
      });
      assert.equal(server.requests.length, 1);
    } finally {
      await server.close();
    }
  });

  it('does not retry a 429 that says the quota is used up', async () => {
    const server = await scripted([{ kind: 'status', status: 429, body: '{"error":{"message":"You exceeded your current quota","code":"insufficient_quota"}}' }]);
    try {
      await assert.rejects(client(server).complete(messages()), /quota is used up/);
      assert.equal(server.requests.length, 1);
    } finally {
      await server.close();
    }
  });

  it('stops waiting when its signal aborts', async () => {
    const server = await startChatServer(() => ({ kind: 'hang' }));
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error('stop now')), 100);
      await assert.rejects(client(server, { timeoutMs: 10_000 }).complete(messages(), controller.signal), /stop now/);
    } finally {
      await server.close();
    }
  });
});
