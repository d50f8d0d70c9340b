/**
 * CUPED against a plain regression computed here from the per-user data: ordinary least squares of
 * conversion on an intercept, a dummy per non-control variant and the pre-exposure covariate
 * (normal equations solved by Gaussian elimination), with heteroskedasticity-robust (HC0) standard
 * errors. The dummies' coefficients are the adjusted differences; the rollup only has sums.
 * Seeded data where pre-period activity predicts conversion.
 */
import { analyze, cupedTheta, type PreSums, Z95 } from '../../cloudfunctions/experiments/stats'
import { formatChance } from '../../miniprogram/packages/admin/view'
import { prng } from '../helpers/prng'

interface User {
  variant: number
  pre: number
  converted: 0 | 1
}

/** Pre-period goal counts 0..9 (skewed), conversion rising with them; variant effects added to the rate. */
function generate(seed: number, users: number, effects: number[]): User[] {
  const rand = prng(seed)
  const out: User[] = []
  for (let u = 0; u < users; u++) {
    const variant = Math.floor(rand() * effects.length)
    const pre = Math.floor(10 * rand() ** 1.5)
    const rate = Math.min(0.95, 0.02 + 0.08 * pre + effects[variant]!)
    out.push({ variant, pre, converted: rand() < rate ? 1 : 0 })
  }
  return out
}

function counted(users: User[], k: number, withPre = true) {
  return Array.from({ length: k }, (_, v) => {
    const mine = users.filter((u) => u.variant === v)
    const pre: PreSums = {
      sum: mine.reduce((s, u) => s + u.pre, 0),
      sumSq: mine.reduce((s, u) => s + u.pre * u.pre, 0),
      sumConverted: mine.reduce((s, u) => s + u.pre * u.converted, 0),
    }
    return {
      key: v === 0 ? 'control' : String.fromCharCode(97 + v),
      name: v === 0 ? '对照' : String.fromCharCode(65 + v),
      weight: 1 / k,
      users: mine.length,
      conversions: mine.reduce((s, u) => s + u.converted, 0),
      ...(withPre ? { pre } : {}),
    }
  })
}

function solve(a: number[][], b: number[]): number[] {
  const n = b.length
  const m = a.map((row, i) => [...row, b[i]!])
  for (let c = 0; c < n; c++) {
    let pivot = c
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[pivot]![c]!)) pivot = r
    ;[m[c], m[pivot]] = [m[pivot]!, m[c]!]
    for (let r = 0; r < n; r++) {
      if (r === c) continue
      const f = m[r]![c]! / m[c]![c]!
      for (let j = c; j <= n; j++) m[r]![j]! -= f * m[c]![j]!
    }
  }
  return m.map((row, i) => row[n]! / row[i]!)
}

function inverse(a: number[][]): number[][] {
  const n = a.length
  const cols = Array.from({ length: n }, (_, j) => solve(a, Array.from({ length: n }, (_, i) => (i === j ? 1 : 0))))
  return Array.from({ length: n }, (_, i) => cols.map((col) => col[i]!))
}

/** OLS of converted on [1, dummies..., pre]: coefficients and HC0 standard errors. */
function regression(users: User[], k: number): { beta: number[]; se: number[] } {
  const row = (u: User) => [1, ...Array.from({ length: k - 1 }, (_, j) => (u.variant === j + 1 ? 1 : 0)), u.pre]
  const p = k + 1
  const xtx = Array.from({ length: p }, () => new Array<number>(p).fill(0))
  const xty = new Array<number>(p).fill(0)
  for (const u of users) {
    const x = row(u)
    for (let i = 0; i < p; i++) {
      xty[i]! += x[i]! * u.converted
      for (let j = 0; j < p; j++) xtx[i]![j]! += x[i]! * x[j]!
    }
  }
  const beta = solve(xtx, xty)
  const meat = Array.from({ length: p }, () => new Array<number>(p).fill(0))
  for (const u of users) {
    const x = row(u)
    const e = u.converted - x.reduce((s, xi, i) => s + xi * beta[i]!, 0)
    for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) meat[i]![j]! += e * e * x[i]! * x[j]!
  }
  const bread = inverse(xtx)
  const mul = (a: number[][], b: number[][]) => a.map((r) => b[0]!.map((_, j) => r.reduce((s, v, t) => s + v * b[t]![j]!, 0)))
  const cov = mul(mul(bread, meat), bread)
  return { beta, se: cov.map((r, i) => Math.sqrt(r[i]!)) }
}

const users = generate(7, 12_000, [0, 0.02, 0])
const result = analyze(counted(users, 3))
const ols = regression(users, 3)

test('the adjusted differences are the regression’s variant coefficients, and θ its covariate slope', () => {
  for (const v of [1, 2]) {
    const cuped = result.comparisons[v - 1]!.cuped!
    expect(cuped).not.toBeNull()
    expect(Math.abs(cuped.diff - ols.beta[v]!)).toBeLessThan(1e-10)
    expect(Math.abs(cuped.theta - ols.beta[3]!)).toBeLessThan(1e-10)
    // Standard errors agree with the robust regression ones to within 1% (they differ by O(1/n)).
    const se = (cuped.diffCi[1] - cuped.diffCi[0]) / (2 * Z95)
    expect(Math.abs(se / ols.se[v]! - 1)).toBeLessThan(0.01)
  }
})

test('when pre-period activity predicts conversion, the variance drops and the interval narrows', () => {
  const b = result.comparisons[0]!
  // 25% on this data: the same precision with a quarter fewer users.
  expect(b.cuped!.varianceReduction!).toBeGreaterThan(0.2)
  const width = (ci: [number, number] | null) => ci![1] - ci![0]
  expect(width(b.cuped!.diffCi)).toBeLessThan(width(b.diffCi) * 0.9)
  expect(width(b.cuped!.upliftCi)).toBeLessThan(width(b.upliftCi))
  // The true +2 points lies in both intervals.
  for (const ci of [b.diffCi!, b.cuped!.diffCi]) {
    expect(ci[0]).toBeLessThan(0.02)
    expect(ci[1]).toBeGreaterThan(0.02)
  }
})

/** Every number anywhere in the value is finite. */
function allFinite(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value)
  if (Array.isArray(value)) return value.every(allFinite)
  if (value && typeof value === 'object') return Object.values(value).every(allFinite)
  return true
}

test('falls back to the unadjusted numbers when the pre-period is missing or constant: no NaN, no Infinity', () => {
  const missing = analyze(counted(users, 3, false))
  const constant = analyze(counted(users.map((u) => ({ ...u, pre: 3 })), 3))
  const allNew = analyze(counted(users.map((u) => ({ ...u, pre: 0 })), 3))
  for (const r of [missing, constant, allNew]) {
    expect(r.comparisons.map((c) => c.cuped)).toEqual([null, null])
    // The always-valid interval is then of the unadjusted difference.
    expect(r.comparisons[0]!.sequentialCi![0]).toBeLessThan(r.comparisons[0]!.diffCi![0])
    expect(allFinite(r)).toBe(true)
  }
  // One variant without pre sums: no adjustment at all (θ would mix what is known with what is not).
  const partial = counted(users, 3)
  delete (partial[2] as { pre?: PreSums }).pre
  expect(cupedTheta(partial)).toBeNull()

  const empty = analyze([
    { key: 'control', name: '对照', weight: 0.5, users: 0, conversions: 0, pre: { sum: 0, sumSq: 0, sumConverted: 0 } },
    { key: 'b', name: 'B', weight: 0.5, users: 0, conversions: 0, pre: { sum: 0, sumSq: 0, sumConverted: 0 } },
  ])
  expect(empty.comparisons[0]).toMatchObject({ cuped: null, sequentialCi: null, diff: null })
  expect(allFinite(empty)).toBe(true)
  // Nobody converted in the control: no relative uplift, no Infinity.
  const zero = analyze([
    { key: 'control', name: '对照', weight: 0.5, users: 500, conversions: 0, pre: { sum: 100, sumSq: 300, sumConverted: 0 } },
    { key: 'b', name: 'B', weight: 0.5, users: 500, conversions: 20, pre: { sum: 110, sumSq: 320, sumConverted: 30 } },
  ])
  expect(allFinite(zero)).toBe(true)
  expect(zero.comparisons[0]!.uplift).toBeNull()
})

test('the chance to beat control never reads 100% or 0%, at either end', () => {
  // Exactly 1 and exactly 0 in floating point.
  const lopsided = analyze([
    { key: 'control', name: '对照', weight: 0.5, users: 5000, conversions: 100 },
    { key: 'b', name: 'B', weight: 0.5, users: 5000, conversions: 900 },
  ])
  expect(lopsided.comparisons[0]!.chanceToBeat).toBe(1)
  expect(lopsided.verdict.text).toMatch(/^B 更好：胜过对照的概率 >99\.9%，/)
  const reversed = analyze([
    { key: 'control', name: '对照', weight: 0.5, users: 5000, conversions: 900 },
    { key: 'b', name: 'B', weight: 0.5, users: 5000, conversions: 100 },
  ])
  // Its chance to lose, 1 − chance, is exactly 1.
  expect(1 - reversed.comparisons[0]!.chanceToBeat!).toBe(1)
  expect(reversed.verdict.text).toMatch(/^B 更差：不如对照的概率 >99\.9%，/)
  expect(formatChance(1)).toBe('>99.9%')
  expect(formatChance(0.9996)).toBe('>99.9%')
  expect(formatChance(0.999)).toBe('99%')
  expect(formatChance(0)).toBe('<0.1%')
  expect(formatChance(0.0004)).toBe('<0.1%')
  expect(formatChance(0.004)).toBe('1%')
  expect(formatChance(0.5)).toBe('50%')
  expect(formatChance(Number.NaN)).toBe('—')
})
