/**
 * Contract of the `survey` function: a one-question survey (NPS, or a question with choices) with
 * an optional free-text follow-up, configured in the `app_config` document `survey` and shown to
 * the users its targeting picks; answers and dismissals stored once per user and survey; per-day
 * NPS and answer distribution for admins, by channel or experiment variant.
 */
import * as z from 'zod/v4'
import type { ApiOf } from '../_shared/contract'

/** Limits the sheet enforces too (packages/survey/sheet/index.ts ties its copies to these types). */
export const NPS_MAX = 10
export const TEXT_MAX = 200
export const CHOICES_MAX = 6
/** The `stats` range, in days. */
export const STATS_MAX_DAYS = 90

export const SURVEY_ID = /^[a-z0-9_]{1,48}$/
const surveyId = z.string().regex(SURVEY_ID, 'surveyId must be lower-case letters, digits and _')
const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a day is YYYY-MM-DD')
const experimentKey = z.string().regex(/^[a-z0-9_]{1,48}$/)

/** Length as the user sees it: code points. */
export const textLength = (text: string) => Array.from(text).length

/** One survey in `app_config/survey` (`{ surveys: [...] }`); the first due one is shown. */
export const surveySchema = z.strictObject({
  id: surveyId,
  enabled: z.boolean(),
  kind: z.enum(['nps', 'choice']),
  question: z.string().trim().min(1).max(60),
  /** For `choice`: the answers offered. */
  choices: z.array(z.string().trim().min(1).max(20)).min(2).max(CHOICES_MAX).optional(),
  /** An optional free-text question under the answer, e.g. 「主要原因是什么？」. */
  followUp: z.string().trim().min(1).max(40).optional(),
  target: z
    .strictObject({
      /** Shown only to users active (launched the app) on at least this many different days. */
      minActiveDays: z.number().int().min(1).max(365).optional(),
      /** Shown only after the user has tracked this event at least once (a tracking-plan name). */
      afterEvent: z.string().regex(/^[a-z0-9_]{1,64}$/).optional(),
      /** Share of users who may see it, by a hash of survey id and OPENID (stable per user). */
      percentage: z.number().gt(0).max(1).optional(),
      /** No survey shown to a user more than once in this many days (answered or dismissed). */
      everyDays: z.number().int().min(1).max(365).default(30),
    })
    .default({ everyDays: 30 }),
}).refine((s) => (s.kind === 'choice') === (s.choices !== undefined), { message: 'choices are given for, and only for, kind "choice"', path: ['choices'] })

export const surveyConfigSchema = z.strictObject({ _id: z.literal('survey'), surveys: z.array(surveySchema).max(20) })
export type SurveyConfig = z.output<typeof surveySchema>

/** What the device shows. */
export interface DueSurvey {
  id: string
  kind: 'nps' | 'choice'
  question: string
  choices?: string[]
  followUp?: string
}

export const surveyActions = {
  /** The survey the caller should see now, or null. Reads config, the caller's responses, and events for targeting. */
  due: { input: z.strictObject({}), auth: 'user' },
  /**
   * The caller's answer: `score` 0–10 for NPS, `choice` (an index) for a choice survey, optional
   * `text` (content-checked). One per user and survey: sending it again changes nothing.
   */
  answer: {
    input: z.strictObject({
      surveyId,
      score: z.number().int().min(0).max(NPS_MAX).optional(),
      choice: z.number().int().min(0).max(CHOICES_MAX - 1).optional(),
      text: z
        .string()
        .trim()
        .refine((v) => textLength(v) <= TEXT_MAX, `text is at most ${TEXT_MAX} characters`)
        .refine((v) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(v), 'text contains control characters')
        .optional(),
    }),
    auth: 'user',
  },
  /** The caller closed the sheet without answering: that survey is not shown to them again. */
  dismiss: { input: z.strictObject({ surveyId }), auth: 'user' },
  /** Admins: per day, answers, NPS and the answer distribution; optionally per channel or per variant of an experiment. */
  stats: {
    input: z.strictObject({
      /** Default: the first survey of the config. */
      surveyId: surveyId.optional(),
      from: day,
      to: day,
      segment: z.union([z.literal('channel'), z.strictObject({ experiment: experimentKey })]).optional(),
    }),
    auth: 'user',
  },
} as const

export interface DayStats {
  day: string
  /** The channel or variant, or '' without a segment. */
  segment: string
  answers: number
  dismissals: number
  /** Count per score 0–10 (NPS) or per choice index. */
  distribution: number[]
  /** (promoters − detractors) / answers × 100, NPS only; null without answers. */
  nps: number | null
}

export interface SurveyOutputs {
  due: { survey: DueSurvey | null }
  answer: { duplicate: boolean }
  dismiss: { recorded: boolean }
  stats: {
    survey: DueSurvey | null
    /** Every configured survey, to pick from. */
    surveys: { id: string; question: string }[]
    /** Experiment keys to segment by (stored experiments and the repo's defaults). */
    experiments: string[]
    days: DayStats[]
    totals: Omit<DayStats, 'day'>[]
  }
}

export type SurveyApi = ApiOf<typeof surveyActions, SurveyOutputs>
