/**
 * `survey`: the one-question survey. `due` decides on the server who sees which survey (so the
 * targeting cannot be bypassed and needs no config on the device); `answer` and `dismiss` write
 * one document per user and survey (`<surveyId>:<openid>`), so a repeat changes nothing; `stats`
 * groups the answers per day for the admin screen.
 */
import { inRollout } from '../../miniprogram/core/bucketing'
import { DEFAULT_DOCS } from '../experiments/defaults'
import { isAdmin } from '../_shared/admin'
import { collection, isDuplicateKeyError, msgSecCheck, SecScene } from '../_shared/cloud'
import type { SurveyResponseDoc } from '../_shared/models'
import { releaseSlot, takeSlot } from '../_shared/rate-limit'
import { AppError, createRouter } from '../_shared/router'
import { daysFrom, shanghaiDay } from '../_shared/time'
import { type DayStats, type DueSurvey, NPS_MAX, STATS_MAX_DAYS, type SurveyConfig, surveyActions, surveyConfigSchema, type SurveyOutputs } from './api'

const DAY_MS = 86_400_000
/** Answers (and dismissals) per user per hour: far above a person's, well below a script's. */
const HOURLY_LIMIT = 10
/** The caller's responses read by `due`: enough for every survey of the config. */
const RESPONSES_READ = 20

/** The surveys of `app_config/survey`; an invalid document is reported in the log and shows nothing. */
async function surveys(): Promise<SurveyConfig[]> {
  const doc = await collection('app_config').get('survey')
  if (!doc) return []
  const parsed = surveyConfigSchema.safeParse(doc)
  if (!parsed.success) {
    console.warn(`[survey] app_config/survey is invalid, no survey is shown: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
    return []
  }
  return parsed.data.surveys
}

function toDue(s: SurveyConfig): DueSurvey {
  return { id: s.id, kind: s.kind, question: s.question, ...(s.choices ? { choices: s.choices } : {}), ...(s.followUp ? { followUp: s.followUp } : {}) }
}

/** Whether the targeting rules pick the caller: the cheap checks first, the database only when needed. */
async function targeted(s: SurveyConfig, openid: string): Promise<boolean> {
  const { percentage, afterEvent, minActiveDays } = s.target
  if (percentage !== undefined && !inRollout(`survey:${s.id}`, openid, percentage * 100)) return false
  if (afterEvent && (await collection('events').count({ name: afterEvent, openid })) === 0) return false
  if (minActiveDays && (await collection('user_days').count({ openid })) < minActiveDays) return false
  return true
}

/** What `stats` segments by, stored with each response: the first-touch channel and the variants the user was exposed to. */
async function segmentsOf(openid: string): Promise<Pick<SurveyResponseDoc, 'channel' | 'variants'>> {
  const [user, exposures] = await Promise.all([
    collection('users').get(openid, { firstTouch: true }),
    collection('events').find({ name: 'experiment_viewed', openid }, { fields: { props: true }, limit: 100 }),
  ])
  const variants: Record<string, string> = {}
  for (const e of exposures) {
    const { experiment, variant } = e.props as { experiment?: unknown; variant?: unknown }
    if (typeof experiment === 'string' && typeof variant === 'string' && !(experiment in variants)) variants[experiment] = variant
  }
  return { channel: user?.firstTouch?.channel ?? '', variants }
}

async function enabledSurvey(id: string): Promise<SurveyConfig> {
  const s = (await surveys()).find((x) => x.id === id)
  if (!s || !s.enabled) throw new AppError('NOT_FOUND', `No survey "${id}" is running.`)
  return s
}

export const main = createRouter<typeof surveyActions, SurveyOutputs>(surveyActions, {
  async due(_input, { openid }) {
    const all = (await surveys()).filter((s) => s.enabled)
    if (all.length === 0) return { survey: null }
    const mine = await collection('survey_responses').find({ openid }, { orderBy: [['at', 'desc']], limit: RESPONSES_READ, fields: { surveyId: true, at: true } })
    const now = Date.now()
    const last = mine[0] ? new Date(mine[0].at).getTime() : null
    const done = new Set(mine.map((r) => r.surveyId))
    for (const s of all) {
      if (done.has(s.id)) continue // answered or dismissed: never again
      if (last !== null && now - last < s.target.everyDays * DAY_MS) continue // at most one survey per everyDays
      if (await targeted(s, openid)) return { survey: toDue(s) }
    }
    return { survey: null }
  },

  async answer({ surveyId, score, choice, text }, { openid }) {
    const s = await enabledSurvey(surveyId)
    if (s.kind === 'nps' && (score === undefined || choice !== undefined)) throw new AppError('INVALID_INPUT', `An NPS answer is a score from 0 to ${NPS_MAX}.`)
    if (s.kind === 'choice' && (choice === undefined || score !== undefined || choice >= s.choices!.length)) {
      throw new AppError('INVALID_INPUT', `An answer to "${surveyId}" is a choice from 0 to ${s.choices!.length - 1}.`)
    }
    if (text && !s.followUp) throw new AppError('INVALID_INPUT', `"${surveyId}" asks for no text.`)
    const id = `${surveyId}:${openid}`
    const existing = await collection('survey_responses').get(id)
    if (existing?.status === 'answered') return { duplicate: true }
    const now = new Date()
    const slot = await takeSlot({ id: `survey:${openid}`, limit: HOURLY_LIMIT, windowMs: 3600_000 }, now)
    if (!slot) throw new AppError('RATE_LIMITED', '提交太频繁了，请过一会儿再试。')
    try {
      if (text) {
        const check = await msgSecCheck({ content: text, openid, scene: SecScene.comment })
        if (check.suggest === 'risky') throw new AppError('CONTENT_REJECTED', '内容未通过安全检查，请修改后再提交。')
      }
      const doc: Omit<SurveyResponseDoc, '_id'> = {
        surveyId,
        openid,
        status: 'answered',
        ...(score !== undefined ? { score } : {}),
        ...(choice !== undefined ? { choice } : {}),
        ...(text ? { text } : {}),
        day: shanghaiDay(now),
        at: now,
        ...(await segmentsOf(openid)),
      }
      if (existing) {
        // Dismissed earlier, answered now (the sheet was open on two devices): the answer wins, once.
        const updated = await collection('survey_responses').updateWhere({ _id: id, status: 'dismissed' }, doc as never)
        return { duplicate: updated === 0 }
      }
      try {
        await collection('survey_responses').add({ _id: id, ...doc })
        return { duplicate: false }
      } catch (err) {
        if (isDuplicateKeyError(err)) return { duplicate: true } // a concurrent repeat got there first
        throw err
      }
    } catch (err) {
      await releaseSlot(slot)
      throw err
    }
  },

  async dismiss({ surveyId }, { openid }) {
    await enabledSurvey(surveyId)
    const now = new Date()
    try {
      await collection('survey_responses').add({ _id: `${surveyId}:${openid}`, surveyId, openid, status: 'dismissed', day: shanghaiDay(now), at: now, ...(await segmentsOf(openid)) })
      return { recorded: true }
    } catch (err) {
      if (isDuplicateKeyError(err)) return { recorded: false } // answered or dismissed before: nothing changes
      throw err
    }
  },

  async stats({ surveyId: asked, from, to, segment }, { openid }) {
    if (!openid || !(await isAdmin(openid))) throw new AppError('FORBIDDEN', 'Only admins can read survey results.')
    if (daysFrom(from, to) < 0) throw new AppError('INVALID_INPUT', '"from" is after "to".')
    if (daysFrom(from, to) >= STATS_MAX_DAYS) throw new AppError('INVALID_INPUT', `At most ${STATS_MAX_DAYS} days at once.`)
    const [configured, stored] = await Promise.all([surveys(), collection('experiments').find({ kind: 'experiment' }, { fields: { _id: true }, limit: 1000 })])
    const surveyId = asked ?? configured[0]?.id ?? ''
    const config = configured.find((s) => s.id === surveyId) ?? null
    const experiments = [...new Set([...stored.map((d) => d._id), ...DEFAULT_DOCS.filter((d) => d.kind === 'experiment').map((d) => d._id)])].sort()
    const size = config?.kind === 'choice' ? config.choices!.length : NPS_MAX + 1
    const by = segment === 'channel' ? '$channel' : segment ? `$variants.${segment.experiment}` : ''
    // Grouped in the database: the function receives a row per day, segment and answer.
    const rows = await collection('survey_responses').aggregate<{ _id: { day: string; segment: string | null; status: string; value: number | null }; n: number }>([
      { $match: { surveyId, day: { $gte: from, $lte: to } } },
      { $group: { _id: { day: '$day', segment: by || '', status: '$status', value: { $ifNull: ['$score', { $ifNull: ['$choice', null] }] } }, n: { $sum: 1 } } },
      { $limit: 10_000 },
    ])
    const cells = new Map<string, DayStats>()
    const cell = (dayKey: string, seg: string) => {
      const key = `${dayKey}\u0000${seg}`
      let c = cells.get(key)
      if (!c) cells.set(key, (c = { day: dayKey, segment: seg, answers: 0, dismissals: 0, distribution: new Array<number>(size).fill(0), nps: null }))
      return c
    }
    for (const r of rows) {
      const seg = r._id.segment ?? ''
      for (const c of [cell(r._id.day, seg), cell('', seg)]) {
        if (r._id.status === 'dismissed') c.dismissals += r.n
        else {
          c.answers += r.n
          if (r._id.value !== null && r._id.value < size) c.distribution[r._id.value]! += r.n
        }
      }
    }
    const isNps = config?.kind !== 'choice'
    for (const c of cells.values()) {
      if (isNps && c.answers > 0) {
        const promoters = c.distribution.slice(9).reduce((s, n) => s + n, 0)
        const detractors = c.distribution.slice(0, 7).reduce((s, n) => s + n, 0)
        c.nps = Math.round(((promoters - detractors) / c.answers) * 1000) / 10
      }
    }
    const all = [...cells.values()]
    const order = (a: DayStats, b: DayStats) => a.day.localeCompare(b.day) || a.segment.localeCompare(b.segment)
    return {
      survey: config ? toDue(config) : null,
      surveys: configured.map((x) => ({ id: x.id, question: x.question })),
      experiments,
      days: all.filter((c) => c.day !== '').sort(order),
      totals: all.filter((c) => c.day === '').sort(order).map(({ day: _d, ...rest }) => rest),
    }
  },
})
