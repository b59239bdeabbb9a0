import { F1Deps, F1Resolver } from "./service";

/**
 * One F1 worker (`tracelet authority worker`): claims pending logs one at a time (claimPendingLog: on
 * PostgreSQL `FOR UPDATE SKIP LOCKED`, so any number of workers share the queue and each log is resolved by
 * one of them), resolves each with the same engine the server runs in-process, and polls the queue every
 * `idleMs` when it is empty. Resolves with the number of logs it resolved once `stop` is aborted and the log
 * in hand is done.
 */
export async function runF1Worker(deps: F1Deps & { idleMs: number; stop: AbortSignal }): Promise<number> {
  const resolver = new F1Resolver(deps);
  let resolved = 0;
  while (!deps.stop.aborted) {
    const next = await deps.store.claimPendingLog(deps.now());
    if (next) {
      await resolver.resolveOne(next.id);
      resolved++;
      continue;
    }
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
  return resolved;
}
