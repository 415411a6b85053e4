// The README's library example is code that runs: this test takes it out of the README and
// runs it in a fresh folder, so the README cannot drift from the API.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultBpePath, repoRoot } from './paths.js';

const skip = defaultBpePath() === null ? 'needs ../shared/clip (CLIP BPE vocabulary)' : false;

/** The first ```js block after the marker comment. */
export function readmeExample(readme: string): string {
  const marker = readme.indexOf('<!-- example: library -->');
  if (marker < 0) throw new Error('README.md has no "<!-- example: library -->" marker');
  const m = /```js\n([\s\S]*?)```/.exec(readme.slice(marker));
  if (!m) throw new Error('no ```js block after the library example marker');
  return m[1];
}

test('the README library example trains a tiny model and segments with two prompts', { skip }, () => {
  const code = readmeExample(readFileSync(join(repoRoot(), 'README.md'), 'utf8'));
  // Beside the package, so that `import ... from 'tgcnet'` resolves through the workspace.
  const scriptDir = join(repoRoot(), 'packages', 'tgcnet', '.cache');
  mkdirSync(scriptDir, { recursive: true });
  const script = join(scriptDir, `readme-example-${process.pid}.mjs`);
  writeFileSync(script, code);
  const cwd = mkdtempSync(join(tmpdir(), 'tgcnet-readme-'));
  try {
    const r = spawnSync(process.execPath, [script], { cwd, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `the example failed:\n${r.stderr}`);
    assert.match(r.stdout, /trained \d+ steps/);
    assert.equal(r.stdout.match(/\d+ px \(mean probability 0\.\d+\): .*lung\./g)?.length, 2, r.stdout);
  } finally {
    rmSync(script, { force: true });
    rmSync(cwd, { recursive: true, force: true });
  }
});
