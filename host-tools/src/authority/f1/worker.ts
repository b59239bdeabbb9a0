import { F1JobRunner } from "./jobs";
import { F1Deps } from "./service";

/**
 * One F1 worker (`tracelet authority worker`). It takes an open F1 job, of the band range it holds unsealed if
 * it can, else of a range no other worker runs, else the oldest (claimF1Job: on PostgreSQL
 * `FOR UPDATE SKIP LOCKED`, so any number of workers share the queue; a job whose lease ran out because its
 * worker died is taken over); with no job open, it claims a pending log (or one whose planner died) and plans
 * it into jobs of one day x `f1JobBands` registered bands (f1/jobs.ts), so the workers then share that log.
 * Polls every `idleMs` when there is nothing to do. Resolves once `stop` is aborted and the job in hand is
 * done, with the jobs it completed and the logs it finished (completed the last job of).
 */
export interface F1WorkerDeps extends F1Deps {
  idleMs: number;
  stop: AbortSignal;
  /** Names the worker on the jobs it holds; `<pid>` by default. */
  worker?: string;
}

export interface F1WorkerResult {
  /** Logs whose last job this worker completed. */
  resolved: number;
  jobs: number;
  planned: number;
}

export async function runF1Worker(deps: F1WorkerDeps): Promise<F1WorkerResult> {
  const leaseS = deps.config.f1LeaseSeconds;
  const runner = new F1JobRunner({
    ...deps,
    worker: deps.worker ?? String(process.pid),
    leaseS,
    jobBands: deps.config.f1JobBands,
  });
  const worker = deps.worker ?? String(process.pid);
  const result: F1WorkerResult = { resolved: 0, jobs: 0, planned: 0 };
  while (!deps.stop.aborted) {
    const job = await deps.store.claimF1Job(deps.now(), leaseS, worker, runner.range());
    if (job) {
      const outcome = await runner.run(job);
      if (outcome === "done" || outcome === "log-done") result.jobs++;
      if (outcome === "log-done") result.resolved++;
      continue;
    }
    const log = await deps.store.claimPendingLog(deps.now(), leaseS);
    if (log) {
      if ((await runner.plan(log)) > 0) result.planned++;
      else if ((await deps.store.getBandLog(log.id))?.resolution === "done") result.resolved++;
      continue;
    }
    runner.forget();
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        deps.stop.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, deps.idleMs);
      deps.stop.addEventListener("abort", done, { once: true });
    });
  }
  return result;
}
