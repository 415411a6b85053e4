// A client for the OpenAI chat completions protocol, the one llama.cpp's server, Ollama,
// vLLM and hosted endpoints all speak: POST <endpoint> with {model, messages, temperature},
// answer {choices: [{message: {content}}]}. Node's fetch; no dependency.
//
// Endpoint from a base URL (chatCompletionsUrl):
//   - a URL ending in /chat/completions is used as it is;
//   - a base whose path has a version segment (/v1, /v1beta, /api/v2, ...) gets /chat/completions;
//   - any other base gets /v1/chat/completions (http://localhost:8080 for llama.cpp,
//     http://localhost:11434 for Ollama, http://localhost:8000 for vLLM all serve it there).
//
// Failures: 408, 409, 425, 429 and 5xx, a timeout, a dropped connection, a truncated or
// malformed body are retried with exponential backoff (base * 2^attempt, +-25% jitter, capped),
// or after exactly the server's Retry-After (seconds or an HTTP date; also retry-after-ms)
// when it sends one. Any other 4xx fails at once with the server's message: 401/403 name the
// API key, 404 the URL and the model. A 429 saying the quota is used up is not retried.
import type { ChatMessage } from './template.js';

export interface ChatClientOptions {
  /** Base URL or full endpoint (see the header). */
  baseUrl: string;
  /** The model name the server knows (llama.cpp accepts any). */
  model: string;
  /** Sent as `Authorization: Bearer <key>`; none when absent. Never printed. */
  apiKey?: string;
  /** Where the key came from, for error messages ("$OPENAI_API_KEY"). */
  apiKeySource?: string;
  /** Per request, body included (default 60 s). */
  timeoutMs?: number;
  /** Retries after the first try (default 5). */
  retries?: number;
  /** First backoff delay (default 1 s); doubled per retry. */
  baseDelayMs?: number;
  /** Longest backoff delay (default 30 s). */
  maxDelayMs?: number;
  /** Longest Retry-After honoured (default 120 s); a longer one fails the request. */
  maxRetryAfterMs?: number;
  /** Told before each retry (for progress output). */
  onRetry?: (info: RetryInfo) => void;
}

export interface RetryInfo {
  /** 1 for the first retry. */
  attempt: number;
  delayMs: number;
  reason: string;
}

export interface ChatResult {
  /** The answer's text, as sent. */
  content: string;
  /** The model the server says answered, if it says. */
  model: string | null;
  finishReason: string | null;
}

/** A failed request. `retryable` is false for answers that a retry will not change. */
export class LlmError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status: number | null = null,
    /** The server's Retry-After, in milliseconds, when it sent one. */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = 'LlmError';
  }
}

const RETRYABLE_STATUS = new Set([408, 409, 425, 429]);
const DEFAULTS = { timeoutMs: 60_000, retries: 5, baseDelayMs: 1_000, maxDelayMs: 30_000, maxRetryAfterMs: 120_000 };

/** The chat completions endpoint for a base URL (see the header). */
export function chatCompletionsUrl(base: string): string {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new Error(`--llm-url: "${base}" is not a URL (expected e.g. http://localhost:8080 or https://api.openai.com/v1)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`--llm-url: "${base}" is not an http(s) URL`);
  const path = url.pathname.replace(/\/+$/, '');
  if (/\/chat\/completions$/.test(path)) url.pathname = path;
  else if (/(^|\/)v\d+[a-z0-9]*(\/|$)/i.test(path)) url.pathname = `${path}/chat/completions`;
  else url.pathname = `${path}/v1/chat/completions`;
  return url.toString();
}

/**
 * Milliseconds to wait from a Retry-After header: delta-seconds ("2", "1.5") or an HTTP date;
 * null when absent or unreadable. Negative waits are 0.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null) return null;
  const v = value.trim();
  if (v === '') return null;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const date = Date.parse(v);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}

function retryAfterOf(headers: Headers): number | null {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms));
  return parseRetryAfter(headers.get('retry-after'));
}

/** The server's own words from an error body: {error: {message}}, {error: "..."}, {message}, or the text. */
function serverMessage(body: string): string {
  try {
    const v = JSON.parse(body) as Record<string, unknown>;
    const e = v.error;
    if (typeof e === 'string') return e;
    if (e && typeof e === 'object' && typeof (e as Record<string, unknown>).message === 'string') return (e as Record<string, string>).message;
    if (typeof v.message === 'string') return v.message;
    if (typeof v.detail === 'string') return v.detail;
  } catch {
    // not JSON: the text itself
  }
  const text = body.replace(/\s+/g, ' ').trim();
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

function quotaExhausted(body: string): boolean {
  return /insufficient_quota|quota.{0,40}(exceeded|exhausted)|billing/i.test(body);
}

/** The reason a request's own timer aborts it with (told apart from the caller's abort). */
class Timeout extends Error {}

/** Waits `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

type Settings = ChatClientOptions & typeof DEFAULTS;

export class ChatClient {
  readonly url: string;
  private readonly o: Settings;

  constructor(options: ChatClientOptions) {
    if (!options.model) throw new Error('a model name is required (--model)');
    this.url = chatCompletionsUrl(options.baseUrl);
    this.o = {
      ...options,
      timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
      retries: options.retries ?? DEFAULTS.retries,
      baseDelayMs: options.baseDelayMs ?? DEFAULTS.baseDelayMs,
      maxDelayMs: options.maxDelayMs ?? DEFAULTS.maxDelayMs,
      maxRetryAfterMs: options.maxRetryAfterMs ?? DEFAULTS.maxRetryAfterMs,
    };
  }

  get model(): string {
    return this.o.model;
  }

  /** The JSON body of a request (temperature 0: the same prompt gets the same answer, where the server allows). */
  body(messages: ChatMessage[]): Record<string, unknown> {
    return { model: this.o.model, messages, temperature: 0, stream: false };
  }

  /** One completion, with retries. Rejects with an LlmError, or with the signal's reason when aborted. */
  async complete(messages: ChatMessage[], signal?: AbortSignal): Promise<ChatResult> {
    const body = JSON.stringify(this.body(messages));
    for (let attempt = 0; ; attempt++) {
      let failure: LlmError;
      let wait: number | null = null;
      try {
        return await this.once(body, signal);
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (!(err instanceof LlmError)) throw err;
        failure = err;
        wait = err.retryAfterMs;
      }
      if (!failure.retryable) throw failure;
      if (attempt >= this.o.retries) {
        throw new LlmError(`${failure.message} (gave up after ${attempt + 1} tries)`, false, failure.status);
      }
      if (wait !== null && wait > this.o.maxRetryAfterMs) {
        throw new LlmError(`${failure.message}; the server asks to wait ${(wait / 1000).toFixed(0)} s (Retry-After), longer than ${(this.o.maxRetryAfterMs / 1000).toFixed(0)} s: try again later`, false, failure.status);
      }
      const backoff = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** attempt) * (0.75 + Math.random() * 0.5);
      const delayMs = Math.round(wait ?? backoff);
      this.o.onRetry?.({ attempt: attempt + 1, delayMs, reason: failure.message });
      await sleep(delayMs, signal);
    }
  }

  private headers(): Record<string, string> {
    const h: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.o.apiKey) h.authorization = `Bearer ${this.o.apiKey}`;
    return h;
  }

  private async once(body: string, outer?: AbortSignal): Promise<ChatResult> {
    const controller = new AbortController();
    const timeout = new Timeout();
    const timer = setTimeout(() => controller.abort(timeout), this.o.timeoutMs);
    const onAbort = () => controller.abort(outer!.reason);
    outer?.addEventListener('abort', onAbort, { once: true });
    if (outer?.aborted) controller.abort(outer.reason);
    try {
      let res: Response;
      let text: string;
      try {
        res = await fetch(this.url, { method: 'POST', headers: this.headers(), body, signal: controller.signal });
        text = await res.text();
      } catch (err) {
        if (outer?.aborted) throw outer.reason;
        if (controller.signal.reason === timeout) throw new LlmError(`${this.url}: no complete answer within ${(this.o.timeoutMs / 1000).toFixed(1)} s`, true);
        const cause = (err as Error & { cause?: Error }).cause;
        const why = cause?.message ? `${(err as Error).message}: ${cause.message}` : (err as Error).message;
        throw new LlmError(`${this.url}: ${why}`, true);
      }
      if (!res.ok) throw this.statusError(res, text);
      return this.parse(text);
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
    }
  }

  private statusError(res: Response, text: string): LlmError {
    const said = serverMessage(text);
    const head = `${this.url}: ${res.status} ${res.statusText || 'error'}${said ? `: ${said}` : ''}`;
    const s = res.status;
    let err: LlmError;
    if (s === 401 || s === 403) {
      const key = this.o.apiKey
        ? `check the API key in ${this.o.apiKeySource ?? 'the key variable'}`
        : 'no API key was sent; name the environment variable that holds it with --api-key-env';
      err = new LlmError(`${head} (the server refused the request: ${key})`, false, s);
    } else if (s === 404) {
      err = new LlmError(
        `${head} (no chat completions endpoint at this URL, or no model "${this.o.model}" there: check --llm-url and --model; Ollama answers 404 for a model it has not pulled)`,
        false,
        s,
      );
    } else if (s === 429 && quotaExhausted(text)) {
      err = new LlmError(`${head} (the account's quota is used up; retrying will not help)`, false, s);
    } else if (RETRYABLE_STATUS.has(s) || s >= 500) {
      err = new LlmError(head, true, s, retryAfterOf(res.headers));
    } else {
      err = new LlmError(head, false, s);
    }
    return err;
  }

  private parse(text: string): ChatResult {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new LlmError(`${this.url}: the answer is not valid JSON (${(err as Error).message}; ${text.length} bytes)`, true);
    }
    const v = value as { choices?: { message?: { content?: unknown }; finish_reason?: unknown }[]; model?: unknown };
    const choice = Array.isArray(v?.choices) ? v.choices[0] : undefined;
    const content = choice?.message?.content;
    if (typeof content !== 'string' || content.trim() === '') {
      throw new LlmError(`${this.url}: the answer has no choices[0].message.content text`, true);
    }
    return {
      content,
      model: typeof v.model === 'string' ? v.model : null,
      finishReason: typeof choice?.finish_reason === 'string' ? choice.finish_reason : null,
    };
  }
}

/**
 * An answer as one paragraph: reasoning blocks (<think>...</think>) dropped, markdown
 * emphasis and list marks removed, a leading label ("Description:") and wrapping quotes
 * stripped, white space collapsed.
 */
export function cleanCompletion(text: string): string {
  let t = text.replace(/<think>[\s\S]*?<\/think>/gi, ' ').replace(/^[\s\S]*<\/think>/i, ' ');
  t = t
    .replace(/\*\*|__|`/g, '')
    .replace(/^\s*(?:[-*•]|\d+[.)])\s+/gm, '')
    .replace(/\s+/g, ' ')
    .trim();
  t = t.replace(/^(?:auxiliary description|description|answer|response)\s*:\s*/i, '');
  const quoted = /^["“'](.*)["”']$/.exec(t);
  if (quoted) t = quoted[1].trim();
  return t;
}
