/**
 * Deterministic, stateless assignment of users to experiment variants and flag rollouts.
 *
 * Pure functions only (no `wx`, no imports): the device runs them to pick what to show, and the
 * `experiments` cloud function bundles the same file. The hashing and range building are
 * GrowthBook's own algorithms (FNV-1a 32-bit, its unbiased "v2" hash seeded by the experiment key,
 * `getBucketRanges`, `chooseVariation`), so an assignment made here equals the one GrowthBook's SDK
 * makes with `hashAttribute: 'id'` and `hashVersion: 2` — test/cloud/experiments-growthbook.test.ts
 * checks it against the real package for 100,000 ids.
 */

/** A half-open interval [start, end) of the unit interval owned by one variant. */
export type VariationRange = [number, number]

/** The platforms `wx.getDeviceInfo().platform` reports. */
export type Platform = 'ios' | 'android' | 'ohos' | 'windows' | 'mac' | 'devtools'

/** Who a flag rule or an experiment applies to; every field given must match (an empty object matches everyone). */
export interface Targeting {
  /** true: only users whose first day is today (Asia/Shanghai); false: only returning users. */
  newUsers?: boolean
  /** First-touch channels (users.firstTouch.channel); a user without one never matches. */
  channels?: string[]
  platforms?: Platform[]
  /** Lowest base library version (`wx.getAppBaseInfo().SDKVersion`), e.g. "2.32.3". */
  minSdk?: string
  /** 0..100: a stable share of users, hashed from the rollout seed and the user id. */
  percentage?: number
}

/** What targeting is evaluated against: the cloud fills id/isNew/channel, the device adds the rest. */
export interface TargetUser {
  id: string
  isNew: boolean
  channel?: string
  platform?: string
  sdkVersion?: string
}

/** The part of an experiment that assignment needs. */
export interface BucketedExperiment {
  key: string
  variants: readonly { key: string; weight: number }[]
  coverage: number
}

export interface Assignment {
  /** Index of the variant to show: the control (0) when the user is not in the experiment. */
  index: number
  variant: string
  /** false: outside coverage, an empty id or fewer than two variants; log no exposure then. */
  inExperiment: boolean
  /** The user's hash in [0, 1) for this experiment; -1 when there is no id to hash. */
  bucket: number
}

/** FNV-1a 32-bit over UTF-16 code units, exactly as GrowthBook's `hashFnv32a`. */
export function fnv1a32(str: string): number {
  let hval = 0x811c9dc5
  for (let i = 0; i < str.length; i++) {
    hval ^= str.charCodeAt(i)
    // Multiplying by the FNV prime 16777619 as shifts keeps the arithmetic inside 32-bit integers.
    hval += (hval << 1) + (hval << 4) + (hval << 7) + (hval << 8) + (hval << 24)
  }
  return hval >>> 0
}

/** GrowthBook's hash into [0, 1): v1 (biased, 3 decimals) or v2 (unbiased, 4 decimals); null for other versions. */
export function hash(seed: string, value: string, version: number): number | null {
  if (version === 2) return (fnv1a32(String(fnv1a32(seed + value))) % 10000) / 10000
  if (version === 1) return (fnv1a32(value + seed) % 1000) / 1000
  return null
}

/** Whether n lies in the half-open range [start, end). */
export function inRange(n: number, range: VariationRange): boolean {
  return n >= range[0] && n < range[1]
}

/** Equal weights summing to 1, as GrowthBook falls back to. */
export function equalWeights(n: number): number[] {
  return n <= 0 ? [] : new Array<number>(n).fill(1 / n)
}

/**
 * Each variant's range, GrowthBook's way: coverage clamped to [0, 1], weights replaced by equal ones
 * when their count differs from the variants' or they do not sum to 1 ± 0.01, each range the first
 * `coverage` share of the variant's slot (so raising coverage keeps users where they were).
 */
export function getBucketRanges(numVariations: number, coverage: number | undefined, weights?: readonly number[]): VariationRange[] {
  let cov = coverage === undefined ? 1 : coverage
  if (cov < 0) cov = 0
  else if (cov > 1) cov = 1
  const equal = equalWeights(numVariations)
  let w: readonly number[] = weights || equal
  if (w.length !== numVariations) w = equal
  const total = w.reduce((sum, x) => sum + x, 0)
  if (total < 0.99 || total > 1.01) w = equal
  let cumulative = 0
  return w.map((x) => {
    const start = cumulative
    cumulative += x
    return [start, start + cov * x] as VariationRange
  })
}

/** Index of the range holding n, or -1 (outside coverage). */
export function chooseVariation(n: number, ranges: readonly VariationRange[]): number {
  for (let i = 0; i < ranges.length; i++) {
    const range = ranges[i]
    if (range && inRange(n, range)) return i
  }
  return -1
}

/** The variant a user sees: GrowthBook's `run()` with seed = key, hashAttribute 'id', hashVersion 2. */
export function assignVariant(exp: BucketedExperiment, userId: string): Assignment {
  const out = (index: number, bucket: number): Assignment => {
    const chosen = index >= 0 ? exp.variants[index] : undefined
    return chosen
      ? { index, variant: chosen.key, inExperiment: true, bucket }
      : { index: 0, variant: exp.variants[0]?.key ?? '', inExperiment: false, bucket }
  }
  if (exp.variants.length < 2 || !userId) return out(-1, -1)
  const n = hash(exp.key, userId, 2) as number
  const ranges = getBucketRanges(exp.variants.length, exp.coverage, exp.variants.map((v) => v.weight))
  return out(chooseVariation(n, ranges), n)
}

/** Whether a user falls in the first `percentage`% of a rollout (GrowthBook's feature-rule coverage: n <= coverage). */
export function inRollout(seed: string, userId: string, percentage: number): boolean {
  if (!userId || !(percentage > 0)) return false
  if (percentage >= 100) return true
  return (hash(seed, userId, 2) as number) <= percentage / 100
}

/** -1, 0 or 1 comparing dotted versions numerically ("2.10.0" > "2.9.9"); missing or non-numeric parts count as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.')
  const pb = b.split('.')
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = parseInt(pa[i] ?? '0', 10) || 0
    const y = parseInt(pb[i] ?? '0', 10) || 0
    if (x !== y) return x < y ? -1 : 1
  }
  return 0
}

/**
 * Seed of an experiment's targeting percentage. It must differ from the assignment seed (the key):
 * with the same hash, a 10% rollout would be exactly the users of the first variant's range.
 */
export function rolloutSeed(experimentKey: string): string {
  return `${experimentKey}:rollout`
}

/** Whether a user matches targeting; `seed` hashes the percentage (the flag key, or rolloutSeed(key) for experiments). */
export function matchesTargeting(when: Targeting | undefined, user: TargetUser, seed: string): boolean {
  if (!when) return true
  if (when.newUsers !== undefined && when.newUsers !== user.isNew) return false
  if (when.channels && !(user.channel !== undefined && when.channels.includes(user.channel))) return false
  if (when.platforms && !(user.platform !== undefined && (when.platforms as readonly string[]).includes(user.platform))) return false
  // An unknown base library version does not meet a minimum: the feature may need the newer API.
  if (when.minSdk !== undefined && !(user.sdkVersion && compareVersions(user.sdkVersion, when.minSdk) >= 0)) return false
  if (when.percentage !== undefined && !inRollout(seed, user.id, when.percentage)) return false
  return true
}
