/**
 * The always-valid interval: its half-width against the normal-mixture boundary it comes from,
 * solved here numerically (the mixture integrated by Simpson's rule, the boundary by bisection);
 * and what daily peeking does, by seeded simulation through the production `analyze()`.
 */
import { analyze, sequentialHalfwidth, sequentialRho, SEQUENTIAL_TUNING, Z95 } from '../../cloudfunctions/experiments/stats'
import { simulatePeeking } from '../../tools/bench/experiments-peeking'

/** ∫ exp(λs − λ²t/2) N(λ; 0, ρ²) dλ: the mixture martingale of a standardised sum s after t units. */
function mixture(s: number, t: number, rho: number): number {
  const f = (l: number) => Math.exp(l * s - (l * l * t) / 2 - (l * l) / (2 * rho * rho)) / Math.sqrt(2 * Math.PI * rho * rho)
  // The integrand is a Gaussian bump in λ: integrate 14 of its widths either side of its peak.
  const precision = t + 1 / (rho * rho)
  const lo = s / precision - 14 / Math.sqrt(precision)
  const hi = s / precision + 14 / Math.sqrt(precision)
  const n = 4000
  const h = (hi - lo) / n
  let sum = f(lo) + f(hi)
  for (let i = 1; i < n; i++) sum += f(lo + i * h) * (i % 2 ? 4 : 2)
  return (sum * h) / 3
}

/** The mean's half-width where the mixture reaches 1/α (the sum's boundary divided by t). */
function textbookHalfwidth(t: number, alpha: number, rho: number): number {
  let lo = 0
  let hi = 50 * Math.sqrt(t)
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2
    if (mixture(mid, t, rho) < 1 / alpha) lo = mid
    else hi = mid
  }
  return (lo + hi) / 2 / t
}

test('GrowthBook’s default tuning parameter and ρ', () => {
  expect(SEQUENTIAL_TUNING).toBe(5000)
  // ρ² N* = −2 ln α + ln(−2 ln α + 1) at α = 0.05: 5.991 + 2.022.
  expect(sequentialRho(0.05, 5000) ** 2 * 5000).toBeCloseTo(-2 * Math.log(0.05) + Math.log(-2 * Math.log(0.05) + 1), 12)
})

test.each([10, 200, 5000, 60_000])('the half-width at n = %i is where the normal mixture reaches 1/α', (n) => {
  const rho = sequentialRho(0.05, 5000)
  // Unit variance per unit: se of the mean is 1/√n.
  const ours = sequentialHalfwidth(1 / Math.sqrt(n), n)!
  expect(Math.abs(ours - textbookHalfwidth(n, 0.05, rho)) / ours).toBeLessThan(1e-6)
  // Always wider than the fixed-horizon 95% interval (the price of looking any time).
  expect(ours).toBeGreaterThan(Z95 / Math.sqrt(n))
})

test('bad input gives no interval rather than NaN', () => {
  expect(sequentialHalfwidth(0.1, 0)).toBeNull()
  expect(sequentialHalfwidth(Number.NaN, 100)).toBeNull()
  expect(sequentialHalfwidth(-1, 100)).toBeNull()
  expect(sequentialHalfwidth(0, 100)).toBe(0)
})

test('the stopping line: too little data, an interval with 0, one without', () => {
  const few = analyze([
    { key: 'control', name: '对照', weight: 0.5, users: 80, conversions: 8 },
    { key: 'b', name: 'B', weight: 0.5, users: 80, conversions: 30 },
  ])
  expect(few.stopping).toEqual({ safe: false, text: '还不能停止：数据还不够' })
  const flat = analyze([
    { key: 'control', name: '对照', weight: 0.5, users: 3000, conversions: 300 },
    { key: 'b', name: 'B', weight: 0.5, users: 3000, conversions: 330 },
  ])
  const ci = flat.comparisons[0]!.sequentialCi!
  expect(ci[0]).toBeLessThan(0)
  expect(ci[1]).toBeGreaterThan(0)
  // Wider than the fixed-horizon interval of the same difference.
  const fixed = flat.comparisons[0]!.diffCi!
  expect(ci[1] - ci[0]).toBeGreaterThan(fixed[1] - fixed[0])
  expect(flat.stopping.safe).toBe(false)
  expect(flat.stopping.text).toBe('还不能停止：随时有效区间都含 0，继续观察（每天查看不会增加误判）')
  const clear = analyze([
    { key: 'control', name: '对照', weight: 0.5, users: 5000, conversions: 500 },
    { key: 'b', name: 'B', weight: 0.5, users: 5000, conversions: 650 },
  ])
  expect(clear.stopping).toMatchObject({ safe: true, variant: 'b' })
  expect(clear.stopping.text).toMatch(/^可以停止：B 的随时有效区间 \+\d\.\d ~ \+\d\.\d 个百分点，不含 0（误判率不超过 5%）$/)
})

describe('daily peeking for 30 days (100 users per variant per day, control 10%)', () => {
  const base = { days: 30, dailyUsers: 100, controlRate: 0.1 }

  test('with no true difference the always-valid interval stays at or below 5%; looking at p-values every day does not', () => {
    const r = simulatePeeking({ ...base, runs: 1000, variantRate: 0.1, seed: 20 })
    expect(r.sequentialRate).toBeLessThanOrEqual(0.05)
    // For contrast: the fixed-horizon test read every day finds a "difference" far more often than 5%,
    // while read once on day 30 it keeps about its 5%.
    expect(r.fixedPeekingRate).toBeGreaterThan(0.15)
    expect(r.fixedFinalRate).toBeLessThan(0.08)
    expect(r.bayesPeekingRate).toBeGreaterThan(r.fixedPeekingRate)
  })

  test('with a true difference (10% → 13%) it finds it in most experiments, well before day 30 on average', () => {
    const r = simulatePeeking({ ...base, runs: 400, variantRate: 0.13, seed: 21 })
    expect(r.sequentialRate).toBeGreaterThan(0.7)
    expect(r.meanStopDay).not.toBeNull()
    expect(r.meanStopDay!).toBeGreaterThan(5)
    expect(r.meanStopDay!).toBeLessThan(25)
  })
})
