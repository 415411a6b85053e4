// The layers import downwards only: nothing that evaluates, predicts or serves depends on the
// training loop, and the model and data layers know nothing of the layers above them.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const src = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Top-level folders each layer may not import from. */
const FORBIDDEN: Record<string, string[]> = {
  data: ['train', 'eval', 'infer', 'serve', 'cli', 'run'],
  model: ['train', 'eval', 'infer', 'serve', 'cli', 'run'],
  clip: ['train', 'eval', 'infer', 'serve', 'cli', 'run', 'model', 'data'],
  prompts: ['train', 'eval', 'infer', 'serve', 'cli', 'run', 'model'],
  run: ['train', 'eval', 'infer', 'serve', 'cli'],
  eval: ['train', 'infer', 'serve', 'cli'],
  infer: ['train', 'serve', 'cli'],
  serve: ['train', 'cli'],
};

test('layers import downwards only: nothing outside train/ and cli/ imports train/', () => {
  const files = sources(src);
  assert.ok(files.length > 50, `found ${files.length} sources under ${src}`);
  const wrong: string[] = [];
  for (const file of files) {
    const layer = relative(src, file).split('/')[0];
    const forbidden = FORBIDDEN[layer];
    // Tests may reach across layers: they check the whole.
    if (!forbidden || file.endsWith('.test.ts')) continue;
    for (const m of readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)\b[^'"]*from\s+'(\.{1,2}\/[^']+)'/gm)) {
      const target = relative(src, join(dirname(file), m[1])).split('/')[0];
      if (forbidden.includes(target)) wrong.push(`${relative(src, file)} imports ${m[1]}`);
    }
  }
  assert.deepEqual(wrong, []);
});
