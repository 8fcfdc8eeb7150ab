/** One answer of a steady load, with its start and end time. */
export interface Outcome {
  started: number;
  finished: number;
  ok: boolean;
  /** What went wrong, when it did. */
  detail: string;
  /** The request id the answer was sent under ("" when no answer came). */
  requestId: string;
}

/** What one request of the load came to. */
export type Ask = () => Promise<{ ok: boolean; detail: string; requestId?: string }>;

/**
 * `clients` loops, each with its own `ask` (its own connection, if it keeps one), querying until
 * stopped; every answer is kept with its start and end time, so a test can prove what was in flight.
 * The load also ends by itself after `maxSeconds`, so that a test that failed or timed out before
 * stopping it does not leave it querying (and its file running) for ever.
 */
export function steadyLoad(clients: number, makeAsk: () => Ask, maxSeconds = 240) {
  const outcomes: Outcome[] = [];
  let running = true;
  const endsAt = Date.now() + maxSeconds * 1000;
  const loops = Array.from({ length: clients }, async () => {
    const ask = makeAsk();
    while (running && Date.now() < endsAt) {
      const started = Date.now();
      try {
        const { ok, detail, requestId = "" } = await ask();
        outcomes.push({ started, finished: Date.now(), ok, detail, requestId });
      } catch (error) {
        const detail = String((error as Error).cause ?? error);
        outcomes.push({ started, finished: Date.now(), ok: false, detail, requestId: "" });
      }
    }
  });
  return {
    outcomes,
    /** Resolves once `count` more answers have come back (bounded). */
    async more(count: number) {
      const target = outcomes.length + count;
      for (const deadline = Date.now() + 20_000; outcomes.length < target; ) {
        if (Date.now() > deadline) throw new Error(`load stalled at ${outcomes.length} answers`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async stop() {
      running = false;
      await Promise.all(loops);
      return outcomes;
    },
  };
}
