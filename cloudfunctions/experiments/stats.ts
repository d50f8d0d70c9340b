/**
 * The statistics of an experiment's results, pure and dependency-free (the rollup feeds it counts).
 *
 *  - Rate of each variant with a 95% Wilson score interval (good near 0 and with small n, unlike Wald).
 *  - Against the control: absolute difference with an unpooled normal interval; relative uplift with
 *    a delta-method interval (as GrowthBook's frequentist engine); a two-sided two-proportion z-test
 *    (pooled standard error) for the p-value.
 *  - Bayesian chance to beat control: P(p_variant > p_control) with Beta(1 + x, 1 + n − x)
 *    posteriors (uniform priors), by Evan Miller's exact closed form.
 *  - Sample-ratio mismatch: Pearson's chi-squared goodness of fit of users per variant against the
 *    configured weights, k − 1 degrees of freedom; flagged when p < 0.001 (GrowthBook's default).
 *  - Always-valid (sequential) interval of the difference: the asymptotic confidence sequence of
 *    Waudby-Smith et al. (arXiv 2103.06476) as GrowthBook's sequential testing uses it, tuning
 *    parameter N* = 5000; it may be looked at every day, and stopping when it excludes 0 keeps the
 *    false-positive rate at α.
 *  - CUPED: the difference adjusted by each user's pre-exposure activity (θ = pooled within-variant
 *    slope of the outcome on it, which is what a regression on variant and covariate estimates).
 *
 * Special functions: log-gamma (Lanczos, g = 7), the regularized incomplete gamma (series and
 * continued fraction, Numerical Recipes §6.2); the normal CDF is erfc, which is Q(1/2, x²).
 * test/cloud/experiments-stats.test.ts checks them against numeric integration to 4 decimals.
 */
import { getBucketRanges } from '../../miniprogram/core/bucketing'
import { formatChance } from '../../miniprogram/packages/admin/view'
import type { Comparison, CupedComparison, SrmCheck, Stopping, VariantResult, Verdict } from './api'

/** Two-sided 95%: Φ⁻¹(0.975). */
export const Z95 = 1.959963984540054
/** SRM is flagged below this p-value. */
export const SRM_P = 0.001
/** A verdict needs every variant to have at least this many users and conversions. */
export const MIN_USERS = 100
export const MIN_CONVERSIONS = 10
/** "Better" when the chance to beat control reaches this; "worse" when it falls to 1 − this. */
export const DECISION_CHANCE = 0.95
/** Error rate of the always-valid interval (GrowthBook's default alpha). */
export const ALPHA = 0.05
/**
 * The confidence sequence's tuning parameter N*: the total sample size (both groups) at which the
 * interval is narrowest relative to a fixed-horizon one. GrowthBook's documented default, 5000.
 */
export const SEQUENTIAL_TUNING = 5000

// ---- special functions --------------------------------------------------------------------------

// Local names for Math's members: the loops below run once per conversion, and a global lookup per
// call costs about 30× more in a sandboxed context (jest's vm, the simulations in the tests).
const { PI, abs, exp, log, max, min, sin, sqrt } = Math

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
]

/** ln Γ(x) for x > 0 (Lanczos approximation, relative error ~1e-15). */
export function logGamma(x: number): number {
  if (x < 0.5) return log(PI / sin(PI * x)) - logGamma(1 - x)
  const y = x - 1
  let a = LANCZOS[0]!
  const t = y + 7.5
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (y + i)
  return 0.5 * log(2 * PI) + (y + 0.5) * log(t) - t + log(a)
}

/** ln B(a, b). */
export function logBeta(a: number, b: number): number {
  return logGamma(a) + logGamma(b) - logGamma(a + b)
}

const EPS = 1e-15
const MAX_ITER = 10_000

/** Regularized upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1
  if (x < a + 1) return 1 - gammaPSeries(a, x)
  return gammaQFraction(a, x)
}

function gammaPSeries(a: number, x: number): number {
  let ap = a
  let sum = 1 / a
  let del = sum
  for (let n = 0; n < MAX_ITER; n++) {
    ap += 1
    del *= x / ap
    sum += del
    if (abs(del) < abs(sum) * EPS) break
  }
  return sum * exp(-x + a * log(x) - logGamma(a))
}

/** Lentz's continued fraction for Q(a, x), x ≥ a + 1. */
function gammaQFraction(a: number, x: number): number {
  const tiny = 1e-300
  let b = x + 1 - a
  let c = 1 / tiny
  let d = 1 / b
  let h = d
  for (let i = 1; i < MAX_ITER; i++) {
    const an = -i * (i - a)
    b += 2
    d = an * d + b
    if (abs(d) < tiny) d = tiny
    c = b + an / c
    if (abs(c) < tiny) c = tiny
    d = 1 / d
    const del = d * c
    h *= del
    if (abs(del - 1) < EPS) break
  }
  return exp(-x + a * log(x) - logGamma(a)) * h
}

/** Standard normal CDF Φ(z), via erfc(t) = Q(1/2, t²). */
export function normalCdf(z: number): number {
  const tail = 0.5 * gammaQ(0.5, (z * z) / 2) // P(Z > |z|)
  return z >= 0 ? 1 - tail : tail
}

/** Two-sided p-value of a z statistic, computed from the tail (no 1 − Φ cancellation). */
export function twoSidedP(z: number): number {
  return min(1, gammaQ(0.5, (z * z) / 2))
}

/** P(X ≥ x) for X ~ chi-squared with `df` degrees of freedom. */
export function chiSquareSf(x: number, df: number): number {
  return gammaQ(df / 2, x / 2)
}

// ---- intervals and tests ------------------------------------------------------------------------

export interface Counts {
  users: number
  conversions: number
}

/** 95% Wilson score interval of x successes in n; null when n = 0. */
export function wilson(x: number, n: number, z = Z95): [number, number] | null {
  if (n <= 0) return null
  const p = x / n
  const z2 = z * z
  const denom = 1 + z2 / n
  const center = (p + z2 / (2 * n)) / denom
  const half = (z / denom) * sqrt((p * (1 - p)) / n + z2 / (4 * n * n))
  return [max(0, center - half), min(1, center + half)]
}

/** Two-proportion z-test with the pooled standard error; p-value two-sided. */
export function twoProportionTest(a: Counts, b: Counts): { z: number; pValue: number } | null {
  if (a.users <= 0 || b.users <= 0) return null
  const pooled = (a.conversions + b.conversions) / (a.users + b.users)
  const se = sqrt(pooled * (1 - pooled) * (1 / a.users + 1 / b.users))
  if (se === 0) return { z: 0, pValue: 1 } // both 0% or both 100%: no evidence of a difference
  const z = (b.conversions / b.users - a.conversions / a.users) / se
  return { z, pValue: twoSidedP(z) }
}

/**
 * P(p_b > p_a) for Beta(1 + x, 1 + n − x) posteriors, exact (Evan Miller, "Formulas for Bayesian
 * A/B testing"): Σ_{i=0}^{α_b−1} B(α_a + i, β_a + β_b) / ((β_b + i) B(1 + i, β_b) B(α_a, β_a)).
 * O(conversions of b) terms; sums over the smaller side by symmetry.
 */
export function chanceToBeat(a: Counts, b: Counts): number {
  const alphaA = 1 + a.conversions
  const betaA = 1 + a.users - a.conversions
  const alphaB = 1 + b.conversions
  const betaB = 1 + b.users - b.conversions
  // P(b > a) = 1 − P(a > b) (ties have probability 0): loop over whichever alpha is smaller.
  if (alphaA < alphaB) return 1 - probGreater(alphaB, betaB, alphaA, betaA)
  return probGreater(alphaA, betaA, alphaB, betaB)
}

/** P(Y > X) for X ~ Beta(aX, bX), Y ~ Beta(aY, bY); aY an integer. */
function probGreater(aX: number, bX: number, aY: number, bY: number): number {
  const base = logBeta(aX, bX)
  let total = 0
  for (let i = 0; i < aY; i++) {
    total += exp(logBeta(aX + i, bX + bY) - log(bY + i) - logBeta(1 + i, bY) - base)
  }
  return min(1, max(0, total))
}

/** A variant against the control: difference, relative uplift, p-value, chance to beat. */
export function compare(control: Counts, variant: Counts, z = Z95): Omit<Comparison, 'variant' | 'cuped' | 'sequentialCi'> {
  if (control.users <= 0 || variant.users <= 0) {
    return { diff: null, diffCi: null, uplift: null, upliftCi: null, pValue: null, chanceToBeat: null }
  }
  const p0 = control.conversions / control.users
  const p1 = variant.conversions / variant.users
  const v0 = p0 * (1 - p0) // per-user variance of a conversion (Bernoulli)
  const v1 = p1 * (1 - p1)
  const diff = p1 - p0
  const seDiff = sqrt(v0 / control.users + v1 / variant.users)
  let uplift: number | null = null
  let upliftCi: [number, number] | null = null
  if (p0 > 0) {
    // Delta method for the ratio p1/p0 (GrowthBook's frequentist relative effect).
    uplift = p1 / p0 - 1
    const se = sqrt(v1 / (p0 * p0 * variant.users) + (v0 * p1 * p1) / (p0 ** 4 * control.users))
    upliftCi = [uplift - z * se, uplift + z * se]
  }
  return {
    diff,
    diffCi: [diff - z * seDiff, diff + z * seDiff],
    uplift,
    upliftCi,
    pValue: twoProportionTest(control, variant)?.pValue ?? null,
    chanceToBeat: chanceToBeat(control, variant),
  }
}

// ---- always-valid interval ---------------------------------------------------------------------

/** ρ of the normal mixture, chosen so the sequence is tightest near N* units (GrowthBook: `sequentialRho`). */
export function sequentialRho(alpha = ALPHA, tuning = SEQUENTIAL_TUNING): number {
  return sqrt((-2 * log(alpha) + log(-2 * log(alpha) + 1)) / tuning)
}

/**
 * Half-width of the two-sided (1 − α) asymptotic confidence sequence for an estimate with standard
 * error `se` from `n` units in all: √(n·se²) · √(2(nρ² + 1) / (n²ρ²) · ln(√(nρ² + 1) / α)).
 * n·se² is the per-unit variance the sequence is written in; null without units or a finite se.
 */
export function sequentialHalfwidth(se: number, n: number, alpha = ALPHA, tuning = SEQUENTIAL_TUNING): number | null {
  if (!(n > 0) || !Number.isFinite(se) || se < 0) return null
  const rho2 = sequentialRho(alpha, tuning) ** 2
  const width = sqrt(n * se * se) * sqrt(((2 * (n * rho2 + 1)) / (n * n * rho2)) * log(sqrt(n * rho2 + 1) / alpha))
  return Number.isFinite(width) ? width : null
}

// ---- CUPED --------------------------------------------------------------------------------------

/**
 * Sums over one variant's users of the pre-exposure covariate X (goal events in the 14 days before
 * the first exposure) and its products, from the rollup; the outcome Y is 0/1 (converted), so
 * ΣY = conversions and ΣY² = ΣY.
 */
export interface PreSums {
  sum: number
  sumSq: number
  /** Σ X·Y: the covariate summed over users who converted. */
  sumConverted: number
}

interface Moments {
  n: number
  meanX: number
  meanY: number
  varX: number
  varY: number
  cov: number
}

function momentsOf(c: Counts & { pre?: PreSums }): Moments | null {
  if (c.users <= 0 || !c.pre) return null
  const n = c.users
  const meanX = c.pre.sum / n
  const meanY = c.conversions / n
  return {
    n,
    meanX,
    meanY,
    varX: max(0, c.pre.sumSq / n - meanX * meanX),
    varY: meanY * (1 - meanY),
    cov: c.pre.sumConverted / n - meanX * meanY,
  }
}

/**
 * θ for the adjustment: the within-variant slope of Y on X pooled over variants. Null (no
 * adjustment) when a variant has no pre-period sums, or X does not vary within any variant (every
 * user new, a constant count): there is nothing to adjust by, and dividing would give NaN.
 */
export function cupedTheta(variants: readonly (Counts & { pre?: PreSums })[]): number | null {
  const moments = variants.map(momentsOf)
  if (moments.length < 2 || moments.some((m) => m === null)) return null
  const ms = moments as Moments[]
  const sxx = ms.reduce((s, m) => s + m.n * m.varX, 0)
  const sxy = ms.reduce((s, m) => s + m.n * m.cov, 0)
  const scale = ms.reduce((s, m) => s + m.n * (m.varX + m.meanX * m.meanX), 0)
  if (!(sxx > 1e-9 * max(1, scale))) return null
  const theta = sxy / sxx
  return Number.isFinite(theta) ? theta : null
}

/** Adjusted mean and per-user variance of each variant: Ȳ − θ(X̄ − X̄_all), Var(Y − θX). */
function adjusted(c: Counts & { pre?: PreSums }, theta: number, grandMeanX: number): { mean: number; variance: number; n: number } {
  const m = momentsOf(c)!
  return { n: m.n, mean: m.meanY - theta * (m.meanX - grandMeanX), variance: max(0, m.varY - 2 * theta * m.cov + theta * theta * m.varX) }
}

/** The CUPED-adjusted comparison of `variant` against `control`, or null when CUPED does not apply. */
export function cupedCompare(
  control: Counts & { pre?: PreSums },
  variant: Counts & { pre?: PreSums },
  theta: number | null,
  grandMeanX: number,
  z = Z95,
): CupedComparison | null {
  if (theta === null || control.users <= 0 || variant.users <= 0) return null
  const a = adjusted(control, theta, grandMeanX)
  const b = adjusted(variant, theta, grandMeanX)
  const diff = b.mean - a.mean
  const seDiff = sqrt(b.variance / b.n + a.variance / a.n)
  const p0 = control.conversions / control.users
  const p1 = variant.conversions / variant.users
  const plainVar = (p0 * (1 - p0)) / control.users + (p1 * (1 - p1)) / variant.users
  let uplift: number | null = null
  let upliftCi: [number, number] | null = null
  if (a.mean > 0) {
    uplift = b.mean / a.mean - 1
    const se = sqrt(b.variance / (a.mean * a.mean * b.n) + (a.variance * b.mean * b.mean) / (a.mean ** 4 * a.n))
    upliftCi = [uplift - z * se, uplift + z * se]
  }
  const out: CupedComparison = {
    theta,
    diff,
    diffCi: [diff - z * seDiff, diff + z * seDiff],
    uplift,
    upliftCi,
    varianceReduction: plainVar > 0 ? 1 - (seDiff * seDiff) / plainVar : null,
  }
  // Belt and braces: a number that is not finite never reaches the screen.
  const finite = [out.diff, ...out.diffCi, out.uplift ?? 0, ...(out.upliftCi ?? []), out.varianceReduction ?? 0].every(Number.isFinite)
  return finite ? out : null
}

/** Users each variant should have from the weights, normalised the way assignment does (bad weights → equal). */
export function expectedShares(weights: readonly number[]): number[] {
  const widths = getBucketRanges(weights.length, 1, weights).map(([start, end]) => end - start)
  const total = widths.reduce((s, w) => s + w, 0)
  return widths.map((w) => w / total)
}

/** Pearson chi-squared goodness of fit of `users` against `weights`; null with < 2 variants or no users. */
export function srmCheck(users: readonly number[], weights: readonly number[]): SrmCheck | null {
  const total = users.reduce((s, n) => s + n, 0)
  if (users.length < 2 || total === 0) return null
  const expected = expectedShares(weights).map((share) => share * total)
  const chiSquare = users.reduce((s, n, i) => s + (n - expected[i]!) ** 2 / expected[i]!, 0)
  const df = users.length - 1
  const pValue = chiSquareSf(chiSquare, df)
  return { chiSquare, df, pValue, expected, flagged: pValue < SRM_P }
}

// ---- verdict ------------------------------------------------------------------------------------

/** "+12.3%" / "−3.1%" (a real minus sign, as the admin screen shows). */
export function signedPercent(x: number, digits = 1): string {
  const text = (abs(x) * 100).toFixed(digits)
  if (Number(text) === 0) return `${(0).toFixed(digits)}%`
  return `${x < 0 ? '−' : '+'}${text}%`
}

const chancePercent = formatChance

interface Named extends Counts {
  key: string
  name: string
  /** Pre-exposure sums for CUPED; absent in results computed before them. */
  pre?: PreSums
}

/**
 * One line for the admin screen. In order: a broken split (SRM) overrides everything; then too few
 * users or conversions in any variant; then the best variant whose chance to beat control reaches
 * DECISION_CHANCE; then the worst whose chance falls to 1 − DECISION_CHANCE; else no clear difference.
 */
export function verdictOf(variants: readonly Named[], comparisons: readonly Comparison[], srm: SrmCheck | null): Verdict {
  if (srm?.flagged) {
    const p = srm.pValue < 0.0001 ? 'p < 0.0001' : `p = ${srm.pValue.toFixed(4)}`
    return { kind: 'srm', text: `样本比例异常（SRM，${p}），结果不可信，请检查分组` }
  }
  if (variants.length < 2 || variants.some((v) => v.users < MIN_USERS || v.conversions < MIN_CONVERSIONS)) {
    return { kind: 'not_enough_data', text: `数据还不够，继续观察（每组至少 ${MIN_USERS} 个用户、${MIN_CONVERSIONS} 次转化）` }
  }
  const rated = comparisons
    .map((c, i) => ({ c, v: variants[i + 1]! }))
    .filter((r) => r.c.chanceToBeat !== null && r.c.uplift !== null && r.c.upliftCi !== null)
  const line = (r: (typeof rated)[number]) =>
    `转化率 ${signedPercent(r.c.uplift!)}（95% 区间 ${signedPercent(r.c.upliftCi![0])} ~ ${signedPercent(r.c.upliftCi![1])}）`
  const best = [...rated].sort((x, y) => y.c.chanceToBeat! - x.c.chanceToBeat!)[0]
  if (best && best.c.chanceToBeat! >= DECISION_CHANCE) {
    const confidence = best.c.chanceToBeat!
    return { kind: 'better', variant: best.v.key, confidence, text: `${best.v.name} 更好：胜过对照的概率 ${chancePercent(confidence)}，${line(best)}` }
  }
  const worst = [...rated].sort((x, y) => x.c.chanceToBeat! - y.c.chanceToBeat!)[0]
  if (worst && worst.c.chanceToBeat! <= 1 - DECISION_CHANCE) {
    const confidence = 1 - worst.c.chanceToBeat!
    return { kind: 'worse', variant: worst.v.key, confidence, text: `${worst.v.name} 更差：不如对照的概率 ${chancePercent(confidence)}，${line(worst)}` }
  }
  const shown = best ? `：${best.v.name} 胜过对照的概率 ${chancePercent(best.c.chanceToBeat!)}，${line(best)}` : ''
  return { kind: 'no_difference', ...(best ? { variant: best.v.key } : {}), text: `暂无明显差异${shown}` }
}

/** "+1.2 个百分点": a difference of rates, as the stopping line shows it. */
function points(x: number): string {
  const text = (abs(x) * 100).toFixed(1)
  return Number(text) === 0 ? '0.0' : `${x < 0 ? '−' : '+'}${text}`
}

/**
 * Whether stopping now keeps the promised error rate: only the always-valid interval answers that
 * (the Bayesian chance and the fixed-horizon p-value do not hold up under daily looks). Safe when
 * some variant's interval excludes 0 and the verdict is not SRM or too little data.
 */
export function stoppingOf(variants: readonly Named[], comparisons: readonly Comparison[], verdict: Verdict): Stopping {
  if (verdict.kind === 'srm') return { safe: false, text: '先修复分组，再判断能否停止' }
  if (verdict.kind === 'not_enough_data') return { safe: false, text: '还不能停止：数据还不够' }
  const decided = comparisons
    .map((c, i) => ({ c, v: variants[i + 1]! }))
    .filter((r) => r.c.sequentialCi !== null && (r.c.sequentialCi[0] > 0 || r.c.sequentialCi[1] < 0))
    .sort((x, y) => abs(y.c.cuped?.diff ?? y.c.diff ?? 0) - abs(x.c.cuped?.diff ?? x.c.diff ?? 0))[0]
  if (decided) {
    const [lo, hi] = decided.c.sequentialCi!
    return {
      safe: true,
      variant: decided.v.key,
      text: `可以停止：${decided.v.name} 的随时有效区间 ${points(lo)} ~ ${points(hi)} 个百分点，不含 0（误判率不超过 ${ALPHA * 100}%）`,
    }
  }
  return { safe: false, text: `还不能停止：随时有效区间都含 0，继续观察（每天查看不会增加误判）` }
}

/** Everything the results screen shows, from users and conversions per variant (control first). */
export function analyze(
  variants: readonly (Named & { weight: number })[],
  tuning = SEQUENTIAL_TUNING,
): {
  variants: VariantResult[]
  comparisons: Comparison[]
  srm: SrmCheck | null
  verdict: Verdict
  stopping: Stopping
} {
  const control = variants[0]
  const theta = cupedTheta(variants)
  const allUsers = variants.reduce((s, v) => s + v.users, 0)
  const grandMeanX = theta === null || allUsers === 0 ? 0 : variants.reduce((s, v) => s + (v.pre?.sum ?? 0), 0) / allUsers
  const comparisons: Comparison[] = control
    ? variants.slice(1).map((v) => {
        const plain = compare(control, v)
        const cuped = cupedCompare(control, v, theta, grandMeanX)
        // The always-valid interval of the best estimate at hand: CUPED's when it applies.
        const [diff, ci] = cuped ? [cuped.diff, cuped.diffCi] : [plain.diff, plain.diffCi]
        const half = diff !== null && ci ? sequentialHalfwidth((ci[1] - ci[0]) / (2 * Z95), control.users + v.users, ALPHA, tuning) : null
        return { variant: v.key, ...plain, cuped, sequentialCi: diff !== null && half !== null ? [diff - half, diff + half] : null }
      })
    : []
  const srm = srmCheck(
    variants.map((v) => v.users),
    variants.map((v) => v.weight),
  )
  const verdict = verdictOf(variants, comparisons, srm)
  return {
    variants: variants.map((v) => ({
      key: v.key,
      name: v.name,
      weight: v.weight,
      users: v.users,
      conversions: v.conversions,
      rate: v.users > 0 ? v.conversions / v.users : null,
      rateCi: wilson(v.conversions, v.users),
    })),
    comparisons,
    srm,
    verdict,
    stopping: stoppingOf(variants, comparisons, verdict),
  }
}
