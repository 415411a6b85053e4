// The demo for now: the engine trains a small CNN on the toy segmentation task end to
// end (data, model, loss, AdamW, schedule) and reports Dice. The TGC-Net demo replaces it.
import * as T from '@tgcnet/torch';
import { trainToySegmentation } from '@tgcnet/torch/examples/toy_segmentation';

export function engineDemo(opts: { steps: number; seed: number; json?: boolean }): void {
  const started = performance.now();
  const every = Math.max(1, Math.floor(opts.steps / 10));
  const { model, losses, dice } = trainToySegmentation({
    steps: opts.steps,
    seed: opts.seed,
    onStep: ({ step, loss, dice: d }) => {
      if (!opts.json && (step % every === 0 || step === opts.steps - 1)) {
        const elapsed = (performance.now() - started) / 1000;
        const eta = (elapsed / (step + 1)) * (opts.steps - step - 1);
        process.stdout.write(
          `step ${String(step + 1).padStart(4)}/${opts.steps}  loss ${loss.toFixed(4)}  dice ${d.toFixed(3)}  ` +
            `${((step + 1) / elapsed).toFixed(1)} steps/s  eta ${eta.toFixed(1)}s\n`,
        );
      }
    },
  });
  model.dispose();
  const result = {
    task: 'toy segmentation (engine demo)',
    steps: opts.steps,
    firstLoss: losses[0],
    finalLoss: losses[losses.length - 1],
    finalDice: dice,
    seconds: (performance.now() - started) / 1000,
    liveTensors: T.memory().tensors,
  };
  if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else
    process.stdout.write(
      `done: loss ${result.firstLoss.toFixed(3)} -> ${result.finalLoss.toFixed(3)}, Dice ${result.finalDice.toFixed(3)} ` +
        `in ${result.seconds.toFixed(1)} s (libtorch ${T.libtorchVersion}, ${T.getNumThreads()} threads)\n`,
    );
}
