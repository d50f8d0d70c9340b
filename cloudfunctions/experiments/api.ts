/**
 * Contract of the `experiments` function: feature flags and A/B experiments as configuration (the
 * `experiments` collection, one document per key, with defaults in defaults.ts), the config a
 * device needs at launch, admin validation and saving, and results computed by an hourly rollup
 * (never from raw events at query time). Assignment itself happens on the device and here with the
 * same pure code (miniprogram/core/bucketing.ts), so nothing about a user's variant is stored.
 */
import * as z from 'zod/v4'
import type { Targeting } from '../../miniprogram/core/bucketing'
import type { ApiOf, InputIssue } from '../_shared/contract'
import { configDocSchema, experimentKey, type FlagType } from './schema'

export type { FlagType } from './schema'
export type { Platform, Targeting } from '../../miniprogram/core/bucketing'
export { EXPERIMENT_KEY, EXPOSURE_EVENT, VARIANT_KEY } from './schema'

/** `validate` checks at most this many documents per call. */
export const MAX_VALIDATE_DOCS = 100

export const experimentsActions = {
  /** What a device needs at launch: running experiments, flags, and who the caller is for targeting. */
  config: { input: z.strictObject({}), auth: 'user' },
  /** Admins: checks one document (`doc`) or several (`docs`) against the schema; writes nothing. */
  validate: {
    input: z
      .strictObject({ doc: z.unknown().optional(), docs: z.array(z.unknown()).min(1).max(MAX_VALIDATE_DOCS).optional() })
      .refine((v) => (v.doc === undefined) !== (v.docs === undefined), 'give either "doc" or "docs"'),
    auth: 'user',
  },
  /**
   * Admins: writes one flag or experiment (replacing the stored one). Starting an experiment sets
   * `startedAt`, stopping it `stoppedAt`. The variants and weights of a running experiment cannot
   * change (users would move between variants mid-test): stop it first (CONFLICT).
   */
  save: { input: z.strictObject({ doc: configDocSchema }), auth: 'user' },
  /** Admins: every stored document with its validation issues, and the repo defaults not stored. */
  list: { input: z.strictObject({}), auth: 'user' },
  /** Admins: stored results of one experiment, or of all. Reads `metrics_experiments` only. */
  results: { input: z.strictObject({ key: experimentKey.optional() }), auth: 'user' },
  /** Admins: recompute results now (one experiment, or every running / recently stopped one). */
  rollup: { input: z.strictObject({ key: experimentKey.optional() }), auth: 'user' },
  /** The hourly timer (or an admin): recompute running experiments and those stopped in the last 30 days. */
  hourly: { input: z.strictObject({}), auth: 'public' },
} as const

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

/** A flag as devices get it. `rules` is empty when the flag is disabled (everyone gets defaultValue). */
export interface FlagConfig {
  key: string
  type: FlagType
  defaultValue: JsonValue
  rules: { when: Targeting; value: JsonValue }[]
}

/** A running experiment as devices get it (no name, goal or overrides: nothing they need). */
export interface ExperimentConfig {
  key: string
  /** First = control. */
  variants: { key: string; weight: number; value?: JsonValue }[]
  coverage: number
  targeting?: Targeting
}

export interface ClientConfig {
  /** Changes whenever flags or experiments change (a hash of them); devices may skip work when equal. */
  version: string
  flags: FlagConfig[]
  experiments: ExperimentConfig[]
  me: {
    /** The caller's OPENID: the id every assignment hashes. */
    id: string
    /** First seen today (Asia/Shanghai), or not seen by `user.login` yet. */
    isNew: boolean
    /** First-touch channel (users.firstTouch.channel), when known. */
    channel?: string
    /** Variants forced for this caller by an experiment's override list: experiment key → variant key. */
    forced: Record<string, string>
  }
}

export interface DocValidation {
  /** The document's `_id` when it has a readable one. */
  key: string | null
  valid: boolean
  issues: InputIssue[]
}

/** Dates of a stored document as ISO strings. */
export type StoredConfig = Record<string, unknown> & { _id: string; kind: 'flag' | 'experiment' }

export interface ListedDoc {
  key: string
  /** `stored`: a document of the collection; `default`: from defaults.ts, no document for that key. */
  source: 'stored' | 'default'
  kind: 'flag' | 'experiment' | 'unknown'
  valid: boolean
  issues: InputIssue[]
  /** The document as stored (dates as ISO strings). */
  doc: Record<string, unknown>
}

/** One variant's numbers. Rates are null with no users. */
export interface VariantResult {
  key: string
  name: string
  /** Configured weight (share of covered users expected). */
  weight: number
  users: number
  conversions: number
  rate: number | null
  /** 95% Wilson score interval of the rate. */
  rateCi: [number, number] | null
}

/** A variant against the control. Null where the data cannot say (no users, or a control rate of 0). */
export interface Comparison {
  variant: string
  /** Absolute difference of rates (variant − control) and its 95% interval (unpooled normal). */
  diff: number | null
  diffCi: [number, number] | null
  /** Relative uplift (variant / control − 1) and its 95% interval (delta method on the ratio, as GrowthBook's frequentist engine). */
  uplift: number | null
  upliftCi: [number, number] | null
  /** Two-sided two-proportion z-test (pooled standard error). */
  pValue: number | null
  /** Bayesian: P(variant rate > control rate) with Beta(1 + x, 1 + n − x) posteriors. */
  chanceToBeat: number | null
  /** The same comparison adjusted by pre-exposure activity (CUPED); null when it does not apply. */
  cuped: CupedComparison | null
  /**
   * Always-valid 95% interval of the difference (of CUPED's when `cuped` is set): a confidence
   * sequence that may be looked at every day; stopping when it excludes 0 keeps the error rate at 5%.
   */
  sequentialCi: [number, number] | null
}

/**
 * CUPED: each user's outcome adjusted by their pre-exposure activity (goal events in the 14 days
 * before their first exposure), which removes the part of the variance it predicts.
 */
export interface CupedComparison {
  /** Pooled within-variant slope of conversion on the covariate. */
  theta: number
  diff: number
  diffCi: [number, number]
  uplift: number | null
  upliftCi: [number, number] | null
  /** 1 − Var(adjusted difference) / Var(unadjusted difference); null when the latter is 0. */
  varianceReduction: number | null
}

/** Whether it is safe to stop the experiment now, by the always-valid intervals. */
export interface Stopping {
  safe: boolean
  /** The variant whose interval excludes 0 (safe only). */
  variant?: string
  /** One zh-CN line for the admin screen. */
  text: string
}

/** Sample-ratio-mismatch check: users per variant against the configured weights. */
export interface SrmCheck {
  chiSquare: number
  df: number
  pValue: number
  /** Users each variant should have had, from the weights. */
  expected: number[]
  /** pValue < SRM_P: the split is broken and no comparison can be trusted. */
  flagged: boolean
}

export type VerdictKind = 'srm' | 'not_enough_data' | 'better' | 'worse' | 'no_difference'

export interface Verdict {
  kind: VerdictKind
  /** The variant the verdict is about (better / worse). */
  variant?: string
  /** Chance to beat control (better) or to lose to it (worse), 0..1. */
  confidence?: number
  /** One zh-CN line for the admin screen. */
  text: string
}

export interface ExperimentResults {
  key: string
  name: string
  status: 'draft' | 'running' | 'stopped'
  goal: { event: string; withinDays: number }
  startedAt: string | null
  stoppedAt: string | null
  /** Exposures counted from `from` to `to`; conversions up to `withinDays` after each user's first exposure. */
  from: string | null
  to: string
  computedAt: string
  /** Users counted (exposed to exactly one variant). */
  users: number
  /** Users exposed to more than one variant (left out: which one would their conversion belong to?). */
  multipleExposures: number
  /** Users on the override list (QA), left out of the results. */
  overridden: number
  variants: VariantResult[]
  /** One per variant after the control. */
  comparisons: Comparison[]
  /** Null with fewer than 2 variants or no users. */
  srm: SrmCheck | null
  verdict: Verdict
  stopping: Stopping
}

export interface RollupRun {
  key: string
  ms: number
  users: number
  /** Why it was skipped (its stored document is invalid), or null. */
  error: string | null
}

export interface ExperimentsOutputs {
  config: ClientConfig
  validate: { valid: boolean; docs: DocValidation[] }
  save: { key: string; created: boolean; doc: StoredConfig }
  list: { items: ListedDoc[] }
  results: { items: ExperimentResults[] }
  rollup: { runs: RollupRun[] }
  hourly: { runs: RollupRun[] }
}

export type ExperimentsApi = ApiOf<typeof experimentsActions, ExperimentsOutputs>
