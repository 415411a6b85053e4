#!/usr/bin/env node
// Where a model's errors lie on a synthetic test split under the films' own prompts (the README's
// "gate grid" paragraph): marked pixels on a lesion the prompt does not name (a zone error),
// marked pixels on no lesion (a boundary error), and unmarked pixels of named lesions. Scored
// against the generator's own lesion map, redrawn from the dataset's seed. Prints one JSON line,
// counts per film.
//
//   node packages/tgcnet/scripts/where-errors-lie.mjs <run> <data> <seed> [--style lvit|clinical] [--films 150]
import { loadImage, loadMask } from '../dist/data/images.js';
import { segment } from '../dist/infer/segment.js';
import { openSynthTestFilms } from './synth_test_films.mjs';

const { films, drawn: draw, run } = await openSynthTestFilms('where-errors-lie.mjs');
let truth = 0;
let hit = 0;
let onUnnamedLesion = 0;
let onBackground = 0;
let missed = 0;
try {
  for (const film of films) {
    const drawn = draw(film);
    const target = (await loadMask(film.mask)).data;
    const mask = (await segment(run, await loadImage(film.image), film.text)).mask;
    for (let i = 0; i < mask.length; i++) {
      if (target[i]) truth++;
      if (mask[i] && target[i]) hit++;
      else if (mask[i] && drawn.zoneOf[i] >= 0) onUnnamedLesion++;
      else if (mask[i]) onBackground++;
      else if (target[i]) missed++;
    }
  }
} finally {
  run.model.dispose();
}
const per = (n) => Math.round((10 * n) / films.length) / 10;
process.stdout.write(
  `${JSON.stringify({
    films: films.length,
    dice: (2 * hit) / (2 * hit + onUnnamedLesion + onBackground + missed),
    perFilm: { truth: per(truth), hit: per(hit), onUnnamedLesion: per(onUnnamedLesion), onBackground: per(onBackground), missed: per(missed) },
  })}\n`,
);
