// The `tgcnet` command line. Each command lazily imports what it wraps, so `--help`
// works even where libtorch is missing; one handler prints errors for people.
import { existsSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { SynthStyle } from '../data/synth_dataset.js';
import { DEFAULT_PIXEL_CACHE_MB } from '../data/decoded_cache.js';
import { TGCNET_VERSION } from '../version.js';

// The demo trains 3 epochs; its time is a cap, not the schedule. With a 5-minute budget the
// schedule shrank with the CPU's speed (786 steps on the AMD EPYC that set the bar, 400-632 on a
// slower Xeon, where four of six runs then failed: README), so the verdict depended on the
// machine. 15 minutes holds the 3 epochs on both; only a machine slower still trains fewer, and
// the demo says so.
const DEMO_MINUTES = 15;

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got '${value}'`);
  return n;
}

/** The embedded default model: the checkpoint `tgcnet demo` trains (its default --out). */
export const DEMO_CHECKPOINT = 'demo-output/run';

function checkpointOrExplain(path: string): string {
  if (path === DEMO_CHECKPOINT && !existsSync(path)) {
    throw new Error(`no checkpoint given and no demo checkpoint at ${path}: run \`npx tgcnet demo\` first (it trains one in about 5 minutes), or pass --checkpoint <run folder>`);
  }
  return path;
}

export function buildProgram(): Command {
  // Usage errors are one line and a pointer to --help, with exit status 2 (as getopt tools
  // and nnU-Net's argparse do); run() maps commander's errors. Settings made here before the
  // commands are defined are inherited by every subcommand.
  const program = new Command('tgcnet')
    .description('Text-guided medical image segmentation (TGC-Net) in TypeScript on libtorch')
    .version(TGCNET_VERSION)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'tgcnet: ')) })
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ optionDescription: (option) => describeOption(option) });

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
    .description(
      'the main job: synthetic data, train the small preset (3 epochs: about 4-6 min of training on 2 cores), evaluate with and without the right prompts, ' +
        'probe one image under three prompts, write the report; exits 1 unless the prompt decides the mask',
    )
    .option('--out <dir>', 'where data, run and report go', nonEmptyPath, 'demo-output')
    .option('--minutes <m>', 'training time cap: 3 epochs are trained, fewer only where they would not fit (the schedule is sized to it)', Number, DEMO_MINUTES)
    .option('--n <count>', 'synthetic cases (70/10/20 train/val/test)', positiveInt, 3000)
    .option('--seed <n>', 'random seed (data and training)', nonNegativeInt, 0)
    .addOption(new Option('--style <name>', 'synthetic style: lvit (LViT wording) or clinical (zone wording, other images)').choices(['lvit', 'clinical']).default('lvit'))
    .option('--data <dir>', 'score the demo protocol on this dataset instead of generating one')
    .option('--set <key=value>', 'override a field of the small preset (repeatable), e.g. for an ablation: decoder.textGate=false', collect, [])
    .option('--lr <x>', 'peak learning rate (default by preset, as for train)', positiveNumber)
    .option('--negative-prompts <p>', 'probability that a training case asks a prompt naming only zones it has no lesion in, with an empty target (0-1; measured, off by default: README)', unitInterval, 0)
    .option('--aux-prompts <file|offline>', "DATE's auxiliary texts: a JSONL file, or 'offline' (each prompt's zones restated in canonical words)")
    .option('--device <d>', 'cpu, cuda or cuda:N (the README\'s figures are CPU runs)', device, 'cpu')
    .addOption(new Option('--precision <p>', 'autocast precision: fp32, bf16 or fp16 (CUDA)').choices(['fp32', 'bf16', 'fp16']).default('fp32'))
    .option('--json', 'print the result as JSON')
    .action(async (opts: { out: string; minutes: number; n: number; seed: number; style: SynthStyle; data?: string; set: string[]; lr?: number; negativePrompts: number; auxPrompts?: string; device: string; precision: 'fp32' | 'bf16' | 'fp16'; json?: boolean }) => {
      const { demo } = await import('./demo.js');
      const { pass, exitCode } = await demo(opts);
      if (!pass) process.exitCode = exitCode ?? 1;
    });
  program
    .command('engine-demo')
    .description('the engine alone: a small CNN trained on a toy segmentation task')
    .option('--steps <n>', 'training steps', positiveInt, 300)
    .option('--seed <n>', 'random seed', positiveInt, 1)
    .option('--json', 'print the result as JSON')
    .action(async (opts: { steps: number; seed: number; json?: boolean }) => {
      const { engineDemo } = await import('./engine_demo.js');
      engineDemo(opts);
    });

  const data = program.command('data').description('datasets: synthetic data, checks');
  data
    .command('synth')
    .description('write a synthetic chest-radiograph dataset (LViT layout) where the prompt decides the mask')
    .requiredOption('--out <dir>', 'output folder', nonEmptyPath)
    .option('--n <count>', 'number of cases (70/10/20 train/val/test)', positiveInt, 1000)
    .option('--seed <n>', 'random seed', nonNegativeInt, 0)
    .addOption(new Option('--style <name>', 'lvit: LViT wording, 224 px; clinical: zone wording ("left base"), irregular lesions, 256 px').choices(['lvit', 'clinical']).default('lvit'))
    .option('--size <px>', "image side, at least 32 (default: the style's)", atLeast32)
    .action(async (opts: { out: string; n: number; seed: number; style: SynthStyle; size?: number }) => {
      const { dataSynth } = await import('./data.js');
      await dataSynth(opts);
    });
  data
    .command('paraphrase')
    .description("write a manifest of one split with each lung prompt in LViT's original wording (all left lung, counted lungs, slips such as midlle)")
    .requiredOption('--data <dir>', 'dataset folder or manifest')
    .option('--format <name>', 'dataset format (default: detected)')
    .option('--split <name>', 'train, val or test', 'val')
    .addOption(new Option('--val-half <a|b>', 'only this fixed, hashed half of the split').choices(['a', 'b']))
    .requiredOption('--out <file>', 'the manifest to write (.jsonl)', nonEmptyPath)
    .action(async (opts: { data: string; format?: string; split: 'train' | 'val' | 'test'; valHalf?: 'a' | 'b'; out: string }) => {
      const { dataParaphrase } = await import('./data.js');
      await dataParaphrase(opts);
    });
  data
    .command('check')
    .description('read a dataset, detect its format and list every bad case')
    .requiredOption('--data <dir>', 'dataset folder or manifest')
    .option('--format <name>', 'lvit, languidemedseg, sgseg, manifest or msd (default: detected)')
    .option('--deep', 'decode every image and mask (truncated files, mask values other than 0/255 or 0/1, all-empty masks); training always does')
    .option('--mask-threshold <v>', 'binarise 2-D masks as foreground > v (0-254) instead of the automatic rule (> 127, or > 0 in 0/1 masks)', maskThreshold)
    .option('--json', 'print JSON')
    .action(async (opts: { data: string; format?: string; deep?: boolean; maskThreshold?: number; json?: boolean }) => {
      const { dataCheck } = await import('./data.js');
      await dataCheck(opts);
    });

  program
    .command('prompts')
    .description('auxiliary prompts: one description per unique prompt of a dataset, from an LLM server (--llm-url) or the offline glossary; resumable')
    .requiredOption('--data <dir>', 'dataset folder or manifest')
    .option('--format <name>', 'dataset format (default: detected)')
    .option('--out <file>', 'JSONL output (default: <data>/aux_prompts.jsonl, where train and eval look)', nonEmptyPath)
    .option('--llm-url <url>', 'OpenAI-compatible base URL (http://localhost:8080 llama.cpp, http://localhost:11434 Ollama, https://api.openai.com/v1); without it the offline glossary expander writes the texts')
    .option('--model <name>', 'model name on the server (with --llm-url)')
    .option('--api-key-env <VAR>', 'environment variable holding the API key, sent as Authorization: Bearer')
    .option('--template <file>', 'user message with {prompt} (and optionally {modality}); a line "---" puts a system message above it')
    .option('--modality <name>', 'xray, ct or mri for prompts that do not say (default: X-ray for lung zones, CT for organs)')
    .option('--concurrency <n>', 'requests at a time', positiveInt, 4)
    .option('--timeout <s>', 'seconds per request', Number, 60)
    .option('--retries <n>', 'retries per request on 429, 5xx, timeouts and broken answers', nonNegativeInt, 5)
    .option('--limit <n>', 'write at most n new entries this run', positiveInt)
    .option('--json', 'print the summary as JSON')
    .action(
      async (opts: {
        data: string;
        format?: string;
        out?: string;
        llmUrl?: string;
        model?: string;
        apiKeyEnv?: string;
        template?: string;
        modality?: string;
        concurrency: number;
        timeout: number;
        retries: number;
        limit?: number;
        json?: boolean;
      }) => {
        const { promptsCommand } = await import('./prompts.js');
        await promptsCommand(opts);
      },
    );

  program
    .command('train')
    .description('train TGC-Net on a dataset; checkpoints best/ and last/ in --out')
    .requiredOption('-d, --data <dir>', 'dataset folder or manifest', nonEmptyPath)
    .option('--format <name>', 'dataset format (default: detected)')
    .addOption(new Option('--preset <name>', 'model size').choices(['paper', 'b16', 'small', 'tiny']).default('small'))
    .option('--set <key=value>', 'override a config field (repeatable)', collect, [])
    .requiredOption('-o, --out <dir>', 'run folder, e.g. runs/small', nonEmptyPath)
    .option('--clip <path|org/name>', 'pretrained CLIP, frozen: a Hugging Face folder, a .safetensors file, or a hub name such as openai/clip-vit-base-patch16[@revision] (fetched into the Hugging Face cache; HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE honoured). Without it CLIP is random and trained')
    .option('--tokenizer <path>', 'CLIP tokenizer files (default: from --clip, else ../shared/clip)')
    .option('--epochs <n>', 'epochs', positiveInt, 20)
    .option('--batch <n>', 'batch size', positiveInt, 8)
    .option('--lr <x>', 'peak learning rate (default by preset)', positiveNumber)
    .option('--weight-decay <x>', 'AdamW weight decay', nonNegativeNumber, 0.01)
    .option('--max-minutes <m>', 'time budget: the schedule is sized to it, checkpoints kept, resumable', positiveNumber)
    .option('--device <d>', 'cpu, cuda or cuda:N (with --nproc-per-node, cuda: each process its cuda:LOCAL_RANK)', device, 'cpu')
    .addOption(new Option('--precision <p>', 'autocast precision of the forward pass: fp32, bf16 (CPU or CUDA) or fp16 (CUDA; with a gradient scaler in training)').choices(['fp32', 'bf16', 'fp16']).default('fp32'))
    .option('--seed <n>', 'random seed', nonNegativeInt, 0)
    .option('--patience <n>', 'early stopping: epochs without a better validation Dice', nonNegativeInt, 10)
    .addOption(new Option('--augment [kind]', "augmentation (default on: flips, rotations, scaling, shifts, intensity); 'flip': horizontal flips alone, the prompt's left and right swapped with them").choices(['flip']))
    .option('--no-augment', 'turn augmentation off')
    .option('--skip-bad', 'skip bad cases instead of stopping')
    .option('--limit-train <n>', 'use at most n training cases', positiveInt)
    .option('--limit-val <n>', 'use at most n validation cases', positiveInt)
    .option('--resume', 'continue the run in --out from its last checkpoint (options not typed again come from the run)')
    .option('--override <names>', 'with --resume: apply these changed options anyway, comma-separated (e.g. epochs,lr); the run then no longer replays an uninterrupted one', commaList, [])
    .option('--aux-prompts <file|offline>', 'auxiliary prompts JSONL (default: <data>/aux_prompts.jsonl when present), or offline: the offline expander for every prompt, paraphrases included')
    .option('--prompt-augment <p>', 'probability that a training prompt is reworded and gets typing slips (0-1)', unitInterval, 0)
    .option('--negative-prompts <p>', "probability that a training case asks one of its negative prompts (<data>/negative_prompts.jsonl: zones it has no lesion in) with an empty target (0-1)", unitInterval, 0)
    .addOption(new Option('--val-half <a|b>', 'validate (and select the best checkpoint) on one fixed, hashed half of the validation split').choices(['a', 'b']))
    .option('--mask-threshold <v>', 'binarise 2-D masks as foreground > v (0-254) instead of the automatic rule (> 127, or > 0 in 0/1 masks)', maskThreshold)
    .option('--threads <n>', 'libtorch threads (default: OMP_NUM_THREADS, else all cores; 1 is fastest for the small preset on 2 cores)', positiveInt)
    .option('--profile <steps>', 'profile that many steps (after 3 warm-up steps): a per-operator time table (self and total ms per step) on stderr and profile.json in the run', positiveInt)
    .option('--max-steps <n>', 'stop after n optimizer steps in this invocation (resumable; e.g. with --profile)', positiveInt)
    .option('--feature-cache <dir>', 'keep the frozen CLIP vision features here, shared by runs of the same tower (default: <out>/feature-cache; used with a pretrained --clip and --no-augment or --augment flip)', nonEmptyPath)
    .option('--no-feature-cache', 'compute the frozen CLIP features every epoch instead of keeping them on disk')
    .option('--pixel-cache-mb <n>', `keep decoded, resized images and masks in memory across epochs, at most n MiB (default ${DEFAULT_PIXEL_CACHE_MB}; 0: decode every epoch); speed only, the same bytes either way`, nonNegativeInt)
    .option('--nproc-per-node <n>', 'data-parallel: start n processes on this machine (--batch stays the global batch, split between them)', positiveInt, 1)
    .option('--nnodes <n>', 'data-parallel over machines: how many take part (each runs this command with its --node-rank)', positiveInt, 1)
    .option('--node-rank <n>', "this machine's index, 0 to nnodes-1", nonNegativeInt, 0)
    .option('--master-addr <host>', 'where rank 0 runs: every process meets there', '127.0.0.1')
    .option('--master-port <port>', "rank 0's rendezvous port", port, 29500)
    .option('--json', 'print the result as JSON')
    .action(async (opts: Record<string, unknown>, command: Command) => {
      const nproc = opts.nprocPerNode as number;
      const nnodes = opts.nnodes as number;
      if ((nproc > 1 || nnodes > 1) && !process.env.WORLD_SIZE) {
        const { launchRanks } = await import('./launch.js');
        process.exitCode = await launchRanks({
          nprocPerNode: nproc,
          nnodes,
          nodeRank: opts.nodeRank as number,
          masterAddr: opts.masterAddr as string,
          masterPort: opts.masterPort as number,
          threadsPerRank: opts.threads as number | undefined,
        });
        return;
      }
      const { trainCommand } = await import('./train.js');
      const explicit = Object.keys(opts).filter((key) => command.getOptionValueSource(key) === 'cli');
      await trainCommand({ ...opts, explicit });
    });

  program
    .command('eval')
    .description('Dice and IoU (macro and micro) of a checkpoint on a dataset split, per-case CSV, HTML report')
    .requiredOption('-c, --checkpoint <path>', 'run folder (runs/<name>) or its best/ or last/', nonEmptyPath)
    .requiredOption('-d, --data <dir>', 'dataset folder or manifest', nonEmptyPath)
    .addOption(new Option('--split <name>', 'which split to score').choices(['train', 'val', 'test']).default('test'))
    .option('--format <name>', 'dataset format (default: detected)')
    .option('--batch <n>', 'batch size', positiveInt, 8)
    .option('--report <dir>', 'write an HTML report (curves, metrics, best and worst cases)')
    .option('--csv <file>', 'per-case CSV (default: <report>/cases.csv)')
    .option('--shuffle-prompts', 'also evaluate with prompts shuffled between cases (text reliance)')
    .option('--skip-bad', 'skip bad cases instead of stopping')
    .option('--limit <n>', 'evaluate at most n cases', positiveInt)
    .option('--aux-prompts <file|offline>', 'auxiliary prompts JSONL or offline (default: what the run trained with, else <data>/aux_prompts.jsonl)')
    .option('--mask-threshold <v>', "binarise 2-D masks as foreground > v (default: the run's, else the automatic rule)", maskThreshold)
    .option('--threshold <p>', 'foreground where the predicted probability is > p', openUnitInterval, 0.5)
    .addOption(new Option('--tta <kind>', "test-time augmentation: 'flip' also segments the mirrored image under the prompt with left and right swapped and averages the probabilities").choices(['flip']))
    .option('--nsd-tolerance <mm>', 'normalised surface Dice tolerance, in mm where the files give a pixel spacing (NIfTI, DICOM), else pixels', positiveNumber, 2)
    .option('--include-empty-slices', 'volumes (MSD): also score the slices where the organ is absent (empty ground truth), so false positives there count')
    .option('--save-probabilities <dir>', 'write each case\'s probability map as a 16-bit PNG (<id>_prob.png, probability x 65535)')
    .addOption(new Option('--val-half <a|b>', 'evaluate one fixed, hashed half of the split (select on a, report on b)').choices(['a', 'b']))
    .option('--clip <path>', 'the pretrained CLIP for a run that froze one, when it is not where the run recorded it: a folder, a .safetensors file or a hub name (org/name[@revision])')
    .option('--tokenizer <path>', 'tokenizer files, instead of the run\'s own copy')
    .option('--device <d>', 'cpu, cuda or cuda:N', device, 'cpu')
    .addOption(new Option('--precision <p>', 'autocast precision of the forward pass: fp32, bf16 (CPU or CUDA) or fp16 (CUDA; with a gradient scaler in training)').choices(['fp32', 'bf16', 'fp16']).default('fp32'))
    .option('--json', 'print JSON')
    .action(async (opts: Record<string, unknown>) => {
      const { evalCommand } = await import('./eval.js');
      await evalCommand(opts);
    });

  program
    .command('predict')
    .description('segment what a prompt describes in an image, DICOM or NIfTI volume (or a folder / manifest of them); masks at the input size')
    .option('-c, --checkpoint <path>', 'run folder (runs/<name>) or its best/ or last/ (default: the demo\'s, demo-output/run)', DEMO_CHECKPOINT)
    .option('-i, --image <path>', 'PNG/JPEG/BMP/TIFF/WebP image, single-frame DICOM (.dcm), NIfTI volume (.nii/.nii.gz), or a folder of them')
    .option('--manifest <file>', 'batch: manifest.csv/.jsonl with columns image, text, optional aux and id (paths relative to it)')
    .option('-t, --text <prompt>', 'the clinical prompt (with --manifest: for rows without text)')
    .option('--aux <text>', 'auxiliary description (DATE)')
    .option('--aux-prompts <file|offline>', "auxiliary prompts looked up by prompt when --aux is not given (default: the run's, else <data>/aux_prompts.jsonl)")
    .requiredOption('-o, --out <path>', 'mask .png (images) or .nii.gz (volumes); a folder for the batch form (masks + predictions.csv)', nonEmptyPath)
    .option('--overlay <file>', 'also write the image with the mask overlaid (a volume: its slice with the largest mask)')
    .option('--window <ct|percentile|lo,hi>', 'NIfTI intensity window: ct = [-160, 240] HU as the MSD loader, percentile = 0.5..99.5%', 'ct')
    .option('--clip <path>', 'the pretrained CLIP for a run that froze one, when it is not where the run recorded it: a folder, a .safetensors file or a hub name (org/name[@revision])')
    .option('--tokenizer <path>', 'tokenizer files, instead of the run\'s own copy')
    .option('--max-volume-mb <mb>', 'refuse a NIfTI volume larger than this once decompressed (checked from its header first)', positiveInt, 1024)
    .option('--max-slices <n>', 'refuse a NIfTI volume with more slices', positiveInt, 2048)
    .option('--device <d>', 'cpu, cuda or cuda:N', device, 'cpu')
    .addOption(new Option('--precision <p>', 'autocast precision of the forward pass: fp32, bf16 (CPU or CUDA) or fp16 (CUDA; with a gradient scaler in training)').choices(['fp32', 'bf16', 'fp16']).default('fp32'))
    .option('--json', 'print JSON (area, mean probability)')
    .action(async (opts: import('./predict.js').PredictOptions) => {
      const { predictCommand } = await import('./predict.js');
      await predictCommand({ ...opts, checkpoint: checkpointOrExplain(opts.checkpoint) });
    });

  program
    .command('serve')
    .description('HTTP API (POST /v1/segment, GET /v1/health, /v1/model, /metrics, /openapi.json, /docs) and a web viewer at /, one model in memory')
    .option('-c, --checkpoint <path>', 'run folder (runs/<name>) or its best/ or last/ (default: the demo\'s, demo-output/run)', DEMO_CHECKPOINT)
    .option('--host <addr>', 'address to bind (loopback by default; 0.0.0.0 exposes it to the network)', '127.0.0.1')
    .option('-p, --port <n>', 'port (0 picks a free one)', port, 8080)
    .option('--api-key-env <VAR>', 'require the API key held in this environment variable (Authorization: Bearer or x-api-key)')
    .addOption(new Option('--log-level <level>', 'access log (one JSON line per request) and warnings, on stderr').choices(['info', 'warn', 'error', 'silent']).default('info'))
    .option('--max-volume-mb <mb>', 'NIfTI uploads: refuse a volume larger than this once decompressed (checked from its header first)', positiveInt, 1024)
    .option('--max-slices <n>', 'NIfTI uploads: refuse a volume with more slices', positiveInt, 2048)
    .option('--allowed-origins <origins>', "without an API key: web pages from these origins may POST besides the server's own viewer, comma-separated (e.g. https://viewer.example.org; * for any)", commaList, [])
    .option('--queue <n>', 'requests that may wait behind the running one; more get 503 + Retry-After', nonNegativeInt, 16)
    .option('--max-body-mb <n>', 'largest request body, MB', positiveNumber, 20)
    .option('--max-pixels <n>', 'largest image, width x height (checked from the header, before decoding)', positiveInt, 25_000_000)
    .option('--max-prompt-chars <n>', 'longest prompt or aux text, characters', positiveInt, 2000)
    .option('--clip <path>', 'the pretrained CLIP for a run that froze one, when it is not where the run recorded it: a folder, a .safetensors file or a hub name (org/name[@revision])')
    .option('--tokenizer <path>', 'tokenizer files, instead of the run\'s own copy')
    .option('--device <d>', 'cpu, cuda or cuda:N', device, 'cpu')
    .addOption(new Option('--precision <p>', 'autocast precision of the forward pass: fp32, bf16 (CPU or CUDA) or fp16 (CUDA; with a gradient scaler in training)').choices(['fp32', 'bf16', 'fp16']).default('fp32'))
    .action(async (opts: { checkpoint: string; host: string; port: number; device?: string; precision?: 'fp32' | 'bf16' | 'fp16'; apiKeyEnv?: string; allowedOrigins: string[]; logLevel: string; maxVolumeMb: number; maxSlices: number; queue: number; maxBodyMb: number; maxPixels: number; maxPromptChars: number; clip?: string; tokenizer?: string }) => {
      const { serveCommand } = await import('../serve/server.js');
      await serveCommand({ ...opts, checkpoint: checkpointOrExplain(opts.checkpoint) });
    });

  program
    .command('export')
    .description('write a trained model as a self-contained folder: weights, config, tokenizer, aux prompts, CLIP when frozen, a model card')
    .requiredOption('--checkpoint <path>', 'run folder (its best/ checkpoint) or a checkpoint folder inside it')
    .requiredOption('--out <dir>', 'the folder to create (never written over)', nonEmptyPath)
    .option('--json', 'print JSON')
    .action(async (opts: { checkpoint: string; out: string; json?: boolean }) => {
      const { exportCommand } = await import('./export.js');
      exportCommand(opts);
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
    .requiredOption('--out <dir>', 'output folder', nonEmptyPath)
    .option('--seed <n>', 'random seed', nonNegativeInt, 0)
    .option('--bpe <file>', "OpenAI's bpe_simple_vocab_16e6.txt.gz (default: ../shared/clip)")
    .option('--openai', 'also write openai_clip.safetensors in OpenAI naming')
    .action(async (opts: { preset: string; out: string; seed: number; bpe?: string; openai?: boolean }) => {
      const { clipInit } = await import('./clip.js');
      clipInit(opts);
    });

  return program;
}

/** An option's help text, with "(required)" on the ones that must be given, as argparse marks them. */
function describeOption(option: Option): string {
  const extras: string[] = [];
  if (option.mandatory) extras.push('required');
  if (option.argChoices) extras.push(`choices: ${option.argChoices.join(', ')}`);
  // (A description that already says its default is not told twice.)
  if (option.defaultValue !== undefined && !/\bdefault\b/.test(option.description) && !(Array.isArray(option.defaultValue) && option.defaultValue.length === 0) && option.defaultValue !== false) {
    extras.push(`default: ${option.defaultValueDescription ?? JSON.stringify(option.defaultValue)}`);
  }
  return extras.length > 0 ? `${option.description} (${extras.join(', ')})` : option.description;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function commaList(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(',').map((v) => v.trim()).filter((v) => v !== '')];
}

export function unitInterval(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`expected a number from 0 to 1, got '${value}'`);
  return n;
}

export function maskThreshold(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 254) throw new InvalidArgumentError(`expected an integer from 0 to 254 (foreground is > it), got '${value}'`);
  return n;
}

export function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || value.trim() === '') throw new InvalidArgumentError(`expected a number >= 0, got '${value}'`);
  return n;
}

function port(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`expected a port from 0 to 65535 (0 picks a free one), got '${value}'`);
  return n;
}

function device(value: string): string {
  if (!/^(cpu|cuda(:\d+)?)$/.test(value)) throw new InvalidArgumentError(`expected cpu, cuda or cuda:N, got '${value}'`);
  return value;
}

function atLeast32(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 32) throw new InvalidArgumentError(`expected an image side of at least 32 pixels, got '${value}'`);
  return n;
}

/** A path that is not empty: \`-o "$RUN"\` with RUN unset must not mean "here". */
export function nonEmptyPath(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('expected a path, got an empty string (an unset shell variable?)');
  return value;
}

export function openUnitInterval(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n >= 1) throw new InvalidArgumentError(`expected a probability between 0 and 1 (exclusive), got '${value}'`);
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || value.trim() === '') throw new InvalidArgumentError(`expected a positive number, got '${value}'`);
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got '${value}'`);
  return n;
}

export async function run(argv: string[]): Promise<void> {
  // `tgcnet ... | head` closes stdout early: that is the reader's choice, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with status 0; the message was already printed.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(`tgcnet: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
