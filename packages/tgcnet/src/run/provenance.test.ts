import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blas, libtorchVersion } from '@tgcnet/torch';
import { Provenance, collectProvenance } from './provenance.js';

test('provenance names the code, the engine, the machine and the command', () => {
  const p = Provenance.parse(collectProvenance());
  assert.equal(p.libtorch, libtorchVersion);
  assert.equal(p.node, process.version);
  assert.ok(p.cpu.length > 0 && p.cores >= 1 && p.threads >= 1);
  // A clone has a commit (with -dirty when changed); a packed install has none.
  assert.ok(p.commit === null || /^[0-9a-f]{40}(-dirty)?$/.test(p.commit), String(p.commit));
  assert.ok(p.command.length > 0);
  // The kernels that ran, named as OpenBLAS names them.
  if (blas.library === 'OpenBLAS') assert.match(p.blas!, new RegExp(`^OpenBLAS ${blas.core} \\(chosen by (user|tgcnet|OpenBLAS)\\)$`));
  else assert.equal(p.blas, 'not OpenBLAS');
});
