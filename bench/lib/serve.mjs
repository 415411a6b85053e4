// TS side of the --serve protocol (see bench/lib/runner.mjs): after set-up and warm-up print
// {"ready":true,...}, then answer `run K` lines on stdin with {"samples_ms":[...]} until `quit`.
import { createInterface } from 'node:readline';

const now = () => performance.now();

export function timeSteps(step, n) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    const t0 = now();
    step();
    samples.push(now() - t0);
  }
  return samples;
}

/**
 * info: the ready line's fields (checksum etc.); done(): fields for the final line.
 * Without serve, times `repeats` steps and prints one line.
 */
export async function serveOrRun({ step, warmup, repeats, serve, info, done = () => ({}) }) {
  for (let i = 0; i < warmup; i++) step();
  if (serve) {
    console.log(JSON.stringify({ ready: true, ...info }));
    const rl = createInterface({ input: process.stdin });
    for await (const line of rl) {
      const [cmd, k] = line.trim().split(/\s+/);
      if (cmd === 'run') {
        // Page faults and CPU time of the turn (all threads), for the runner's diagnostics.
        const r0 = process.resourceUsage();
        const samples = timeSteps(step, Number(k));
        const r1 = process.resourceUsage();
        console.log(JSON.stringify({
          samples_ms: samples,
          faults: r1.minorPageFault - r0.minorPageFault + r1.majorPageFault - r0.majorPageFault,
          user_ms: (r1.userCPUTime - r0.userCPUTime) / 1000,
          sys_ms: (r1.systemCPUTime - r0.systemCPUTime) / 1000,
        }));
      }
      else if (cmd === 'quit') break;
    }
    rl.close();
    console.log(JSON.stringify({ done: true, ...done() }));
    return;
  }
  console.log(JSON.stringify({ ...info, samples_ms: timeSteps(step, repeats), ...done() }));
}
