/**
 * The adaptive number of feature store calls in flight (AIMD), one limiter per store.
 */
import type { FeatureStore, IngestOptions } from '../backends';

/**
 * Additive increase, multiplicative decrease of the calls in flight, like TCP's congestion window:
 * grows by about one per round of successful calls, shrinks by DECREASE on throttling, at most once
 * per round (calls that started before the last cut were sent at the old level and say nothing new).
 */
export class AimdLimiter {
  private inFlight = 0;
  private lastCut = -Infinity;
  private readonly waiters: (() => void)[] = [];
  /** Lowest and highest limit reached, for the report. */
  low: number;
  high: number;

  // 0.7 as in CUBIC: halving leaves the quota underused for longer than the token bucket can absorb.
  static readonly DECREASE = 0.7;

  constructor(
    public limit: number,
    private readonly max: number,
    private readonly min = 1,
  ) {
    this.limit = Math.max(min, Math.min(max, limit));
    this.low = this.limit;
    this.high = this.limit;
  }

  /** Waits for a free slot; returns the call's ticket, to hand back to release(). */
  async acquire(): Promise<AimdTicket> {
    while (this.inFlight >= Math.floor(this.limit)) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.inFlight += 1;
    return { startedAt: performance.now(), saturated: this.inFlight >= Math.floor(this.limit) };
  }

  release(ticket: AimdTicket, outcome: 'ok' | 'throttled' | 'neutral'): void {
    this.inFlight -= 1;
    // Grow only when the limit was what held calls back: a limit that is not reached says nothing
    // about the store, and growing it anyway would let a later burst far overshoot (as TCP's RFC 7661).
    if (outcome === 'ok' && ticket.saturated) this.limit = Math.min(this.max, this.limit + 1 / this.limit);
    if (outcome === 'throttled' && ticket.startedAt > this.lastCut) {
      this.limit = Math.max(this.min, this.limit * AimdLimiter.DECREASE);
      this.lastCut = performance.now();
    }
    this.low = Math.min(this.low, this.limit);
    this.high = Math.max(this.high, this.limit);
    // Wake as many waiters as there are free slots; each checks again (another caller may be first).
    for (let free = Math.floor(this.limit) - this.inFlight; free > 0 && this.waiters.length > 0; free--)
      this.waiters.shift()!();
  }
}

export interface AimdTicket {
  startedAt: number;
  /** The call took the last free slot: the limit, not the caller, was what bounded the calls. */
  saturated: boolean;
}

// One limiter per store: concurrent chunks of a worker share the store's quota, so they share its limit.
const limiters = new WeakMap<FeatureStore, AimdLimiter>();

export function limiterFor(store: FeatureStore, options: IngestOptions): AimdLimiter {
  let limiter = limiters.get(store);
  if (!limiter) {
    limiter = new AimdLimiter(options.initialInFlight ?? Math.min(4, options.maxInFlight), options.maxInFlight);
    limiters.set(store, limiter);
  }
  return limiter;
}
