// `tgcnet serve`: load one run, listen (loopback unless told otherwise), and shut down
// cleanly on SIGINT/SIGTERM: stop accepting, refuse what waits, let the running forward
// finish, dispose the model.
import { resolveClipArg } from '../clip/hub.js';
import { type RunOverrides, loadRun } from '../run/checkpoint.js';
import { buildApp } from './app.js';
import { apiKeyFromEnv } from './auth.js';
import { DEFAULT_LIMITS } from './limits.js';
import { setVolumeLimits } from '../data/images.js';
import { type Precision, resolveExecution } from '../model/execution.js';

export interface ServeOptions extends RunOverrides {
  checkpoint: string;
  /** cpu (default), cuda or cuda:N. */
  device?: string;
  /** Autocast precision of the forward pass (default fp32). */
  precision?: Precision;
  host: string;
  port: number;
  apiKeyEnv?: string;
  /** pino level of the access log and warnings: info (one line per request), warn, error, silent. */
  logLevel?: string;
  /** Without an API key: origins whose pages may POST besides the server's own (origin.ts). */
  allowedOrigins?: string[];
  queue: number;
  maxBodyMb?: number;
  maxPixels?: number;
  maxPromptChars?: number;
  /** NIfTI uploads: largest decompressed volume (MB) and most slices. */
  maxVolumeMb?: number;
  maxSlices?: number;
  /** Called once listening (tests and the load bench read the address from here). */
  onListening?: (url: string) => void;
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost';
}

export async function serveCommand(opts: ServeOptions): Promise<void> {
  if (opts.maxBodyMb !== undefined && !(Number.isFinite(opts.maxBodyMb) && opts.maxBodyMb > 0)) {
    throw new Error(`--max-body-mb ${opts.maxBodyMb}: expected a positive number of megabytes, e.g. 20`);
  }
  const apiKey = opts.apiKeyEnv ? apiKeyFromEnv(opts.apiKeyEnv) : null;
  setVolumeLimits({
    ...(opts.maxVolumeMb !== undefined ? { maxBytes: opts.maxVolumeMb * 1024 * 1024 } : {}),
    ...(opts.maxSlices !== undefined ? { maxSlices: opts.maxSlices } : {}),
  });
  const clip = opts.clip ? (await resolveClipArg(opts.clip)).path : undefined;
  const loadStarted = performance.now();
  const run = loadRun(opts.checkpoint, { clip, tokenizer: opts.tokenizer }, resolveExecution(opts));
  const modelLoadSeconds = (performance.now() - loadStarted) / 1000;
  let served: Awaited<ReturnType<typeof buildApp>>;
  try {
    served = await buildApp(run, {
      queue: opts.queue,
      apiKey,
      allowedOrigins: opts.allowedOrigins ?? [],
      modelLoadSeconds,
      loopback: isLoopback(opts.host),
      // On stderr, as the help says: stdout carries the listening line scripts read.
      logger: { level: opts.logLevel ?? 'info', stream: process.stderr },
      limits: {
        maxBodyBytes: opts.maxBodyMb !== undefined ? Math.round(opts.maxBodyMb * 1024 * 1024) : DEFAULT_LIMITS.maxBodyBytes,
        maxPixels: opts.maxPixels ?? DEFAULT_LIMITS.maxPixels,
        maxPromptChars: opts.maxPromptChars ?? DEFAULT_LIMITS.maxPromptChars,
      },
    });
  } catch (err) {
    run.model.dispose();
    throw err;
  }
  const { app, aux } = served;
  for (const w of aux.warnings) process.stderr.write(`tgcnet: warning: ${w}\n`);
  let address: string;
  try {
    address = await app.listen({ host: opts.host, port: opts.port });
  } catch (err) {
    run.model.dispose();
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') throw new Error(`port ${opts.port} on ${opts.host} is in use: pass another --port (0 picks a free one)`);
    throw err;
  }
  if (!isLoopback(opts.host)) {
    process.stderr.write(`tgcnet: warning: listening on ${opts.host}, reachable from other machines${apiKey ? '' : ' without an API key (pass --api-key-env)'}\n`);
  }
  process.stdout.write(`tgcnet: serving ${run.checkpointDir} at ${address} (viewer: ${address}/, API: POST ${address}/v1/segment); Ctrl-C stops\n`);
  opts.onListening?.(address);

  await new Promise<void>((resolveStopped) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        process.stderr.write(`tgcnet: ${signal} again: exiting now\n`);
        process.exit(130);
      }
      stopping = true;
      process.stderr.write(`tgcnet: ${signal}: finishing the running request, refusing queued ones, then exiting\n`);
      app
        .close()
        .catch((err: Error) => process.stderr.write(`tgcnet: error while closing: ${err.message}\n`))
        .finally(() => {
          run.model.dispose();
          process.off('SIGINT', onInt);
          process.off('SIGTERM', onTerm);
          resolveStopped();
        });
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
}
