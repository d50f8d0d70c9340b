/**
 * Our assignment against the real GrowthBook SDK (@growthbook/growthbook, a dev dependency): for
 * 100,000 ids and experiments with 2–4 variants, uneven and invalid weights and partial coverage,
 * `assignVariant` must give the same variant, the same "in experiment" and the same hash bucket as
 * GrowthBook's own `run()` with hashAttribute 'id' and hashVersion 2. Flag rollouts are checked
 * against GrowthBook's feature rules (force + coverage) the same way.
 */
import { GrowthBookClient } from '@growthbook/growthbook'
import type { Experiment } from '@growthbook/growthbook'
import { assignVariant, type BucketedExperiment, getBucketRanges, hash, inRollout } from '../../miniprogram/core/bucketing'
import { prng } from '../helpers/prng'

// GrowthBook's internal util module (hash and getBucketRanges are not re-exported), loaded by path.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const gbUtil = require(require.resolve('@growthbook/growthbook/package.json').replace(/package\.json$/, 'dist/cjs/util.js')) as {
  hash(seed: string, value: string, version: number): number | null
  getBucketRanges(n: number, coverage: number | undefined, weights?: number[]): [number, number][]
}

const N = 100_000

/** Ids of every shape a user id can take, and some it should not. */
function makeIds(): string[] {
  const rand = prng(20261124)
  const pick = (alphabet: string, n: number) => Array.from({ length: n }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('')
  const b64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const hex = '0123456789abcdef'
  const unicode = ['张', '伟', '李', '娜', 'é', 'ß', '😀', '🎉', '𠀀', '\u0000', '\u200b', ' ', 'ー', 'ﬀ']
  const edge = ['', ' ', '0', '00', 'null', 'undefined', 'false', '\t', '\n', 'a', '-', '_', '😀', '\ud800', '\udfff', 'x'.repeat(1000)]
  const ids = [...edge]
  while (ids.length < N) {
    const kind = ids.length % 4
    if (kind === 0) ids.push('o' + pick(b64, 27)) // OPENID-like
    else if (kind === 1) ids.push(`${pick(hex, 8)}-${pick(hex, 4)}-7${pick(hex, 3)}-${pick('89ab', 1)}${pick(hex, 3)}-${pick(hex, 12)}`)
    else if (kind === 2) ids.push(Array.from({ length: 2 + Math.floor(rand() * 11) }, () => unicode[Math.floor(rand() * unicode.length)]).join(''))
    else ids.push(String(Math.floor(rand() * 1e9)))
  }
  return ids
}

const experiments: (BucketedExperiment & { label: string })[] = [
  { label: '2 variants, 50/50', key: 'home_value_copy', variants: [{ key: 'control', weight: 0.5 }, { key: 'b', weight: 0.5 }], coverage: 1 },
  { label: '3 variants, uneven, 60% coverage', key: 'onboarding_steps', variants: [{ key: 'control', weight: 0.2 }, { key: 'b', weight: 0.3 }, { key: 'c', weight: 0.5 }], coverage: 0.6 },
  { label: '4 variants, 10% coverage', key: 'x', variants: [{ key: 'a', weight: 0.1 }, { key: 'b', weight: 0.2 }, { key: 'c', weight: 0.3 }, { key: 'd', weight: 0.4 }], coverage: 0.1 },
  { label: 'weights summing to 0.7 (GrowthBook falls back to equal)', key: 'bad_weights', variants: [{ key: 'a', weight: 0.5 }, { key: 'b', weight: 0.2 }], coverage: 1 },
  { label: 'weights summing to 1.005 (kept)', key: 'close_weights', variants: [{ key: 'a', weight: 0.335 }, { key: 'b', weight: 0.335 }, { key: 'c', weight: 0.335 }], coverage: 0.999 },
  { label: 'coverage above 1 (clamped)', key: 'over_covered', variants: [{ key: 'a', weight: 0.9 }, { key: 'b', weight: 0.1 }], coverage: 1.5 },
  { label: 'one variant (not an experiment)', key: 'single', variants: [{ key: 'a', weight: 1 }], coverage: 1 },
]

const ids = makeIds()
let previousEnv: string | undefined

beforeAll(() => {
  // GrowthBook logs every invalid-weights run outside production; the logic does not depend on it.
  previousEnv = process.env.NODE_ENV
  process.env.NODE_ENV = 'production'
})
afterAll(() => {
  process.env.NODE_ENV = previousEnv
})

test('the ids cover the edge cases', () => {
  expect(ids).toHaveLength(N)
  expect(ids).toContain('')
  expect(new Set(ids).size).toBeGreaterThan(N * 0.95)
})

test('fnv1a-based hash v1 and v2 equal GrowthBook’s for every id', () => {
  let mismatches = 0
  for (const id of ids) {
    for (const seed of ['home_value_copy', 'onboarding_steps', '']) {
      if (hash(seed, id, 2) !== gbUtil.hash(seed, id, 2)) mismatches++
      if (hash(seed, id, 1) !== gbUtil.hash(seed, id, 1)) mismatches++
    }
  }
  expect(hash('a', 'b', 3)).toBeNull()
  expect(gbUtil.hash('a', 'b', 3)).toBeNull()
  expect(mismatches).toBe(0)
  // A known value pins the algorithm itself, not just the agreement.
  expect(hash('home_value_copy', 'user-1', 2)).toBe(gbUtil.hash('home_value_copy', 'user-1', 2))
})

test('getBucketRanges normalises like GrowthBook', () => {
  const cases: [number, number | undefined, number[] | undefined][] = [
    [2, 1, [0.5, 0.5]],
    [3, 0.5, [0.2, 0.3, 0.5]],
    [2, -0.2, [0.5, 0.5]],
    [2, 1.2, [0.5, 0.5]],
    [3, 1, [0.5, 0.5]],
    [2, 1, [0.9, 0.3]],
    [4, undefined, undefined],
    [0, 1, []],
  ]
  for (const [n, coverage, weights] of cases) {
    expect(getBucketRanges(n, coverage, weights)).toEqual(gbUtil.getBucketRanges(n, coverage, weights))
  }
})

describe.each(experiments)('assignVariant equals GrowthBook run(): $label', (exp) => {
  test(`${N} ids`, () => {
    const gb = new GrowthBookClient()
    const gbExp: Experiment<string> = {
      key: exp.key,
      variations: exp.variants.map((v) => v.key) as [string, string, ...string[]], // the single-variant case on purpose
      weights: exp.variants.map((v) => v.weight),
      coverage: exp.coverage,
      hashAttribute: 'id',
      hashVersion: 2,
      meta: exp.variants.map((v) => ({ key: v.key })),
    }
    let mismatches = 0
    const firstMismatches: unknown[] = []
    const counts = new Map<string, number>()
    let outside = 0
    for (const id of ids) {
      const ours = assignVariant(exp, id)
      const theirs = gb.runInlineExperiment(gbExp, { attributes: { id } })
      const same =
        ours.inExperiment === theirs.inExperiment &&
        ours.index === theirs.variationId &&
        ours.variant === theirs.key &&
        ours.variant === theirs.value &&
        (theirs.inExperiment ? ours.bucket === theirs.bucket : true)
      if (!same) {
        mismatches++
        if (firstMismatches.length < 5) firstMismatches.push({ id, ours, theirs })
      }
      if (ours.inExperiment) counts.set(ours.variant, (counts.get(ours.variant) ?? 0) + 1)
      else outside++
    }
    expect(firstMismatches).toEqual([])
    expect(mismatches).toBe(0)
    // Not vacuous: the experiment really splits users (or, with one variant, excludes everyone).
    if (exp.variants.length < 2) {
      expect(outside).toBe(N)
    } else {
      expect(counts.size).toBe(exp.variants.length)
      expect(outside).toBeGreaterThan(0) // at least the empty id
    }
  })
})

test('a user keeps the same variant on every call (deterministic, stateless)', () => {
  const exp = experiments[1]!
  for (const id of ids.slice(0, 1000)) expect(assignVariant(exp, id)).toEqual(assignVariant({ ...exp, variants: [...exp.variants] }, id))
})

test('split shares follow the weights and coverage', () => {
  const exp = experiments[1]! // 0.2 / 0.3 / 0.5 at 60% coverage
  const counts = [0, 0, 0]
  let inside = 0
  for (const id of ids) {
    const a = assignVariant(exp, id)
    if (!a.inExperiment) continue
    inside++
    counts[a.index]!++
  }
  expect(inside / N).toBeCloseTo(0.6, 1)
  expect(counts.map((c) => c / inside)).toEqual([expect.closeTo(0.2, 1), expect.closeTo(0.3, 1), expect.closeTo(0.5, 1)])
})

test('inRollout equals GrowthBook feature rules with force + coverage', () => {
  const percentages = [0, 0.01, 1, 10, 33.3, 50, 99.99, 100]
  const features = Object.fromEntries(
    percentages.map((p, i) => [`flag_${i}`, { defaultValue: false, rules: [{ force: true, coverage: p / 100, hashVersion: 2, seed: `home_show_read_count` }] }]),
  )
  const gb = new GrowthBookClient().initSync({ payload: { features } })
  let mismatches = 0
  const included = percentages.map(() => 0)
  for (const id of ids) {
    percentages.forEach((p, i) => {
      const ours = inRollout('home_show_read_count', id, p)
      const theirs = gb.evalFeature(`flag_${i}`, { attributes: { id } }).value === true
      if (ours !== theirs) mismatches++
      if (ours) included[i]!++
    })
  }
  expect(mismatches).toBe(0)
  expect(included[0]).toBe(0)
  expect(included[3]! / N).toBeCloseTo(0.1, 1)
  expect(included[7]).toBe(N - 1) // everyone but the empty id
})
