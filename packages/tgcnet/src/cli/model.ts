// `tgcnet model info`: parameter counts per module and the input sizes of a configuration.
import { buildConfig, pyramidSides, resolveClipConfig } from '../model/config.js';
import { TgcNet, parameterReport } from '../model/tgcnet.js';

export function modelInfo(opts: { preset: string; set: string[]; json?: boolean }): void {
  const config = buildConfig(opts.preset, opts.set);
  const model = new TgcNet(config);
  try {
    const report = parameterReport(model);
    const clip = resolveClipConfig(config);
    const info = {
      preset: opts.preset,
      overrides: opts.set,
      clip: typeof config.clip === 'string' ? config.clip : 'custom',
      inputs: {
        vit: config.encoder === 'cnn-only' ? null : [3, config.vitInput, config.vitInput],
        vitGrid: config.encoder === 'cnn-only' ? null : config.vitInput / clip.vision_config.patch_size,
        cnn: config.encoder === 'vit-only' ? null : [3, config.cnnInput, config.cnnInput],
        pyramid: pyramidSides(config),
      },
      ablation: { encoder: config.encoder, text: config.text, alignment: config.alignment, modules: config.modules },
      parameters: report,
    };
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
      return;
    }
    const m = (n: number) => `${(n / 1e6).toFixed(3)}M`;
    process.stdout.write(`TGC-Net preset '${opts.preset}'${opts.set.length ? ` with ${opts.set.join(' ')}` : ''} (CLIP ${info.clip})\n`);
    process.stdout.write(`inputs: ViT ${info.inputs.vit?.join('x') ?? '-'}, CNN ${info.inputs.cnn?.join('x') ?? '-'}, pyramid ${info.inputs.pyramid.join('/')}\n`);
    process.stdout.write(`parameters: total ${m(report.total)}, trainable ${m(report.trainable)}, trainable without CLIP ${m(report.trainableExcludingClip)}\n`);
    for (const [name, p] of Object.entries(report.modules)) {
      process.stdout.write(`  ${name.padEnd(12)} total ${m(p.total).padStart(9)}  trainable ${m(p.trainable).padStart(9)}\n`);
    }
  } finally {
    model.dispose();
  }
}
