/**
 * A storage cache for reads with a freshness window and stale-while-revalidate: a repeat visit
 * renders instantly from storage while the fresh copy loads in the background. Entries that do not
 * pass their shape check (an old version, a corrupted write) are discarded, never rendered.
 */
const PREFIX = 'cache:'
const VERSION = 1
/** Tolerated difference between the clock that saved an entry and the clock reading it. */
const CLOCK_SKEW_MS = 60_000

interface Stored {
  v: number
  /** Saved at, ms since epoch. */
  t: number
  d: unknown
}

export interface CachePolicy<T> {
  /** Younger than this: served without a request. */
  freshMs: number
  /** Younger than this: served at once, then refreshed in the background. Older: a request first. */
  staleMs: number
  /** The shape check cached data must pass before it is used. */
  isValid: (data: unknown) => data is T
}

export interface Cached<T> {
  data: T
  ageMs: number
}

export function readCache<T>(key: string, isValid: (data: unknown) => data is T): Cached<T> | null {
  let entry: unknown
  try {
    entry = wx.getStorageSync(PREFIX + key)
  } catch {
    return null
  }
  if (entry === '' || entry === undefined || entry === null) return null
  const stored = entry as Partial<Stored>
  // Saved "in the future" means the device clock was wrong then or is now: the age is unknown, so drop it.
  if (stored.v !== VERSION || typeof stored.t !== 'number' || stored.t > Date.now() + CLOCK_SKEW_MS || !isValid(stored.d)) {
    removeCache(key)
    return null
  }
  return { data: stored.d, ageMs: Math.max(0, Date.now() - stored.t) }
}

/** How old an entry is (ms), without checking its shape; Infinity when there is none usable. */
export function cacheAge(key: string): number {
  let entry: unknown
  try {
    entry = wx.getStorageSync(PREFIX + key)
  } catch {
    return Infinity
  }
  const stored = entry as Partial<Stored> | null
  if (typeof stored !== 'object' || stored === null || stored.v !== VERSION || typeof stored.t !== 'number' || stored.t > Date.now() + CLOCK_SKEW_MS) return Infinity
  return Math.max(0, Date.now() - stored.t)
}

export function writeCache(key: string, data: unknown): void {
  const stored: Stored = { v: VERSION, t: Date.now(), d: data }
  try {
    wx.setStorageSync(PREFIX + key, stored)
  } catch {
    // storage full or unavailable: caching is an optimization, the page still works
  }
}

export function removeCache(key: string): void {
  try {
    wx.removeStorageSync(PREFIX + key)
  } catch {
    // nothing to do
  }
}

export interface SwrResult<T> {
  data: T
  /** Came from storage (possibly stale, a refresh may follow through `onFresh`). */
  fromCache: boolean
}

/**
 * Returns cached data when usable and fetches otherwise. A stale hit is returned at once and
 * refreshed in the background; `onFresh` receives the refreshed data (not called if it fails).
 */
export async function swr<T>(
  key: string,
  policy: CachePolicy<T>,
  fetch: () => Promise<T>,
  onFresh?: (data: T) => void,
): Promise<SwrResult<T>> {
  const cached = readCache(key, policy.isValid)
  if (cached && cached.ageMs < policy.freshMs) return { data: cached.data, fromCache: true }
  if (cached && cached.ageMs < policy.staleMs) {
    fetch().then(
      (data) => {
        writeCache(key, data)
        onFresh?.(data)
      },
      () => undefined, // keep showing what we have
    )
    return { data: cached.data, fromCache: true }
  }
  const data = await fetch()
  writeCache(key, data)
  return { data, fromCache: false }
}
