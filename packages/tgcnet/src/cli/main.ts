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

  const model = program.command('model').description('the TGC-Net model: presets, ablations, parameter counts');
  model
    .command('info')
    .description('parameter counts (total, trainable, per module) and input sizes of a preset')
    .option('--preset <name>', 'paper, b16, small or tiny', 'paper')
    .option('--set <key=value>', 'override a config field (repeatable): encoder=cnn-only, sse.layers=2, modules.vlcm=false', collect, [])
    .option('--json', 'print JSON')
    .action(async (opts: { preset: string; set: string[]; json?: boolean }) => {
      const { modelInfo } = await import('./model.js');
      modelInfo(opts);
    });

  const clip = program.command('clip').description('CLIP towers: embeddings, random checkpoints');
  clip
    .command('embed')
    .description('embed an image and/or a text with a CLIP checkpoint (L2-normalised) and print their cosine')
    .requiredOption('--clip <path>', 'Hugging Face CLIP folder or .safetensors file (either naming)')
    .option('--image <file>', 'PNG or JPEG image')
    .option('--text <prompt>', 'text to embed')
    .option('--tokenizer <path>', 'tokenizer files when the checkpoint has none (folder, tokenizer.json or bpe .txt.gz)')
    .option('--json', 'print {"image_embedding", "text_embedding", "cosine"} as JSON')
    .action(async (opts: { clip: string; image?: string; text?: string; tokenizer?: string; json?: boolean }) => {
      const { clipEmbed } = await import('./clip.js');
      await clipEmbed(opts);
    });
  clip
    .command('init')
    .description('write a random CLIP checkpoint folder (Hugging Face layout) for tests and weight-free runs')
    .option('--preset <name>', 'tiny, small, or a checkpoint name such as openai/clip-vit-base-patch16', 'tiny')
    .requiredOption('--out <dir>', 'output folder')
    .option('--seed <n>', 'random seed', nonNegativeInt, 0)
    .option('--bpe <file>', "OpenAI's bpe_simple_vocab_16e6.txt.gz (default: ../shared/clip)")
    .option('--openai', 'also write openai_clip.safetensors in OpenAI naming')
    .action(async (opts: { preset: string; out: string; seed: number; bpe?: string; openai?: boolean }) => {
      const { clipInit } = await import('./clip.js');
      clipInit(opts);
    });

  return program;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got '${value}'`);
  return n;
}

export async function run(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    process.stderr.write(`tgcnet: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
