// `tgcnet train --nproc-per-node N`: torchrun's job for our CLI. Starts N copies of the same
// command on this machine with torchrun's environment (WORLD_SIZE, RANK, LOCAL_RANK,
// MASTER_ADDR, MASTER_PORT), each a rank of one data-parallel run (train/data_parallel.ts),
// and watches them: a rank that fails stops the others, and its status is the launcher's.
//
// The ranks run in their own process group, so Ctrl-C reaches the launcher alone, which passes
// it on once (a second Ctrl-C, passed on again, stops them without saving, as for one process).
// A rank whose launcher disappears (kill -9) stops at its next step as on SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';

export interface LaunchOptions {
  nprocPerNode: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  masterPort: number;
  /** libtorch threads per rank when neither --threads nor OMP_NUM_THREADS says (default: the cores shared out). */
  threadsPerRank?: number;
}

/** How long the other ranks get to save and stop after one failed, before they are killed. */
const GRACE_MS = 30_000;

export function launchedByUs(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.WORLD_SIZE !== undefined;
}

/** Runs the ranks of this node to the end; resolves with the exit status the launcher should have. */
export function launchRanks(options: LaunchOptions, argv: readonly string[] = process.argv): Promise<number> {
  const worldSize = options.nprocPerNode * options.nnodes;
  if (options.nodeRank >= options.nnodes) throw new RangeError(`--node-rank ${options.nodeRank} must be below --nnodes ${options.nnodes}`);
  const threads = options.threadsPerRank ?? Math.max(1, Math.floor(availableParallelism() / options.nprocPerNode));
  const say = (s: string) => process.stderr.write(`tgcnet: ${s}\n`);
  say(
    `launching ${options.nprocPerNode} rank(s) on this node (node ${options.nodeRank} of ${options.nnodes}, world size ${worldSize}), ` +
      `meeting at ${options.masterAddr}:${options.masterPort}${process.env.OMP_NUM_THREADS ? '' : `, ${threads} libtorch thread(s) each`}`,
  );
  const children: { rank: number; child: ChildProcess; done: boolean }[] = [];
  for (let local = 0; local < options.nprocPerNode; local++) {
    const rank = options.nodeRank * options.nprocPerNode + local;
    const child = spawn(process.execPath, [...process.execArgv, ...argv.slice(1)], {
      stdio: 'inherit',
      detached: true,
      env: {
        ...process.env,
        WORLD_SIZE: String(worldSize),
        RANK: String(rank),
        LOCAL_RANK: String(local),
        LOCAL_WORLD_SIZE: String(options.nprocPerNode),
        MASTER_ADDR: options.masterAddr,
        MASTER_PORT: String(options.masterPort),
        TGCNET_LAUNCHER_PID: String(process.pid),
        OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? String(threads),
      },
    });
    children.push({ rank, child, done: false });
  }
  const alive = () => children.filter((c) => !c.done);
  let signalled = false;
  const forward = (signal: NodeJS.Signals) => {
    signalled = true;
    for (const c of alive()) c.child.kill(signal);
  };
  const onSigint = () => forward('SIGINT');
  const onSigterm = () => forward('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  return new Promise((resolvePromise) => {
    let status = 0;
    let killer: NodeJS.Timeout | null = null;
    for (const entry of children) {
      entry.child.on('exit', (code, signal) => {
        entry.done = true;
        const own = code ?? (signal ? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : signal === 'SIGINT' ? 2 : 1) : 1);
        if (own !== 0 && status === 0) {
          status = own;
          const rest = alive();
          // After a signal the launcher passed on, ranks stopping with 130/143 are the plan, not a failure.
          if (rest.length > 0 && !(signalled && (own === 130 || own === 143))) {
            say(`rank ${entry.rank} exited with ${signal ? `signal ${signal}` : `status ${code}`}: stopping the other ${rest.length} rank(s)`);
            for (const c of rest) c.child.kill('SIGTERM');
            killer = setTimeout(() => {
              for (const c of alive()) {
                say(`rank ${c.rank} did not stop within ${GRACE_MS / 1000} s: killing it`);
                c.child.kill('SIGKILL');
              }
            }, GRACE_MS);
            killer.unref();
          }
        }
        if (alive().length === 0) {
          if (killer) clearTimeout(killer);
          process.off('SIGINT', onSigint);
          process.off('SIGTERM', onSigterm);
          resolvePromise(status);
        }
      });
    }
  });
}
