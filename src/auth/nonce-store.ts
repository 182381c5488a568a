/**
 * @module nonce-store
 * Hawk replay protection (hawk §6): remembers (scope, ts, nonce) triples for
 * the clock-skew window and refuses a second use.
 *
 * The default {@link MemoryNonceStore} is per isolate: a replay that lands on
 * another isolate or another colo is not caught. Because every 1.5 request of
 * a user ends up in that user's Durable Object, which runs one request at a
 * time, a stronger implementation can live there (a small SQLite table
 * `hawk_nonces(nonce, ts, expires)` checked in the same transaction as the
 * operation); it only has to implement {@link NonceStore}.
 */

export interface NonceStore {
  /**
   * Records the nonce and returns true if it was not seen before within
   * `ttlSeconds`; returns false for a replay. `scope` separates credentials
   * (nonces are unique per Hawk id, not globally).
   */
  checkAndRemember(scope: string, nonce: string, ts: number, ttlSeconds: number, nowSeconds: number): Promise<boolean>;
}

/** Accepts everything: the reference's behaviour (no nonce cache). */
export const NO_NONCE_CHECK: NonceStore = {
  async checkAndRemember() {
    return true;
  },
};

/** Bounded in-memory store; oldest entries are evicted first when full. */
export class MemoryNonceStore implements NonceStore {
  private readonly seen = new Map<string, number>();

  constructor(private readonly maxEntries = 100_000) {}

  async checkAndRemember(scope: string, nonce: string, ts: number, ttlSeconds: number, nowSeconds: number): Promise<boolean> {
    this.sweep(nowSeconds);
    const k = `${scope}\n${ts}\n${nonce}`;
    const exp = this.seen.get(k);
    if (exp !== undefined && exp > nowSeconds) return false;
    this.seen.delete(k);
    this.seen.set(k, nowSeconds + ttlSeconds);
    while (this.seen.size > this.maxEntries) {
      const oldest = this.seen.keys().next().value;
      if (oldest === undefined) break;
      this.seen.delete(oldest);
    }
    return true;
  }

  private lastSweep = 0;

  private sweep(now: number): void {
    if (now - this.lastSweep < 60) return;
    this.lastSweep = now;
    for (const [k, exp] of this.seen) if (exp <= now) this.seen.delete(k);
  }

  get size(): number {
    return this.seen.size;
  }
}
