// The same loop through @tgcnet/torch, in one tidy() (every intermediate freed at its end) and
// with a dispose() per op (each freed at once, as Python's refcount does).
import * as T from '../../packages/torch/dist/index.js';
const [mode = 'tidy', repeatsArg = '30'] = process.argv.slice(2);
T.setNumThreads(1);
T.manualSeed(0);
const b = T.rand([16]);
const ms = [];
let checksum = 0;
for (let rep = 0; rep < Number(repeatsArg); rep++) {
  let start = 0;
  if (mode === 'tidy') {
    checksum += T.tidy(() => {
      let c = T.rand([16]);
      start = performance.now();
      for (let i = 0; i < 10000; i++) c = c.add(b).mul(0.5);
      ms.push(performance.now() - start);
      return c.sum().item();
    });
  } else {
    let c = T.rand([16]);
    start = performance.now();
    for (let i = 0; i < 10000; i++) {
      const a = c.add(b);
      c.dispose();
      c = a.mul(0.5);
      a.dispose();
    }
    ms.push(performance.now() - start);
    checksum += c.sum().item();
    c.dispose();
  }
}
b.dispose();
console.log(JSON.stringify({ side: `ts-${mode}`, ms, checksum }));
