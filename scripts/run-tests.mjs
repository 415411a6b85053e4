#!/usr/bin/env node
// Runs every compiled *.test.js under packages/*/dist, and the benchmarks' *.test.mjs under
// bench/ (the PyTorch twins' smoke checks; skipped where /usr/bin/python3 has no torch), with
// node's test runner. (Node 20's --test takes no globs, so the files are listed here.)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

function findTests(dir, suffix, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) findTests(p, suffix, out);
    else if (name.endsWith(suffix)) out.push(p);
  }
  return out;
}

const filter = process.argv.slice(2);
const compiled = ['packages/torch/dist', 'packages/tgcnet/dist'].flatMap((d) => findTests(d, '.test.js'));
if (compiled.length === 0) {
  console.error('no compiled tests found: run `npm run build` first (or `bash scripts/setup.sh`)');
  process.exit(1);
}
const files = [...compiled, ...findTests('bench', '.test.mjs')]
  .filter((f) => filter.length === 0 || filter.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no test file matches ${filter.join(' ')}`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
