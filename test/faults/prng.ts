/**
 * The harness's only source of randomness: mulberry32, a 32-bit seeded PRNG. Every choice of a
 * schedule is drawn from it, so a seed replays the same schedule.
 */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [lo, hi], both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }
}

/**
 * The seed of schedule `index` of a soak started with `seed`: seed + index, so schedule i of
 * `--seed S` replays alone with `--seed S+i --schedules 1`.
 */
export function scheduleSeed(seed: number, index: number): number {
  return (seed + index) >>> 0;
}
