// Per-operator time, from libtorch's own RecordFunction instrumentation (native/profiler.cc):
// every ATen operator and every autograd node (backward runs on autograd's threads), by name,
// with calls, total time and self time (total minus the operators called inside it). The
// table torch.profiler's key_averages() prints, without a trace.
//
//   T.profiler.start();
//   for (let i = 0; i < 10; i++) step();
//   console.log(T.profiler.formatTable(T.profiler.stop(), { top: 20 }));
import { native } from './native.js';

export interface OpStat {
  /** aten::conv2d, MmBackward0, ... */
  name: string;
  calls: number;
  /** Wall time inside the op, children included (ms). */
  totalMs: number;
  /** Without the time of the operators it called (ms): these add up to the profiled time. */
  selfMs: number;
}

/** Starts counting (clears the previous counts). One profile at a time per process. */
export function start(): void {
  native.profilerStart();
}

/** Stops counting and returns every operator seen, the largest self time first. */
export function stop(): OpStat[] {
  const rows = native.profilerStop();
  return rows.map(([name, calls, totalUs, selfUs]) => ({ name, calls, totalMs: totalUs / 1000, selfMs: selfUs / 1000 })).sort((a, b) => b.selfMs - a.selfMs);
}

/** Profiles fn (synchronous) and returns its result with the table's rows. */
export function profile<T>(fn: () => T): { result: T; ops: OpStat[] } {
  start();
  let result: T;
  try {
    result = fn();
  } catch (err) {
    // Stopped when fn throws too, so the next profile can start.
    stop();
    throw err;
  }
  return { result, ops: stop() };
}

/**
 * A fixed-width table: self time and its share of all self time, total time, calls, time per
 * call; the first `top` rows (default 25) and a line for the rest. `per` divides the times (e.g.
 * the number of profiled steps, for ms per step).
 */
export function formatTable(ops: readonly OpStat[], options: { top?: number; per?: number; perLabel?: string } = {}): string {
  const top = options.top ?? 25;
  const per = options.per ?? 1;
  const unit = options.perLabel ? `ms/${options.perLabel}` : 'ms';
  const allSelf = ops.reduce((s, o) => s + o.selfMs, 0);
  const width = Math.min(48, Math.max(8, ...ops.slice(0, top).map((o) => o.name.length)));
  const f = (x: number) => x.toFixed(x >= 100 ? 0 : x >= 10 ? 1 : 2);
  const lines = [`${'operator'.padEnd(width)}  ${('self ' + unit).padStart(12)}  ${'self %'.padStart(6)}  ${('total ' + unit).padStart(13)}  ${'calls'.padStart(8)}  ${'us/call'.padStart(8)}`];
  for (const o of ops.slice(0, top)) {
    lines.push(
      `${o.name.slice(0, width).padEnd(width)}  ${f(o.selfMs / per).padStart(12)}  ${((100 * o.selfMs) / Math.max(allSelf, 1e-9)).toFixed(1).padStart(6)}  ` +
        `${f(o.totalMs / per).padStart(13)}  ${String(Math.round(o.calls / per)).padStart(8)}  ${((1000 * o.selfMs) / Math.max(o.calls, 1)).toFixed(1).padStart(8)}`,
    );
  }
  const rest = ops.slice(top);
  if (rest.length > 0) {
    const restSelf = rest.reduce((s, o) => s + o.selfMs, 0);
    lines.push(`${`(${rest.length} more)`.padEnd(width)}  ${f(restSelf / per).padStart(12)}  ${((100 * restSelf) / Math.max(allSelf, 1e-9)).toFixed(1).padStart(6)}`);
  }
  lines.push(`${'all operators'.padEnd(width)}  ${f(allSelf / per).padStart(12)}  ${'100.0'.padStart(6)}`);
  return lines.join('\n');
}
