// What the where-*.mjs scripts share: their command line, a run, and the first test films of a
// synthetic dataset, each with the generator's own drawing of it (redrawn from the dataset's seed,
// so its lesion map says which zone every lesion pixel belongs to).
import { parseArgs } from 'node:util';
import { openDataset } from '../dist/data/detect.js';
import { SYNTH_STYLES, synthCaseIndex, synthCaseSeed } from '../dist/data/synth_dataset.js';
import { loadRun } from '../dist/run/checkpoint.js';

/** Parses `<run> <data> <seed> [--style lvit|clinical] [--films 150]`; exits with the usage line when it does not fit. */
export async function openSynthTestFilms(script) {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { style: { type: 'string', default: 'lvit' }, films: { type: 'string', default: '150' } } });
  const seed = Number(positionals[2]);
  const count = Number(values.films);
  if (positionals.length !== 3 || !Number.isInteger(seed) || !(values.style in SYNTH_STYLES) || !(count > 0)) {
    process.stderr.write(`usage: ${script} <run> <data> <seed> [--style ${Object.keys(SYNTH_STYLES).join('|')}] [--films 150]\n` + '  <seed> is the seed the synthetic data was written with (tgcnet data synth --seed / tgcnet demo --seed)\n');
    process.exit(2);
  }
  const [runDir, data] = positionals;
  const style = SYNTH_STYLES[values.style];
  const dataset = await openDataset(data, { splits: ['test'] });
  const films = dataset.cases.filter((c) => c.split === 'test').sort((a, b) => (a.id < b.id ? -1 : 1)).slice(0, count);
  const drawn = (film) => style.draw(synthCaseSeed(seed, synthCaseIndex(film.id)));
  return { data, films, drawn, run: loadRun(runDir) };
}
