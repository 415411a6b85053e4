#!/usr/bin/env node
// Where a model marks pixels when asked about zones without a lesion (the README's "Asking about
// zones without a lesion"): each test film of a synthetic dataset under its first negative prompt
// (negative_prompts.jsonl), the marked pixels scored against the generator's own lesion map,
// redrawn from the dataset's seed. Prints one JSON line.
//
//   node packages/tgcnet/scripts/where-negatives-mark.mjs <run> <data> <seed> [--style lvit|clinical] [--films 150]
import { loadImage } from '../dist/data/images.js';
import { readNegativePrompts } from '../dist/data/negative_prompts.js';
import { segment } from '../dist/infer/segment.js';
import { readLungZones } from '../dist/prompts/zones.js';
import { openSynthTestFilms } from './synth_test_films.mjs';

const LEVELS = ['upper', 'middle', 'lower'];
const { data, films, drawn: draw, run } = await openSynthTestFilms('where-negatives-mark.mjs');
const negatives = readNegativePrompts(data);
if (!negatives) {
  run.model.dispose();
  process.stderr.write(`${data} has no negative_prompts.jsonl: write the data with \`tgcnet data synth\` (or \`tgcnet demo\`), which writes it\n`);
  process.exit(1);
}
let marked = 0;
let onLesion = 0;
let nextToNamed = 0;
let empty = 0;
try {
  for (const film of films) {
    const drawn = draw(film);
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
