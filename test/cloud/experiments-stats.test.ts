/**
 * The statistics of experiment results against textbook computations written here, independently:
 * the normal CDF, chi-squared tail and Beta posteriors by numeric integration of their densities
 * (Simpson's rule), Wilson bounds by solving the score equation with bisection, the uplift interval
 * by the general delta method with numeric derivatives. Agreement to 4 decimals, on a generated data
 * set with a known true effect (seeded, so every run sees the same data).
 */
import {
  analyze,
  chanceToBeat,
  chiSquareSf,
  compare,
  type Counts,
  normalCdf,
  srmCheck,
  verdictOf,
  wilson,
  Z95,
} from '../../cloudfunctions/experiments/stats'
import { prng } from '../helpers/prng'

// ---- textbook side ------------------------------------------------------------------------------

/** Composite Simpson's rule over [a, b] with n (even) intervals. */
function simpson(f: (x: number) => number, a: number, b: number, n = 20_000): number {
  const h = (b - a) / n
  let s = f(a) + f(b)
  for (let i = 1; i < n; i++) s += f(a + i * h) * (i % 2 ? 4 : 2)
  return (s * h) / 3
}

const phi = (t: number) => Math.exp((-t * t) / 2) / Math.sqrt(2 * Math.PI)
/** Φ(z) = 1/2 + ∫₀^z φ. */
const textbookCdf = (z: number) => 0.5 + Math.sign(z) * simpson(phi, 0, Math.abs(z))
/** P(|Z| > |z|) as the integral of the tail (from |z| to |z| + 40, beyond which φ is below 1e-300). */
const textbookTwoSided = (z: number) => 2 * simpson(phi, Math.abs(z), Math.abs(z) + 40, 200_000)

function bisect(f: (x: number) => number, lo: number, hi: number): number {
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2
    if (Math.sign(f(mid)) === Math.sign(f(lo))) lo = mid
    else hi = mid
  }
  return (lo + hi) / 2
}

/** Γ(k/2) for a whole k, by Γ(1) = 1, Γ(1/2) = √π, Γ(x + 1) = xΓ(x). */
function gammaHalf(k: number): number {
  let x = k % 2 === 0 ? 1 : 0.5
  let g = k % 2 === 0 ? 1 : Math.sqrt(Math.PI)
  while (x < k / 2) {
    g *= x
    x += 1
  }
  return g
}

/** P(X > x), X ~ χ²(k): the density integrated over the tail. */
function textbookChiTail(x: number, k: number): number {
  const norm = 2 ** (k / 2) * gammaHalf(k)
  const pdf = (t: number) => (t <= 0 ? 0 : (t ** (k / 2 - 1) * Math.exp(-t / 2)) / norm)
  return simpson(pdf, x, x + 400 + 20 * k, 400_000)
}

/**
 * P(p_b > p_a) with Beta(1 + x, 1 + n − x) posteriors: both densities on one fine grid around
 * their mass (normalised numerically, no gamma function), F_a by cumulative trapezoids, then
 * ∫ f_b(t) F_a(t) dt.
 */
function textbookChance(a: Counts, b: Counts): number {
  const params = [a, b].map((c) => ({ al: 1 + c.conversions, be: 1 + c.users - c.conversions }))
  const moments = params.map(({ al, be }) => {
    const m = al / (al + be)
    return { m, sd: Math.sqrt((al * be) / ((al + be) ** 2 * (al + be + 1))) }
  })
  const lo = Math.max(0, Math.min(...moments.map((x) => x.m - 14 * x.sd)))
  const hi = Math.min(1, Math.max(...moments.map((x) => x.m + 14 * x.sd)))
  const n = 200_000
  const h = (hi - lo) / n
  const logDensity = (t: number, { al, be }: { al: number; be: number }) => (al - 1) * Math.log(t) + (be - 1) * Math.log(1 - t)
  const grid = (p: { al: number; be: number }) => {
    const logs = Array.from({ length: n + 1 }, (_, i) => {
      const t = lo + i * h
      return t <= 0 || t >= 1 ? -Infinity : logDensity(t, p)
    })
    const max = logs.reduce((m, l) => (l > m ? l : m), -Infinity)
    const values = logs.map((l) => Math.exp(l - max))
    let total = 0
    for (let i = 0; i < n; i++) total += ((values[i]! + values[i + 1]!) * h) / 2
    return values.map((v) => v / total)
  }
  const fa = grid(params[0]!)
  const fb = grid(params[1]!)
  let cdfA = 0
  let result = 0
  for (let i = 0; i < n; i++) {
    const cdfNext = cdfA + ((fa[i]! + fa[i + 1]!) * h) / 2
    result += ((fb[i]! * cdfA + fb[i + 1]! * cdfNext) * h) / 2
    cdfA = cdfNext
  }
  return result
}

/** Wilson bounds: the p where the score statistic (p̂ − p) / √(p(1 − p)/n) equals ∓z. */
function textbookWilson(x: number, n: number, z: number): [number, number] {
  const hat = x / n
  const score = (p: number) => (hat - p) ** 2 - (z * z * p * (1 - p)) / n
  const lower = hat === 0 ? 0 : bisect(score, 1e-15, hat - 1e-15)
  const upper = hat === 1 ? 1 : bisect(score, hat + 1e-15, 1 - 1e-15)
  return [lower, upper]
}

/** Var(g(p̂0, p̂1)) ≈ ∇gᵀ Σ ∇g with independent p̂ and numeric partial derivatives. */
function textbookUpliftSe(c: Counts, v: Counts): number {
  const p0 = c.conversions / c.users
  const p1 = v.conversions / v.users
  const g = (a: number, b: number) => b / a - 1
  const e = 1e-7
  const d0 = (g(p0 + e, p1) - g(p0 - e, p1)) / (2 * e)
  const d1 = (g(p0, p1 + e) - g(p0, p1 - e)) / (2 * e)
  return Math.sqrt(d0 * d0 * ((p0 * (1 - p0)) / c.users) + d1 * d1 * ((p1 * (1 - p1)) / v.users))
}

const near = (ours: number | null | undefined, textbook: number) => {
  expect(ours).not.toBeNull()
  expect(Math.abs((ours as number) - textbook)).toBeLessThan(5e-5)
}

// ---- the generated data set ---------------------------------------------------------------------

/** Three variants, control 10%, b 12% (true uplift +20%), c 10% (no effect); each user converts independently. */
function generate(seed: number, users: number, rates: number[]): Counts[] {
  const rand = prng(seed)
  const out = rates.map(() => ({ users: 0, conversions: 0 }))
  for (let u = 0; u < users; u++) {
    const v = Math.floor(rand() * rates.length)
    out[v]!.users++
    if (rand() < rates[v]!) out[v]!.conversions++
  }
  return out
}

const TRUE_RATES = [0.1, 0.12, 0.1]
const data = generate(42, 18_000, TRUE_RATES)
const [control, b, c] = data as [Counts, Counts, Counts]

test('the data set is what it claims', () => {
  expect(data.reduce((s, d) => s + d.users, 0)).toBe(18_000)
  for (const [i, d] of data.entries()) expect(d.conversions / d.users).toBeCloseTo(TRUE_RATES[i]!, 1)
})

test('the normal CDF and z quantile match numeric integration', () => {
  const z975 = bisect((z) => textbookCdf(z) - 0.975, 0, 5)
  near(Z95, z975)
  for (const z of [-4, -2.5, -1.96, -1, -0.1, 0, 0.3, 1, 1.6449, 2, 3, 5]) near(normalCdf(z), textbookCdf(z))
})

test('Wilson intervals match the solved score equation', () => {
  for (const d of [...data, { users: 120, conversions: 0 }, { users: 120, conversions: 120 }, { users: 7, conversions: 3 }]) {
    const ours = wilson(d.conversions, d.users)!
    const textbook = textbookWilson(d.conversions, d.users, Z95)
    near(ours[0], textbook[0])
    near(ours[1], textbook[1])
  }
  expect(wilson(0, 0)).toBeNull()
})

describe.each([
  ['b (true +20%)', b],
  ['c (no effect)', c],
])('variant %s against control', (_label, variant) => {
  const ours = compare(control, variant)
  const p0 = control.conversions / control.users
  const p1 = variant.conversions / variant.users

  test('absolute difference and its interval', () => {
    const se = Math.sqrt((p0 * (1 - p0)) / control.users + (p1 * (1 - p1)) / variant.users)
    near(ours.diff, p1 - p0)
    near(ours.diffCi![0], p1 - p0 - Z95 * se)
    near(ours.diffCi![1], p1 - p0 + Z95 * se)
  })

  test('relative uplift and its delta-method interval', () => {
    const se = textbookUpliftSe(control, variant)
    near(ours.uplift, p1 / p0 - 1)
    near(ours.upliftCi![0], p1 / p0 - 1 - Z95 * se)
    near(ours.upliftCi![1], p1 / p0 - 1 + Z95 * se)
  })

  test('two-proportion z-test p-value', () => {
    const pooled = (control.conversions + variant.conversions) / (control.users + variant.users)
    const z = (p1 - p0) / Math.sqrt(pooled * (1 - pooled) * (1 / control.users + 1 / variant.users))
    near(ours.pValue, textbookTwoSided(z))
  })

  test('chance to beat control', () => {
    near(ours.chanceToBeat, textbookChance(control, variant))
  })
})

test('the known effect is found: b’s interval holds the true uplift and excludes 0; c’s holds 0', () => {
  const rb = compare(control, b)
  const rc = compare(control, c)
  const trueUplift = TRUE_RATES[1]! / TRUE_RATES[0]! - 1
  expect(rb.upliftCi![0]).toBeLessThan(trueUplift)
  expect(rb.upliftCi![1]).toBeGreaterThan(trueUplift)
  expect(rb.upliftCi![0]).toBeGreaterThan(0)
  expect(rb.pValue!).toBeLessThan(0.01)
  expect(rc.upliftCi![0]).toBeLessThan(0)
  expect(rc.upliftCi![1]).toBeGreaterThan(0)
})

test('chance to beat on small, lopsided and equal samples', () => {
  const cases: [Counts, Counts][] = [
    [{ users: 30, conversions: 3 }, { users: 25, conversions: 7 }],
    [{ users: 500, conversions: 480 }, { users: 400, conversions: 390 }],
    [{ users: 1000, conversions: 0 }, { users: 1000, conversions: 2 }],
    [{ users: 2000, conversions: 150 }, { users: 2100, conversions: 120 }],
  ]
  for (const [x, y] of cases) near(chanceToBeat(x, y), textbookChance(x, y))
  expect(chanceToBeat({ users: 800, conversions: 80 }, { users: 800, conversions: 80 })).toBeCloseTo(0.5, 10)
  // Symmetry: P(b > a) + P(a > b) = 1.
  expect(chanceToBeat(control, b) + chanceToBeat(b, control)).toBeCloseTo(1, 10)
})

test('chi-squared tail matches the integrated density', () => {
  for (const [x, k] of [
    [0.5, 1],
    [3.84, 1],
    [10.83, 1],
    [5.99, 2],
    [2, 3],
    [16.27, 3],
    [9.49, 4],
    [30, 5],
  ] as const) {
    near(chiSquareSf(x, k), textbookChiTail(x, k))
  }
})

test('SRM: the generated split passes, a broken one is flagged', () => {
  const ok = srmCheck(
    data.map((d) => d.users),
    [1 / 3, 1 / 3, 1 / 3],
  )!
  const expected = 6000
  const chi = data.reduce((s, d) => s + (d.users - expected) ** 2 / expected, 0)
  near(ok.chiSquare, chi)
  near(ok.pValue, textbookChiTail(chi, 2))
  expect(ok.flagged).toBe(false)

  const broken = srmCheck([5000, 4600], [0.5, 0.5])!
  near(broken.pValue, textbookChiTail((200 * 200 * 2) / 4800, 1))
  expect(broken.pValue).toBeLessThan(0.001)
  expect(broken.flagged).toBe(true)
  // Uneven weights: 20/80 with exactly that split is perfect.
  expect(srmCheck([2000, 8000], [0.2, 0.8])!.chiSquare).toBeCloseTo(0, 10)
})

test('verdicts', () => {
  const named = data.map((d, i) => ({ ...d, key: ['control', 'b', 'c'][i]!, name: ['对照', 'B', 'C'][i]!, weight: 1 / 3 }))
  const result = analyze(named)
  expect(result.verdict.kind).toBe('better')
  expect(result.verdict.variant).toBe('b')
  expect(result.verdict.text).toMatch(/^B 更好：胜过对照的概率 (\d{2}|>99\.9)%，转化率 \+\d+\.\d%（95% 区间 \+\d+\.\d% ~ \+\d+\.\d%）$/)

  const worse = analyze([
    { key: 'control', name: '对照', weight: 0.5, users: 5000, conversions: 600 },
    { key: 'b', name: 'B', weight: 0.5, users: 5000, conversions: 480 },
  ])
  expect(worse.verdict).toMatchObject({ kind: 'worse', variant: 'b' })
  expect(worse.verdict.text).toMatch(/^B 更差：不如对照的概率 (\d+|>99\.9)%，转化率 −20\.0%/)

  const flat = analyze([
    { key: 'control', name: '对照', weight: 0.5, users: 3000, conversions: 300 },
    { key: 'b', name: 'B', weight: 0.5, users: 3000, conversions: 306 },
  ])
  expect(flat.verdict.kind).toBe('no_difference')
  expect(flat.verdict.text).toMatch(/^暂无明显差异/)

  const few = analyze([
    { key: 'control', name: '对照', weight: 0.5, users: 99, conversions: 20 },
    { key: 'b', name: 'B', weight: 0.5, users: 99, conversions: 40 },
  ])
  expect(few.verdict).toEqual({ kind: 'not_enough_data', text: '数据还不够，继续观察（每组至少 100 个用户、10 次转化）' })

  const srm = analyze([
    { key: 'control', name: '对照', weight: 0.5, users: 5000, conversions: 500 },
    { key: 'b', name: 'B', weight: 0.5, users: 4600, conversions: 700 },
  ])
  expect(srm.verdict.kind).toBe('srm') // even though b looks far better
  expect(srm.verdict.text).toBe('样本比例异常（SRM，p < 0.0001），结果不可信，请检查分组')
  expect(verdictOf([], [], null).kind).toBe('not_enough_data')
})
