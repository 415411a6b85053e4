#!/usr/bin/env node
// Where a model marks pixels when asked about zones without a lesion (the README's "Asking about
// zones without a lesion"): each test film of a synthetic dataset under its first negative prompt
// (negative_prompts.jsonl), the marked pixels scored against the generator's own lesion map,
// redrawn from the dataset's seed. Prints one JSON line.
//
//   node packages/tgcnet/scripts/where-negatives-mark.mjs <run> <data> <seed> [--style lvit|clinical] [--films 150]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadImage } from '../dist/data/images.js';
import { readNegativePrompts } from '../dist/data/negative_prompts.js';
import { SYNTH_STYLES, synthCaseIndex, synthCaseSeed } from '../dist/data/synth_dataset.js';
import { segment } from '../dist/infer/segment.js';
import { readLungZones } from '../dist/prompts/zones.js';
import { loadRun } from '../dist/run/checkpoint.js';
import { openDataset } from '../dist/data/detect.js';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { style: { type: 'string', default: 'lvit' }, films: { type: 'string', default: '150' } } });
if (positionals.length !== 3) {
  process.stderr.write('usage: where-negatives-mark.mjs <run> <data> <seed> [--style lvit|clinical] [--films 150]\n');
  process.exit(2);
}
const [runDir, data, seedText] = positionals;
const seed = Number(seedText);
const style = SYNTH_STYLES[values.style];
const LEVELS = ['upper', 'middle', 'lower'];
const negatives = readNegativePrompts(data);
if (!negatives) throw new Error(`${data} has no negative_prompts.jsonl: write the data with \`tgcnet data synth\``);
const dataset = await openDataset(data, { splits: ['test'] });
const films = dataset.cases.filter((c) => c.split === 'test').sort((a, b) => (a.id < b.id ? -1 : 1)).slice(0, Number(values.films));
const run = loadRun(runDir);
let marked = 0;
let onLesion = 0;
let nextToNamed = 0;
let empty = 0;
try {
  for (const film of films) {
    const drawn = style.draw(synthCaseSeed(seed, synthCaseIndex(film.id)));
    const prompt = negatives.byId.get(film.id)[0];
    const named = readLungZones(prompt) ?? [];
    const mask = (await segment(run, await loadImage(film.image), prompt)).mask;
    let here = 0;
    for (let i = 0; i < mask.length; i++) {
      if (!mask[i]) continue;
      here++;
      const lesion = drawn.zoneOf[i];
      if (lesion < 0) continue;
      onLesion++;
      const zone = drawn.opacityZones[lesion];
      if (named.some((z) => z.side === zone.side && Math.abs(LEVELS.indexOf(z.level) - LEVELS.indexOf(zone.level)) === 1)) nextToNamed++;
    }
    marked += here;
    if (here === 0) empty++;
  }
} finally {
  run.model.dispose();
}
process.stdout.write(
  `${JSON.stringify({
    films: films.length,
    emptyFraction: empty / films.length,
    markedPerFilm: marked / films.length,
    shareOnALesion: marked ? onLesion / marked : 0,
    shareOnALesionNextToANamedZone: marked ? nextToNamed / marked : 0,
    shareOnBackground: marked ? 1 - onLesion / marked : 0,
  })}\n`,
);
