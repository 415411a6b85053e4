// Pretrained CLIP by name, as Hugging Face users expect: `--clip openai/clip-vit-base-patch16`
// resolves through the Hugging Face hub cache ($HF_HUB_CACHE, else $HF_HOME/hub, else
// ~/.cache/huggingface/hub) in huggingface_hub's own layout, so a cache Python filled is used
// here and ours is used by Python:
//   models--<org>--<name>/blobs/<etag>                 the file, named by its hub etag
//   models--<org>--<name>/refs/<revision>              the commit a branch or tag pointed at
//   models--<org>--<name>/snapshots/<commit>/<file>    a relative symlink to ../../blobs/<etag>
// Missing files are downloaded from $HF_ENDPOINT (https://huggingface.co) with $HF_TOKEN,
// resumed with a Range request after a dropped connection, and checked against the hub's etag
// (sha256 for large files, the git blob sha1 for small ones). $HF_HUB_OFFLINE=1 never touches
// the network. The commit is returned, so a run pins the exact revision it used.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { makeDir } from '../fs/make_dir.js';
import { readJsonFile } from '../fs/read_json.js';

export interface HubOptions {
  /** Branch, tag or commit (default "main"). */
  revision?: string;
  /** Default: $HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Default: $HF_TOKEN. */
  token?: string;
  /** Default: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
  cacheDir?: string;
  /** Default: $HF_HUB_OFFLINE is 1/true/yes. */
  offline?: boolean;
  /** Attempts per file when a download breaks off (each resumes where the last stopped). */
  retries?: number;
  /** Progress of a download: file, bytes so far, total (null when unknown). */
  onProgress?: (file: string, done: number, total: number | null) => void;
}

export interface HubSnapshot {
  repo: string;
  /** The commit the revision resolved to. */
  commit: string;
  /** The snapshot folder: a CLIP checkpoint folder for loadClip. */
  dir: string;
  /** Files downloaded by this call (the rest came from the cache). */
  downloaded: string[];
}

/** Files of a CLIP checkpoint: all required, one of the weight forms, tokenizer and preprocessor optional. */
export const CLIP_HUB_FILES = {
  required: ['config.json'],
  weights: ['model.safetensors', 'model.safetensors.index.json'],
  optional: ['preprocessor_config.json', 'vocab.json', 'merges.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'],
};

/** "org/name" that is not a path on this machine. */
export function isHubId(value: string): boolean {
  return /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(value) && !existsSync(value);
}

export function hubCacheDir(): string {
  if (process.env.HF_HUB_CACHE) return process.env.HF_HUB_CACHE;
  if (process.env.HF_HOME) return join(process.env.HF_HOME, 'hub');
  return join(homedir(), '.cache', 'huggingface', 'hub');
}

function isOfflineEnv(): boolean {
  return /^(1|true|yes|on)$/i.test(process.env.HF_HUB_OFFLINE ?? '');
}

function repoFolder(cacheDir: string, repo: string): string {
  return join(cacheDir, `models--${repo.replace(/\//g, '--')}`);
}

/** An etag as the cache names blobs: no weak prefix, no quotes. */
function normaliseEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/"/g, '');
}

interface FileMeta {
  etag: string;
  commit: string;
  size: number | null;
  /** Where the bytes are (the CDN for large files), relative URLs resolved. */
  location: string;
}

class HubError extends Error {}

async function headFile(url: string, headers: Record<string, string>, file: string): Promise<FileMeta | null> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'HEAD', headers: { ...headers, 'Accept-Encoding': 'identity' }, redirect: 'manual' });
  } catch (err) {
    throw new HubError(`cannot reach ${new URL(url).origin} for ${file} (${(err as Error).message}): check the network, or set HF_HUB_OFFLINE=1 to use the cache only`);
  }
  if (res.status === 404) return null;
  if (res.status === 401 || res.status === 403) {
    throw new HubError(`${url}: ${res.status} (the repository is private or gated): set HF_TOKEN to a token that may read it`);
  }
  if (res.status >= 400) throw new HubError(`${url}: HTTP ${res.status}`);
  const etag = res.headers.get('x-linked-etag') ?? res.headers.get('etag');
  const commit = res.headers.get('x-repo-commit');
  if (!etag || !commit) throw new HubError(`${url}: the server sent no ETag or X-Repo-Commit; is ${new URL(url).origin} a Hugging Face hub?`);
  const size = Number(res.headers.get('x-linked-size') ?? res.headers.get('content-length') ?? Number.NaN);
  const location = res.status >= 300 && res.headers.get('location') ? new URL(res.headers.get('location')!, url).href : url;
  return { etag: normaliseEtag(etag), commit, size: Number.isFinite(size) ? size : null, location };
}

/** sha256 of the file (large files' etag), or the git blob sha1 (small files' etag). */
function checksum(path: string, etag: string): boolean {
  const data = readFileSync(path);
  if (etag.length === 64) return createHash('sha256').update(data).digest('hex') === etag;
  if (etag.length === 40) return createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex') === etag;
  return true; // an etag we cannot interpret: size was checked
}

interface Auth {
  endpoint: string;
  token: string | undefined;
}

async function download(meta: FileMeta, auth: Auth, blob: string, file: string, options: HubOptions): Promise<void> {
  const partial = `${blob}.incomplete`;
  const attempts = (options.retries ?? 5) + 1;
  let lastError: unknown = null;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const have = existsSync(partial) ? statSync(partial).size : 0;
    if (meta.size !== null && have === meta.size) break;
    // A redirect's location is signed: the token goes to the hub itself only.
    const toHub = new URL(meta.location).origin === new URL(auth.endpoint).origin;
    const h: Record<string, string> = { 'Accept-Encoding': 'identity', ...(toHub && auth.token ? { Authorization: `Bearer ${auth.token}` } : {}) };
    if (have > 0) h.Range = `bytes=${have}-`;
    const fd = openSync(partial, have > 0 ? 'a' : 'w');
    let done = have;
    try {
      const res = await fetch(meta.location, { headers: h });
      if (res.status === 416) break; // nothing left to send
      if (!(res.status === 200 || res.status === 206)) throw new HubError(`${meta.location}: HTTP ${res.status}`);
      if (have > 0 && res.status === 200) {
        // The server ignored the range: start over.
        closeSync(fd);
        rmSync(partial);
        continue;
      }
      if (!res.body) throw new HubError(`${meta.location}: empty response`);
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        writeSync(fd, chunk);
        done += chunk.length;
        options.onProgress?.(file, done, meta.size);
      }
      lastError = null;
    } catch (err) {
      lastError = err;
    } finally {
      try {
        closeSync(fd);
      } catch {
        // closed above
      }
    }
    if (lastError === null && (meta.size === null || statSync(partial).size === meta.size)) break;
  }
  const size = existsSync(partial) ? statSync(partial).size : 0;
  if (meta.size !== null && size !== meta.size) {
    throw new HubError(`${file}: downloaded ${size} of ${meta.size} bytes after ${attempts} attempts (${lastError instanceof Error ? lastError.message : 'connection closed'}); run again to resume`);
  }
  if (!checksum(partial, meta.etag)) {
    rmSync(partial);
    throw new HubError(`${file}: the download does not match the hub's checksum ${meta.etag}; removed, run again`);
  }
  renameSync(partial, blob);
}

function linkSnapshot(repoDir: string, commit: string, file: string, etag: string): string {
  const path = join(repoDir, 'snapshots', commit, file);
  makeDir(dirname(path), 'Hugging Face cache folder');
  const target = join('..', '..', ...file.split('/').slice(1).map(() => '..'), 'blobs', etag);
  if (existsSync(path) || isLink(path)) rmSync(path);
  symlinkSync(target, path);
  return path;
}

function isLink(path: string): boolean {
  try {
    readlinkSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The commit a revision names in the cache: itself when it is a commit, else refs/<revision>. */
function cachedCommit(repoDir: string, revision: string): string | null {
  if (/^[0-9a-f]{40}$/.test(revision) && existsSync(join(repoDir, 'snapshots', revision))) return revision;
  const ref = join(repoDir, 'refs', revision);
  return existsSync(ref) ? readFileSync(ref, 'utf8').trim() : null;
}

/**
 * The snapshot folder of `repo` at `revision` holding the CLIP files, downloading what the
 * cache lacks. Required files and one weights form must exist; optional ones may be absent.
 */
export async function resolveHubModel(repo: string, options: HubOptions = {}, files = CLIP_HUB_FILES): Promise<HubSnapshot> {
  const revision = options.revision ?? 'main';
  const cacheDir = options.cacheDir ?? hubCacheDir();
  const repoDir = repoFolder(cacheDir, repo);
  const offline = options.offline ?? isOfflineEnv();
  const wanted = [...files.required, ...files.weights, ...files.optional];
  if (offline) {
    const commit = cachedCommit(repoDir, revision);
    const dir = commit ? join(repoDir, 'snapshots', commit) : null;
    if (!commit || !dir || !files.required.every((f) => existsSync(join(dir, f))) || !files.weights.some((f) => existsSync(join(dir, f)))) {
      throw new Error(`${repo}@${revision} is not in the Hugging Face cache ${cacheDir} and HF_HUB_OFFLINE is set: download it once online, or pass a local folder`);
    }
    return { repo, commit, dir, downloaded: [] };
  }
  const endpoint = (options.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
  const auth: Auth = { endpoint, token: options.token ?? process.env.HF_TOKEN };
  const headers: Record<string, string> = auth.token ? { Authorization: `Bearer ${auth.token}` } : {};
  let commit: string | null = null;
  const downloaded: string[] = [];
  const found = new Set<string>();
  for (const file of wanted) {
    // Pin the commit with the first answer, so every file comes from the same revision.
    const url = `${endpoint}/${repo}/resolve/${encodeURIComponent(commit ?? revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
    const meta = await headFile(url, headers, file);
    if (meta === null) continue;
    commit ??= meta.commit;
    const blob = join(repoDir, 'blobs', meta.etag);
    makeDir(dirname(blob), 'Hugging Face cache folder');
    if (!existsSync(blob)) {
      await download(meta, auth, blob, file, options);
      downloaded.push(file);
    }
    linkSnapshot(repoDir, commit, file, meta.etag);
    found.add(file);
  }
  const missing = files.required.filter((f) => !found.has(f));
  if (commit === null || missing.length > 0 || !files.weights.some((f) => found.has(f))) {
    throw new Error(`${repo}@${revision} on ${endpoint} has no ${missing.length > 0 ? missing.join(', ') : files.weights.join(' or ')}: is it a CLIP checkpoint in safetensors?`);
  }
  if (found.has('model.safetensors.index.json')) {
    // Sharded weights: fetch the shards the index names.
    const index = readJsonFile(join(repoDir, 'snapshots', commit, 'model.safetensors.index.json'), 'sharded weights index', 'delete the snapshot folder and fetch again') as { weight_map?: Record<string, string> };
    const shards = [...new Set(Object.values(index.weight_map ?? {}))];
    const more = await resolveHubModel(repo, { ...options, revision: commit }, { required: shards, weights: shards, optional: [] });
    downloaded.push(...more.downloaded);
  }
  if (revision !== commit) {
    const ref = join(repoDir, 'refs', revision);
    makeDir(dirname(ref), 'Hugging Face cache folder');
    writeFileSync(`${ref}.tmp-${process.pid}`, commit);
    renameSync(`${ref}.tmp-${process.pid}`, ref);
  }
  return { repo, commit, dir: join(repoDir, 'snapshots', commit), downloaded };
}

/** A --clip value: "org/name" or "org/name@revision" is fetched through the hub cache; anything else is a path. */
export async function resolveClipArg(value: string, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<{ path: string; hub: { repo: string; commit: string } | null }> {
  const [repo, revision] = value.split('@');
  if (!isHubId(repo) || (revision !== undefined && revision === '')) return { path: value, hub: null };
  let last = 0;
  const snap = await resolveHubModel(repo, {
    revision,
    onProgress: (file, done, total) => {
      if (Date.now() - last < 1000 && done !== total) return;
      last = Date.now();
      log(`tgcnet: downloading ${repo}/${file}: ${(done / 1e6).toFixed(1)}${total ? ` of ${(total / 1e6).toFixed(1)}` : ''} MB`);
    },
  });
  if (snap.downloaded.length > 0) log(`tgcnet: ${repo}@${snap.commit.slice(0, 12)}: downloaded ${snap.downloaded.join(', ')} into ${snap.dir}`);
  return { path: snap.dir, hub: { repo, commit: snap.commit } };
}
