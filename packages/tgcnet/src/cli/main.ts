// The `tgcnet` command line. Each command lazily imports what it wraps, so `--help`
// works even where libtorch is missing; one handler prints errors for people.
import { Command, InvalidArgumentError } from 'commander';

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got '${value}'`);
  return n;
}

export function buildProgram(): Command {
  const program = new Command('tgcnet')
    .description('Text-guided medical image segmentation (TGC-Net) in TypeScript on libtorch')
    .version('0.1.0')
    .showHelpAfterError();

  program
    .command('info')
    .description('show the engine: libtorch version, threads, CUDA devices')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const { info } = await import('./info.js');
      info(opts);
    });

  program
    .command('demo')
    .description('the main job: an end-to-end training run on embedded synthetic data')
    .option('--steps <n>', 'training steps', positiveInt, 300)
    .option('--seed <n>', 'random seed', positiveInt, 1)
    .option('--json', 'print the result as JSON')
    .action(async (opts: { steps: number; seed: number; json?: boolean }) => {
      const { demo } = await import('./demo.js');
      demo(opts);
    });

  return program;
}

export async function run(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    process.stderr.write(`tgcnet: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
