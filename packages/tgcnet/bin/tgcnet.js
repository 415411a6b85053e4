#!/usr/bin/env node
// Entry point of the `tgcnet` command; the CLI itself is compiled TypeScript.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('tgcnet is not built yet: run `bash scripts/setup.sh` from the repository root.\n');
  process.exit(1);
}
const { run } = await import(main.href);
await run(process.argv);
