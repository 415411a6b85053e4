// A chat-completions server on loopback for the tests: node:http on port 0, recording every
// request and answering as the test says (a good answer, a status with headers, a slow
// answer, malformed JSON, a body cut off mid-way, or no answer at all).
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The body parsed, or undefined when it is not JSON. */
  json: { model?: string; messages?: { role: string; content: string }[]; temperature?: number; [k: string]: unknown } | undefined;
  /** The clinical prompt of the user message (default template), or null. */
  prompt: string | null;
}

export type Action =
  | { kind: 'ok'; content?: string; delayMs?: number }
  | { kind: 'status'; status: number; body?: string; headers?: Record<string, string> }
  | { kind: 'malformed' }
  | { kind: 'truncated' }
  | { kind: 'hang' };

export interface ChatServer {
  /** http://127.0.0.1:<port> */
  url: string;
  requests: RecordedRequest[];
  /** Most requests answered at once. */
  maxInFlight(): number;
  close(): Promise<void>;
}

/** The answer a good response carries for a prompt. */
export function answerFor(prompt: string | null): string {
  return `Auxiliary description of ${prompt ?? 'an unknown prompt'}.`;
}

function promptOf(json: RecordedRequest['json']): string | null {
  const user = json?.messages?.find((m) => m.role === 'user')?.content ?? '';
  const m = /Clinical prompt: "([^"]*)"/.exec(user) ?? /PROMPT=<<([^>]*)>>/.exec(user);
  return m ? m[1] : null;
}

/**
 * Starts the server. `plan(request, index)` picks the action for each request (index counts
 * from 0 in arrival order); without a plan every request gets a good answer.
 */
export async function startChatServer(plan: (req: RecordedRequest, index: number) => Action = () => ({ kind: 'ok' })): Promise<ChatServer> {
  const requests: RecordedRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, f: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      f();
    }, ms);
    timers.add(t);
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: RecordedRequest['json'];
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const recorded: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, json, prompt: promptOf(json) };
      const index = requests.length;
      requests.push(recorded);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      res.on('close', () => inFlight--);
      const action = plan(recorded, index);
      switch (action.kind) {
        case 'ok': {
          const send = () => {
            const payload = JSON.stringify({
              id: `chatcmpl-${index}`,
              object: 'chat.completion',
              model: json?.model ?? 'unknown',
              choices: [{ index: 0, message: { role: 'assistant', content: action.content ?? answerFor(recorded.prompt) }, finish_reason: 'stop' }],
            });
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(payload);
          };
          if (action.delayMs) later(action.delayMs, send);
          else send();
          break;
        }
        case 'status':
          res.writeHead(action.status, { 'content-type': 'application/json', ...action.headers });
          res.end(action.body ?? JSON.stringify({ error: { message: `status ${action.status} from the test server` } }));
          break;
        case 'malformed':
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"choices": [{"message": {"content": "half');
          break;
        case 'truncated':
          // Promises 400 bytes, sends 30, then drops the connection.
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': '400' });
          res.write('{"choices":[{"message":{"conte');
          later(20, () => res.socket?.destroy());
          break;
        case 'hang':
          break;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    maxInFlight: () => maxInFlight,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
