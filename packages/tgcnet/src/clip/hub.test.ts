import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isHubId, resolveHubModel } from './hub.js';

const COMMIT = 'a'.repeat(40);
const CONFIG = Buffer.from('{"model_type": "clip"}\n');
const WEIGHTS = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7) % 251));
const sha1 = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A loopback imitation of the hub's resolve/ endpoint: small files served directly, large ones by redirect to a "CDN" that honours Range. */
function fakeHub(options: { token?: string; dropAfter?: number }) {
  const log: string[] = [];
  let drops = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url!, 'http://x');
    log.push(`${req.method} ${url.pathname}${req.headers.range ? ` ${req.headers.range}` : ''}`);
    if (url.pathname === '/cdn/weights') {
      const start = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
      const body = WEIGHTS.subarray(start);
      res.writeHead(start > 0 ? 206 : 200, { 'Content-Length': body.length });
      if (options.dropAfter && drops === 0) {
        // The first transfer breaks off part-way, as a dropped connection does.
        drops++;
        res.write(body.subarray(0, options.dropAfter), () => res.socket?.destroy());
        return;
      }
      res.end(body);
      return;
    }
    const m = /^\/org\/clip-test\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!m || !['main', COMMIT].includes(m[1])) {
      res.writeHead(404, { 'X-Error-Code': 'RevisionNotFound' }).end();
      return;
    }
    if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
      res.writeHead(401).end();
      return;
    }
    const file = decodeURIComponent(m[2]);
    if (file === 'config.json') {
      res.writeHead(200, { ETag: `"${sha1(CONFIG)}"`, 'X-Repo-Commit': COMMIT, 'Content-Length': CONFIG.length });
      res.end(req.method === 'HEAD' ? undefined : CONFIG);
    } else if (file === 'model.safetensors') {
      res.writeHead(302, { Location: '/cdn/weights', 'X-Linked-Etag': `"${sha256(WEIGHTS)}"`, 'X-Linked-Size': WEIGHTS.length, 'X-Repo-Commit': COMMIT });
      res.end();
    } else {
      res.writeHead(404, { 'X-Error-Code': 'EntryNotFound', 'X-Repo-Commit': COMMIT }).end();
    }
  });
  return { server, log };
}

async function listen(server: ReturnType<typeof createServer>): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function cacheDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tgcnet-hub-'));
  dirs.push(d);
  return d;
}

test('downloads into huggingface_hub\'s layout, resumes a dropped transfer with Range, and pins the commit', async () => {
  const { server, log } = fakeHub({ token: 'hf_secret', dropAfter: 70_000 });
  const endpoint = await listen(server);
  try {
    const cache = cacheDir();
    const progress: number[] = [];
    const snap = await resolveHubModel('org/clip-test', { endpoint, token: 'hf_secret', cacheDir: cache, offline: false, onProgress: (_, done) => progress.push(done) });
    assert.equal(snap.commit, COMMIT);
    assert.deepEqual(snap.downloaded, ['config.json', 'model.safetensors']);
    const repo = join(cache, 'models--org--clip-test');
    assert.equal(readFileSync(join(repo, 'refs', 'main'), 'utf8'), COMMIT);
    assert.equal(snap.dir, join(repo, 'snapshots', COMMIT));
    // Snapshot files are relative symlinks to blobs named by etag, as Python's huggingface_hub makes them.
    const link = join(snap.dir, 'model.safetensors');
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readlinkSync(link), join('..', '..', 'blobs', sha256(WEIGHTS)));
    assert.deepEqual(readFileSync(link), WEIGHTS);
    assert.deepEqual(readFileSync(join(snap.dir, 'config.json')), CONFIG);
    assert.ok(log.includes('GET /cdn/weights bytes=70000-'), `resumed with a Range request: ${log.join(' | ')}`);
    assert.equal(progress[progress.length - 1], WEIGHTS.length);
    assert.ok(!existsSync(join(repo, 'blobs', `${sha256(WEIGHTS)}.incomplete`)));

    // A second call finds everything in the cache; offline mode never asks the server.
    assert.deepEqual((await resolveHubModel('org/clip-test', { endpoint, token: 'hf_secret', cacheDir: cache, offline: false })).downloaded, []);
    const before = log.length;
    assert.equal((await resolveHubModel('org/clip-test', { endpoint, cacheDir: cache, offline: true })).dir, snap.dir);
    assert.equal(log.length, before);
  } finally {
    server.close();
  }
});

test('a private repository without a token, an unknown one, and an empty offline cache are refused with the fix', async () => {
  const { server } = fakeHub({ token: 'hf_secret' });
  const endpoint = await listen(server);
  try {
    await assert.rejects(resolveHubModel('org/clip-test', { endpoint, cacheDir: cacheDir(), offline: false, token: '' }), /401.*set HF_TOKEN/);
    await assert.rejects(resolveHubModel('org/nothing', { endpoint, token: 'hf_secret', cacheDir: cacheDir(), offline: false }), /has no config\.json/);
    await assert.rejects(resolveHubModel('org/clip-test', { cacheDir: cacheDir(), offline: true }), /not in the Hugging Face cache .* HF_HUB_OFFLINE/);
    assert.equal(isHubId('openai/clip-vit-base-patch16'), true);
    assert.equal(isHubId('./runs/x'), false);
  } finally {
    server.close();
  }
});

test('--clip org/name: a CLIP served by a hub loads from the cache snapshot, through HF_ENDPOINT and HF_HUB_CACHE', async (t) => {
  const { defaultBpePath } = await import('../paths.js');
  if (defaultBpePath() === null) {
    t.skip('needs ../shared/clip (CLIP BPE vocabulary)');
    return;
  }
  const { readdirSync } = await import('node:fs');
  const { writeRandomClip } = await import('./init.js');
  const { loadClipText } = await import('./checkpoint.js');
  const { resolveClipArg } = await import('./hub.js');
  const folder = cacheDir();
  writeRandomClip(folder, { preset: 'tiny', seed: 2, bpePath: defaultBpePath() });
  const files = new Map(readdirSync(folder).map((f) => [f, readFileSync(join(folder, f))]));
  const server = createServer((req, res) => {
    const m = /^\/org\/tiny-clip\/resolve\/[^/]+\/(.+)$/.exec(req.url ?? '');
    const body = m ? files.get(decodeURIComponent(m[1])) : undefined;
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    const big = m![1].endsWith('.safetensors');
    res.writeHead(200, { ETag: `"${big ? sha256(body) : sha1(body)}"`, 'X-Repo-Commit': COMMIT, 'Content-Length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  const endpoint = await listen(server);
  const saved = { endpoint: process.env.HF_ENDPOINT, cache: process.env.HF_HUB_CACHE };
  process.env.HF_ENDPOINT = endpoint;
  process.env.HF_HUB_CACHE = cacheDir();
  try {
    const lines: string[] = [];
    const r = await resolveClipArg('org/tiny-clip@main', (l) => lines.push(l));
    assert.deepEqual(r.hub, { repo: 'org/tiny-clip', commit: COMMIT });
    const text = loadClipText(r.path);
    assert.equal(text.config.text_config.hidden_size, 32);
    text.model.dispose();
    assert.match(lines.join('\n'), /downloaded config\.json, model\.safetensors/);
    assert.deepEqual(await resolveClipArg('./not/a-hub-name'), { path: './not/a-hub-name', hub: null });
  } finally {
    server.close();
    if (saved.endpoint === undefined) delete process.env.HF_ENDPOINT;
    else process.env.HF_ENDPOINT = saved.endpoint;
    if (saved.cache === undefined) delete process.env.HF_HUB_CACHE;
    else process.env.HF_HUB_CACHE = saved.cache;
  }
});
