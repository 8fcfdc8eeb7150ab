/** Label value of unnamed operations and of requests whose operation never resolved. */
export const UNKNOWN_OPERATION = "unknown";
/** Label value of named operations that hold no label of their own. */
export const OTHER_OPERATION = "other";

const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;

export interface OperationLabelsOptions {
  /** Names that always have their label: trusted documents and the gateway's own. @default none */
  pinned?: Iterable<string>;
  /** Names that may hold an earned label at the same time. @default 100 */
  max?: number;
  /** Length of one observation window. @default 60000 (a minute) */
  windowMs?: number;
  /** Consecutive windows a name must be used in to earn its label. @default 3 */
  earnWindows?: number;
  /** Windows without use after which an earned name gives its label back. @default 60 */
  retireWindows?: number;
  /** New names followed while they earn; more wait until older ones lapse. @default max(1000, 10 × max) */
  maxCandidates?: number;
  /** Told when an earned name gives its label back, so its series can be dropped. */
  onRetire?: (name: string) => void;
  /** @default Date.now */
  now?: () => number;
}

/** When a name was last used (window number) and for how many consecutive windows. */
interface Standing {
  lastWindow: number;
  streak: number;
}

/**
 * Keeps the `operation` label bounded without letting any client squat or evict a label.
 * Only names of operations that resolved against the schema are candidates. Trusted documents'
 * names always have their label. Any other name earns one only by being used in `earnWindows`
 * consecutive windows (a burst of one-off names earns nothing, and a candidate that misses a window
 * starts over), while fewer than `max` names hold one; an earned label is never taken away by
 * other traffic, only given back after `retireWindows` without use. Everything else is "other".
 * Per call: a regex test, a clock read and one or two Map lookups; an object is allocated only for
 * a new candidate (bounded by `maxCandidates`).
 */
export class OperationLabels {
  private readonly pinned: ReadonlySet<string>;
  private readonly earned = new Map<string, Standing>();
  private readonly candidates = new Map<string, Standing>();
  private readonly max: number;
  private readonly windowMs: number;
  private readonly earnWindows: number;
  private readonly retireWindows: number;
  private readonly maxCandidates: number;
  private readonly now: () => number;
  private window = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: OperationLabelsOptions = {}) {
    this.pinned = new Set(options.pinned ?? []);
    this.max = options.max ?? 100;
    this.windowMs = options.windowMs ?? 60_000;
    this.earnWindows = options.earnWindows ?? 3;
    this.retireWindows = options.retireWindows ?? 60;
    this.maxCandidates = options.maxCandidates ?? Math.max(1000, 10 * this.max);
    this.now = options.now ?? Date.now;
  }

  of(name: string | null): string {
    if (name === null || !GRAPHQL_NAME.test(name)) return UNKNOWN_OPERATION;
    if (this.pinned.has(name)) return name;
    const window = Math.floor(this.now() / this.windowMs);
    if (window !== this.window) this.roll(window);
    const held = this.earned.get(name);
    if (held) {
      held.lastWindow = window;
      return name;
    }
    if (this.max === 0) return OTHER_OPERATION;
    let candidate = this.candidates.get(name);
    if (!candidate) {
      if (this.candidates.size >= this.maxCandidates) return OTHER_OPERATION;
      candidate = { lastWindow: window, streak: 1 };
      this.candidates.set(name, candidate);
    } else if (candidate.lastWindow !== window) {
      candidate.streak = candidate.lastWindow === window - 1 ? candidate.streak + 1 : 1;
      candidate.lastWindow = window;
    }
    if (candidate.streak < this.earnWindows || this.earned.size >= this.max) return OTHER_OPERATION;
    this.candidates.delete(name);
    this.earned.set(name, candidate);
    return name;
  }

  /** Once per window: candidates that missed the last window lapse, long-unused labels retire. */
  private roll(window: number): void {
    this.window = window;
    for (const [name, candidate] of this.candidates) {
      if (candidate.lastWindow < window - 1) this.candidates.delete(name);
    }
    for (const [name, standing] of this.earned) {
      if (standing.lastWindow <= window - this.retireWindows) {
        this.earned.delete(name);
        this.options.onRetire?.(name);
      }
    }
  }
}
