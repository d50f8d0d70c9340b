/**
 * What daily peeking does to each way of reading an experiment, by simulation through the
 * production `analyze()` (cloudfunctions/experiments/stats.ts): many experiments, two variants,
 * users arriving every day for 30 days, the results read after every day as an admin would.
 *
 *  - no true difference (A/A): the share of experiments that ever show a difference. The
 *    always-valid interval ("可以停止") must stay at or below 5%; the fixed-horizon p < 0.05 and
 *    the Bayesian "better/worse" verdict are reported for contrast, and the fixed-horizon test
 *    read once, on day 30, as planned.
 *  - a true difference: the share where the always-valid interval finds it within 30 days, and
 *    the average day it does.
 *
 * And CUPED's variance reduction on generated traffic where pre-period activity predicts
 * conversion (`cupedReduction`).
 *
 * Seeded (mulberry32), so every run gives the same figures.
 *
 *   tsx tools/bench/experiments-peeking.ts [--runs 4000] [--daily 100] [--json]
 */
import { parseArgs } from 'node:util'
import { analyze, type PreSums, SEQUENTIAL_TUNING } from '../../cloudfunctions/experiments/stats'
import { prng } from '../../test/helpers/prng'

export interface PeekingOptions {
  runs: number
  days: number
  /** New users per variant per day. */
  dailyUsers: number
  controlRate: number
  variantRate: number
  seed: number
  tuning?: number
}

export interface PeekingResult {
  runs: number
  /** Share of runs where, on some day, the always-valid interval excluded 0 ("可以停止"). */
  sequentialRate: number
  /** Share where the fixed-horizon p-value fell below 0.05 on some day. */
  fixedPeekingRate: number
  /** Share where the Bayesian verdict said better or worse on some day. */
  bayesPeekingRate: number
  /** Share where the fixed-horizon p-value was below 0.05 on the last day (one planned look). */
  fixedFinalRate: number
  /** Mean day (1-based) of the first "可以停止", over the runs that reached it; null if none did. */
  meanStopDay: number | null
}

export function simulatePeeking(o: PeekingOptions): PeekingResult {
  const rand = prng(o.seed)
  let sequential = 0
  let fixedPeeking = 0
  let bayesPeeking = 0
  let fixedFinal = 0
  let stopDays = 0
  for (let run = 0; run < o.runs; run++) {
    const counts = [
      { key: 'control', name: '对照', weight: 0.5, users: 0, conversions: 0 },
      { key: 'b', name: 'B', weight: 0.5, users: 0, conversions: 0 },
    ]
    let stopDay = 0
    let pSeen = false
    let bayesSeen = false
    for (let day = 1; day <= o.days; day++) {
      for (const [i, rate] of [o.controlRate, o.variantRate].entries()) {
        const c = counts[i]!
        for (let u = 0; u < o.dailyUsers; u++) if (rand() < rate) c.conversions++
        c.users += o.dailyUsers
      }
      const r = analyze(counts, o.tuning ?? SEQUENTIAL_TUNING)
      const gated = r.verdict.kind !== 'not_enough_data' && r.verdict.kind !== 'srm'
      const p = r.comparisons[0]!.pValue
      if (gated && p !== null && p < 0.05) pSeen = true
      if (r.verdict.kind === 'better' || r.verdict.kind === 'worse') bayesSeen = true
      if (r.stopping.safe && stopDay === 0) stopDay = day
      if (day === o.days && p !== null && p < 0.05) fixedFinal++
    }
    if (stopDay > 0) {
      sequential++
      stopDays += stopDay
    }
    if (pSeen) fixedPeeking++
    if (bayesSeen) bayesPeeking++
  }
  return {
    runs: o.runs,
    sequentialRate: sequential / o.runs,
    fixedPeekingRate: fixedPeeking / o.runs,
    bayesPeekingRate: bayesPeeking / o.runs,
    fixedFinalRate: fixedFinal / o.runs,
    meanStopDay: sequential > 0 ? stopDays / sequential : null,
  }
}

/**
 * Two variants of `users` users each: pre-period goal events 0–9 (most users few), conversion
 * 2% + 8% per pre-period event, plus `effect` in the variant. CUPED's variance reduction of the
 * difference, and the interval widths without and with it.
 */
export function cupedReduction(users: number, effect: number, seed: number): { reduction: number; width: number; cupedWidth: number } {
  const rand = prng(seed)
  const variants = [0, effect].map((lift, i) => {
    const pre: PreSums = { sum: 0, sumSq: 0, sumConverted: 0 }
    let conversions = 0
    for (let u = 0; u < users; u++) {
      const x = Math.floor(10 * rand() ** 1.5)
      const converted = rand() < Math.min(0.95, 0.02 + 0.08 * x + lift)
      pre.sum += x
      pre.sumSq += x * x
      if (converted) {
        conversions++
        pre.sumConverted += x
      }
    }
    return { key: i === 0 ? 'control' : 'b', name: i === 0 ? '对照' : 'B', weight: 0.5, users, conversions, pre }
  })
  const c = analyze(variants).comparisons[0]!
  return { reduction: c.cuped?.varianceReduction ?? 0, width: c.diffCi![1] - c.diffCi![0], cupedWidth: c.cuped ? c.cuped.diffCi[1] - c.cuped.diffCi[0] : Number.NaN }
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`

if (require.main === module) {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '4000' }, daily: { type: 'string', default: '100' }, json: { type: 'boolean', default: false } } })
  const runs = Number(values.runs)
  const dailyUsers = Number(values.daily)
  const base = { runs, days: 30, dailyUsers, controlRate: 0.1, seed: 20 }
  const aa = simulatePeeking({ ...base, variantRate: 0.1 })
  const ab = simulatePeeking({ ...base, variantRate: 0.13, seed: 21 })
  const ab20 = simulatePeeking({ ...base, variantRate: 0.12, seed: 22 })
  const cuped = cupedReduction(5000, 0.02, 23)
  if (values.json) {
    console.log(JSON.stringify({ aa, ab, ab20, cuped }))
  } else {
    console.log(`peeking every day for 30 days, ${dailyUsers} users per variant per day, control 10%, ${runs} simulated experiments each (N* = ${SEQUENTIAL_TUNING})`)
    console.log('  no true difference (10% vs 10%): share of experiments that ever showed a difference')
    console.log(`    always-valid interval excludes 0 (可以停止)   ${pct(aa.sequentialRate)}`)
    console.log(`    fixed-horizon p < 0.05 on any day             ${pct(aa.fixedPeekingRate)}`)
    console.log(`    Bayesian verdict better/worse on any day      ${pct(aa.bayesPeekingRate)}`)
    console.log(`    fixed-horizon p < 0.05 on day 30 only         ${pct(aa.fixedFinalRate)}`)
    for (const [label, r] of [['10% vs 13% (+30%)', ab], ['10% vs 12% (+20%)', ab20]] as const) {
      console.log(`  true difference ${label}`)
      console.log(`    found by the always-valid interval            ${pct(r.sequentialRate)} of experiments, on day ${r.meanStopDay?.toFixed(1) ?? '-'} on average`)
      console.log(`    fixed-horizon p < 0.05 on day 30 (power)      ${pct(r.fixedFinalRate)}`)
    }
    console.log('CUPED, 5,000 users per variant, conversion rising with goal events in the 14 days before exposure')
    console.log(`  variance of the difference reduced by ${pct(cuped.reduction)}: 95% interval ${(cuped.width * 100).toFixed(2)} → ${(cuped.cupedWidth * 100).toFixed(2)} points wide (as many users as ${pct(1 / (1 - cuped.reduction) - 1)} more traffic)`)
  }
}
