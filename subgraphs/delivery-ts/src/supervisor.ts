// Background work that lives as long as the service (the outbox relay, the consumer),
// supervised as shopkit.tasks.Supervisor does it: a worker that fails is logged and
// started again after a backoff doubling from 0.5 s to 30 s; readiness reports
// `worker:<name>: false` while one has been down for more than 10 s.

import { logger } from "./log.js";
import { workerRestarts, workerUp } from "./metrics.js";

const log = logger("supervisor");

export type Worker = (signal: AbortSignal) => Promise<void>;

const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
const STABLE_AFTER_MS = 10_000;
const DOWN_BOUND_MS = 10_000;

interface WorkerState {
  downSince: number | null;
  failures: number;
}

export class Supervisor {
  private readonly states = new Map<string, WorkerState>();
  private readonly abort = new AbortController();
  private running: Promise<void>[] = [];

  constructor(private readonly workers: Readonly<Record<string, Worker>>) {
    for (const name of Object.keys(workers)) this.states.set(name, { downSince: null, failures: 0 });
  }

  /** One readiness check per worker: false while it has been down longer than the bound. */
  get readiness(): Record<string, () => Promise<boolean>> {
    return Object.fromEntries(
      Object.keys(this.workers).map((name) => [
        `worker:${name}`,
        async () => {
          const downSince = this.states.get(name)?.downSince ?? null;
          return downSince === null || Date.now() - downSince <= DOWN_BOUND_MS;
        },
      ]),
    );
  }

  start(): void {
    this.running = Object.entries(this.workers).map(([name, work]) => this.supervise(name, work));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled(this.running);
  }

  private async supervise(name: string, work: Worker): Promise<void> {
    const state = this.states.get(name) as WorkerState;
    const signal = this.abort.signal;
    while (!signal.aborted) {
      workerUp.set({ worker: name }, 1);
      let failure: unknown = null;
      try {
        await work(signal);
      } catch (error) {
        failure = error;
      }
      if (signal.aborted) return;
      workerUp.set({ worker: name }, 0);
      state.failures += 1;
      state.downSince ??= Date.now();
      const delay = Math.min(FIRST_BACKOFF_MS * 2 ** Math.max(state.failures - 1, 0), MAX_BACKOFF_MS);
      log.error(`background worker ${name} ${failure === null ? "returned" : "failed"}; starting it again in ${delay / 1000}s`, failure ?? undefined);
      await sleep(delay, signal);
      workerRestarts.inc({ worker: name });
      const failuresThen = state.failures;
      setTimeout(() => {
        if (state.failures === failuresThen) {
          state.failures = 0;
          state.downSince = null;
        }
      }, STABLE_AFTER_MS).unref();
    }
  }
}

/** Resolves after `ms`, or at once when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
