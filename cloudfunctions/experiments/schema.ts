/**
 * The schema of the `experiments` collection: one document per flag or experiment, `_id` = its key.
 * Admins may edit documents in the cloud console, so the same schema checks what `save` writes and
 * what `config` reads back (an invalid stored document is left out, never half-applied).
 */
import * as z from 'zod/v4'
import { type EventName, isEventName } from '../track/plan'

/** Flag and experiment keys (also the exposure event's `experiment` property). */
export const EXPERIMENT_KEY = /^[a-z0-9_]{1,48}$/
/** Variant keys (the exposure event's `variant` property). */
export const VARIANT_KEY = /^[a-z0-9_]{1,32}$/
/** Keys of the override list: OPENIDs (no dots: a dotted field name would be a path in the database). */
const OPENID = /^[A-Za-z0-9_-]{1,64}$/
const CHANNEL = /^[a-z0-9_-]{1,32}$/
const SDK_VERSION = /^\d{1,3}(\.\d{1,3}){0,3}$/

/** The exposure event: it cannot be a goal (every exposed user would "convert"). */
export const EXPOSURE_EVENT = 'experiment_viewed' satisfies EventName

/** Weights must sum to 1 within this tolerance (GrowthBook itself falls back to equal weights beyond ±0.01). */
export const WEIGHT_TOLERANCE = 0.001
export const MAX_VARIANTS = 6
/** A flag's or variant's JSON value, serialized, at most this long: the whole config goes to every device. */
const MAX_VALUE_CHARS = 4000

export const experimentKey = z.string().regex(EXPERIMENT_KEY, 'a key of lowercase letters, digits and _ (at most 48), such as "home_value_copy"')
export const variantKey = z.string().regex(VARIANT_KEY, 'a variant key of lowercase letters, digits and _ (at most 32), such as "control" or "b"')

/** A Date, or an ISO date-time string (how JSON and the console's text fields carry it). */
const instant = z.union([z.date(), z.iso.datetime({ offset: true }).transform((s) => new Date(s))])

const jsonValue = z.json().refine((v) => JSON.stringify(v).length <= MAX_VALUE_CHARS, `a value of at most ${MAX_VALUE_CHARS} characters as JSON`)

export const targetingSchema = z.strictObject({
  newUsers: z.boolean().optional(),
  channels: z.array(z.string().regex(CHANNEL, 'a channel id such as "poster"')).min(1).max(50).optional(),
  platforms: z.array(z.enum(['ios', 'android', 'ohos', 'windows', 'mac', 'devtools'])).min(1).optional(),
  minSdk: z.string().regex(SDK_VERSION, 'a base library version such as "2.32.3"').optional(),
  percentage: z.number().min(0).max(100).optional(),
})

export const FLAG_TYPES = ['boolean', 'string', 'number', 'json'] as const
export type FlagType = (typeof FLAG_TYPES)[number]

/** Whether a JSON value has a flag's declared type (json: any JSON value, objects and arrays included). */
export function hasFlagType(type: FlagType, value: unknown): boolean {
  switch (type) {
    case 'boolean':
      return typeof value === 'boolean'
    case 'string':
      return typeof value === 'string'
    case 'number':
      return typeof value === 'number' && Number.isFinite(value)
    case 'json':
      return value !== undefined
  }
}

const audit = {
  updatedAt: instant.optional(),
  updatedBy: z.string().max(64).optional(),
}

export const flagDocSchema = z
  .strictObject({
    _id: experimentKey,
    kind: z.literal('flag'),
    description: z.string().trim().max(200).default(''),
    type: z.enum(FLAG_TYPES),
    defaultValue: jsonValue,
    /** Evaluated in order; the first rule whose `when` matches gives the value. */
    rules: z.array(z.strictObject({ when: targetingSchema, value: jsonValue })).max(20).default([]),
    /** false: the rules are off and everyone gets defaultValue (a kill switch). */
    enabled: z.boolean().default(true),
    ...audit,
  })
  .superRefine((flag, ctx) => {
    if (!hasFlagType(flag.type, flag.defaultValue)) {
      ctx.addIssue({ code: 'custom', path: ['defaultValue'], message: `defaultValue must be a ${flag.type}` })
    }
    flag.rules.forEach((rule, i) => {
      if (!hasFlagType(flag.type, rule.value)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'value'], message: `the value must be a ${flag.type}, like the flag` })
    })
  })

const variantSchema = z.strictObject({
  key: variantKey,
  name: z.string().trim().min(1).max(20),
  weight: z.number().gt(0, 'a weight above 0').max(1),
  /** What the product shows for this variant (e.g. a tagline); the control's is the current product. */
  value: jsonValue.optional(),
})

function jsonKind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v
}

export const experimentDocSchema = z
  .strictObject({
    _id: experimentKey,
    kind: z.literal('experiment'),
    name: z.string().trim().min(1).max(40),
    /** What we believe and how we will know: "If ..., then <goal> rises, because ...". */
    hypothesis: z.string().trim().min(1).max(500),
    /** The first variant is the control. A draft may have none yet; a started experiment has 2 to 6. */
    variants: z.array(variantSchema).max(MAX_VARIANTS),
    /** Share of (targeted) users in the experiment; the others see the control and log no exposure. */
    coverage: z.number().gt(0, 'a coverage above 0').max(1).default(1),
    targeting: targetingSchema.optional(),
    goal: z.strictObject({
      event: z
        .string()
        .refine(isEventName, 'not an event of the tracking plan (cloudfunctions/track/plan.ts)')
        .refine((e) => e !== EXPOSURE_EVENT, 'the exposure event cannot be the goal'),
      withinDays: z.number().int().min(1).max(30),
    }),
    status: z.enum(['draft', 'running', 'stopped']),
    startedAt: instant.optional(),
    stoppedAt: instant.optional(),
    /** OPENID → variant key: those users always see that variant (QA); sent to nobody else. */
    overrides: z.record(z.string().regex(OPENID, 'an OPENID'), variantKey).optional(),
    ...audit,
  })
  .superRefine((exp, ctx) => {
    const n = exp.variants.length
    if (exp.status !== 'draft' && n < 2) {
      ctx.addIssue({ code: 'custom', path: ['variants'], message: `a ${exp.status} experiment needs 2 to ${MAX_VARIANTS} variants (a control first)` })
    } else if (n === 1) {
      ctx.addIssue({ code: 'custom', path: ['variants'], message: 'an experiment needs a control and at least one other variant' })
    }
    const seen = new Set<string>()
    exp.variants.forEach((v, i) => {
      if (seen.has(v.key)) ctx.addIssue({ code: 'custom', path: ['variants', i, 'key'], message: `duplicate variant key "${v.key}"` })
      seen.add(v.key)
    })
    if (n > 0) {
      const total = exp.variants.reduce((sum, v) => sum + v.weight, 0)
      if (Math.abs(total - 1) > WEIGHT_TOLERANCE) {
        ctx.addIssue({ code: 'custom', path: ['variants'], message: `variant weights must sum to 1 (they sum to ${Number(total.toFixed(6))})` })
      }
      const withValue = exp.variants.filter((v) => v.value !== undefined)
      if (withValue.length > 0 && withValue.length < n) {
        ctx.addIssue({ code: 'custom', path: ['variants'], message: 'give every variant a value, or none' })
      } else if (new Set(withValue.map((v) => jsonKind(v.value))).size > 1) {
        ctx.addIssue({ code: 'custom', path: ['variants'], message: 'variant values must all have the same type' })
      }
    }
    for (const [openid, variant] of Object.entries(exp.overrides ?? {})) {
      if (!seen.has(variant)) ctx.addIssue({ code: 'custom', path: ['overrides', openid], message: `no variant "${variant}" in this experiment` })
    }
    if (exp.startedAt && exp.stoppedAt && exp.stoppedAt < exp.startedAt) {
      ctx.addIssue({ code: 'custom', path: ['stoppedAt'], message: 'stoppedAt is before startedAt' })
    }
  })

/** Any document of the collection. */
export const configDocSchema = z.discriminatedUnion('kind', [flagDocSchema, experimentDocSchema])

export type FlagDoc = z.output<typeof flagDocSchema>
export type ExperimentDoc = z.output<typeof experimentDocSchema>
export type ConfigDoc = z.output<typeof configDocSchema>
export type ConfigDocInput = z.input<typeof configDocSchema>
