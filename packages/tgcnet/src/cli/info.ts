import * as T from '@tgcnet/torch';

export function info(opts: { json?: boolean }): void {
  const facts = {
    libtorch: T.libtorchVersion,
    threads: T.getNumThreads(),
    cuda: T.cuda.isAvailable(),
    cudaDevices: T.cuda.deviceCount(),
    node: process.version,
  };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(facts)}\n`);
    return;
  }
  process.stdout.write(
    `libtorch ${facts.libtorch}, ${facts.threads} threads, ` +
      `${facts.cuda ? `CUDA with ${facts.cudaDevices} device(s)` : 'no CUDA device'}, Node ${facts.node}\n`,
  );
}
