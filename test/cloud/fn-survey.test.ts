/**
 * The `survey` function through the gateway against a real local cloud: targeting (active days,
 * an event, a percentage, one survey per N days), answers once per user and survey (a repeat
 * changes nothing), dismissals respected, every kind of bad input refused with a typed error and
 * nothing written, the hourly limit, and per-day NPS and distribution by channel and variant.
 */
import { addDays } from '../../cloudfunctions/_shared/time'
import type { SurveyOutputs } from '../../cloudfunctions/survey/api'
import { callAction, startCloud, type TestCloud } from '../helpers/local-cloud'

const ADMIN = 'o-survey-admin'
const DAY = 86_400_000
let t: TestCloud

const NPS = {
  id: 'nps_q4',
  enabled: true,
  kind: 'nps',
  question: '你有多大可能把我们推荐给朋友？',
  followUp: '主要原因是什么？',
  target: { everyDays: 30 },
}
const CHOICE = { id: 'next_topic', enabled: true, kind: 'choice', question: '你最想看哪类指南？', choices: ['健康', '理财', '家务'], target: { everyDays: 30 } }

function configure(surveys: unknown[]): void {
  t.cloud.store.remove('app_config', { _id: 'survey' }, true)
  t.cloud.store.insert('app_config', [{ _id: 'survey', surveys }])
}

const call = <K extends keyof SurveyOutputs>(action: K, data: unknown, openid: string) => callAction<SurveyOutputs[K]>(t.url, 'survey', action, data, openid)
async function ok<K extends keyof SurveyOutputs>(action: K, data: unknown, openid: string): Promise<SurveyOutputs[K]> {
  const reply = await call(action, data, openid)
  if (!reply.ok) throw new Error(JSON.stringify(reply.error))
  return reply.data
}
const responses = () => t.cloud.store.find('survey_responses', { query: {}, limit: 1000 }) as unknown as Record<string, unknown>[]

function activeDays(openid: string, n: number): void {
  t.cloud.store.insert('user_days', Array.from({ length: n }, (_, i) => ({ _id: `${openid}:2026-11-${String(i + 1).padStart(2, '0')}`, openid, day: `2026-11-${String(i + 1).padStart(2, '0')}`, at: new Date() })))
}
function event(openid: string, name: string, props: Record<string, unknown> = {}): void {
  const at = new Date()
  t.cloud.store.insert('events', [{ _id: `${openid}-${name}-${Math.random()}`, name, ts: at, day: '2026-12-01', receivedAt: at, openid, anonymousId: 'a', sessionId: 's', page: 'pages/home/index', props }])
}

beforeAll(async () => {
  t = await startCloud()
  t.cloud.store.insert('app_config', [{ _id: 'admins', openids: [ADMIN] }])
})
afterAll(() => t.stop())
beforeEach(() => {
  for (const c of ['survey_responses', 'rate_limits', 'user_days', 'events', 'users']) t.cloud.store.remove(c, {}, true)
  configure([NPS])
})

describe('due', () => {
  test('nothing configured, or an invalid document: no survey', async () => {
    t.cloud.store.remove('app_config', { _id: 'survey' }, true)
    expect(await ok('due', {}, 'o-1')).toEqual({ survey: null })
    configure([{ ...NPS, kind: 'stars' }])
    expect(await ok('due', {}, 'o-1')).toEqual({ survey: null })
    configure([{ ...NPS, enabled: false }])
    expect(await ok('due', {}, 'o-1')).toEqual({ survey: null })
  })

  test('what the device gets: the question, no targeting', async () => {
    expect(await ok('due', {}, 'o-1')).toEqual({ survey: { id: 'nps_q4', kind: 'nps', question: NPS.question, followUp: NPS.followUp } })
  })

  test('after N active days', async () => {
    configure([{ ...NPS, target: { minActiveDays: 3, everyDays: 30 } }])
    activeDays('o-2', 2)
    expect((await ok('due', {}, 'o-2')).survey).toBeNull()
    activeDays('o-3', 3)
    expect((await ok('due', {}, 'o-3')).survey?.id).toBe('nps_q4')
  })

  test('after an event', async () => {
    configure([{ ...NPS, target: { afterEvent: 'content_open', everyDays: 30 } }])
    event('o-4', 'page_view')
    expect((await ok('due', {}, 'o-4')).survey).toBeNull()
    event('o-4', 'content_open', { guideId: 'g', category: 'c' })
    expect((await ok('due', {}, 'o-4')).survey?.id).toBe('nps_q4')
  })

  test('a percentage: about that share of users, always the same ones', async () => {
    configure([{ ...NPS, target: { percentage: 0.3, everyDays: 30 } }])
    const picked: string[] = []
    for (let i = 0; i < 60; i++) if ((await ok('due', {}, `o-p${i}`)).survey) picked.push(`o-p${i}`)
    expect(picked.length).toBeGreaterThan(8)
    expect(picked.length).toBeLessThan(30)
    for (const id of picked.slice(0, 5)) expect((await ok('due', {}, id)).survey?.id).toBe('nps_q4')
  })

  test('answered or dismissed: never again; and no other survey within everyDays', async () => {
    configure([NPS, CHOICE])
    await ok('answer', { surveyId: 'nps_q4', score: 9 }, 'o-5')
    expect((await ok('due', {}, 'o-5')).survey).toBeNull() // CHOICE waits 30 days
    await ok('dismiss', { surveyId: 'nps_q4' }, 'o-6')
    expect((await ok('due', {}, 'o-6')).survey).toBeNull()
    // 31 days later the next survey is due, the answered one still is not.
    t.cloud.store.modify('survey_responses', { query: { openid: 'o-5' }, data: { $set: { at: new Date(Date.now() - 31 * DAY) } }, multi: true, merge: true, upsert: false })
    expect((await ok('due', {}, 'o-5')).survey?.id).toBe('next_topic')
  })
})

describe('answer and dismiss', () => {
  test('an NPS answer is stored once with the channel and exposed variants; a repeat changes nothing', async () => {
    t.cloud.store.insert('users', [{ _id: 'o-7', openid: 'o-7', firstTouch: { channel: 'wechat_group', at: new Date(), day: '2026-12-01' } }])
    event('o-7', 'experiment_viewed', { experiment: 'home_value_copy', variant: 'b' })
    expect(await ok('answer', { surveyId: 'nps_q4', score: 10, text: '内容实用' }, 'o-7')).toEqual({ duplicate: false })
    const [doc] = responses()
    expect(doc).toMatchObject({ _id: 'nps_q4:o-7', status: 'answered', score: 10, text: '内容实用', channel: 'wechat_group', variants: { home_value_copy: 'b' } })
    expect(await ok('answer', { surveyId: 'nps_q4', score: 0 }, 'o-7')).toEqual({ duplicate: true })
    expect(responses()).toEqual([doc])
  })

  test('a dismissal is recorded once; an answer after it replaces it, once', async () => {
    expect(await ok('dismiss', { surveyId: 'nps_q4' }, 'o-8')).toEqual({ recorded: true })
    expect(await ok('dismiss', { surveyId: 'nps_q4' }, 'o-8')).toEqual({ recorded: false })
    expect(responses()).toEqual([expect.objectContaining({ status: 'dismissed' })])
    expect(await ok('answer', { surveyId: 'nps_q4', score: 6 }, 'o-8')).toEqual({ duplicate: false })
    expect(await ok('answer', { surveyId: 'nps_q4', score: 7 }, 'o-8')).toEqual({ duplicate: true })
    expect(responses()).toEqual([expect.objectContaining({ status: 'answered', score: 6 })])
  })

  test.each([
    ['a score above 10', { surveyId: 'nps_q4', score: 11 }, 'INVALID_INPUT'],
    ['a negative score', { surveyId: 'nps_q4', score: -1 }, 'INVALID_INPUT'],
    ['a fractional score', { surveyId: 'nps_q4', score: 7.5 }, 'INVALID_INPUT'],
    ['no score', { surveyId: 'nps_q4' }, 'INVALID_INPUT'],
    ['a choice for an NPS survey', { surveyId: 'nps_q4', choice: 1 }, 'INVALID_INPUT'],
    ['a choice out of range', { surveyId: 'next_topic', choice: 3 }, 'INVALID_INPUT'],
    ['text over 200 characters', { surveyId: 'nps_q4', score: 8, text: '好'.repeat(201) }, 'INVALID_INPUT'],
    ['text with control characters', { surveyId: 'nps_q4', score: 8, text: 'a\u0007b' }, 'INVALID_INPUT'],
    ['text for a survey without a follow-up', { surveyId: 'next_topic', choice: 0, text: '随便' }, 'INVALID_INPUT'],
    ['text flagged by the content check', { surveyId: 'nps_q4', score: 8, text: '这里有代开发票服务' }, 'CONTENT_REJECTED'],
    ['an unknown survey', { surveyId: 'nope', score: 8 }, 'NOT_FOUND'],
    ['a bad survey id', { surveyId: 'Bad Id', score: 8 }, 'INVALID_INPUT'],
    ['an unknown field', { surveyId: 'nps_q4', score: 8, openid: 'o-other' }, 'INVALID_INPUT'],
  ])('%s is refused (%s) and nothing is written', async (_name, data, code) => {
    configure([NPS, CHOICE])
    const reply = await call('answer', data, 'o-9')
    expect(reply).toMatchObject({ ok: false, error: { code } })
    expect(responses()).toEqual([])
  })

  test('text at exactly 200 characters (emoji counted once) is accepted', async () => {
    expect(await ok('answer', { surveyId: 'nps_q4', score: 8, text: '👍'.repeat(200) }, 'o-10')).toEqual({ duplicate: false })
  })

  test('at most 10 answers an hour per user; a refused answer does not count', async () => {
    const surveys = Array.from({ length: 12 }, (_, i) => ({ ...NPS, id: `nps_${i}` }))
    configure(surveys)
    expect((await call('answer', { surveyId: 'nps_0', score: 5, text: '这里有代开发票服务' }, 'o-11')).ok).toBe(false)
    for (let i = 0; i < 10; i++) await ok('answer', { surveyId: `nps_${i}`, score: 5 }, 'o-11')
    expect(await call('answer', { surveyId: 'nps_10', score: 5 }, 'o-11')).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } })
    expect(responses()).toHaveLength(10)
  })
})

describe('stats', () => {
  test('per day and in all: answers, dismissals, the distribution and NPS; by channel and by variant', async () => {
    const answer = async (openid: string, score: number, channel: string, variant: string) => {
      t.cloud.store.insert('users', [{ _id: openid, openid, firstTouch: { channel, at: new Date(), day: '2026-12-01' } }])
      event(openid, 'experiment_viewed', { experiment: 'home_value_copy', variant })
      await ok('answer', { surveyId: 'nps_q4', score }, openid)
    }
    await answer('o-s1', 10, 'share', 'b')
    await answer('o-s2', 9, 'share', 'control')
    await answer('o-s3', 3, 'search', 'b')
    await answer('o-s4', 7, 'search', 'control')
    await ok('dismiss', { surveyId: 'nps_q4' }, 'o-s5')
    // Two answers moved to the day before (days relative to the stored one: no wall-clock dates in the test).
    const today = responses().find((r) => r._id === 'nps_q4:o-s1')!.day as string
    const yesterday = addDays(today, -1)
    t.cloud.store.modify('survey_responses', { query: { _id: { $in: ['nps_q4:o-s3', 'nps_q4:o-s4'] } }, data: { $set: { day: yesterday } }, multi: true, merge: true, upsert: false })
    const range = { surveyId: 'nps_q4', from: addDays(today, -30), to: today }
    const r = await ok('stats', range, ADMIN)
    expect(r.survey?.id).toBe('nps_q4')
    expect(r.surveys).toEqual([{ id: 'nps_q4', question: NPS.question }])
    expect(r.experiments).toContain('home_value_copy') // the repo's default experiment, to segment by
    // Without a survey id: the first of the config.
    const { surveyId: _s, ...firstOfConfig } = range
    expect((await ok('stats', firstOfConfig, ADMIN)).totals).toEqual(r.totals)
    const dist = (scores: number[]) => Array.from({ length: 11 }, (_, i) => scores.filter((s) => s === i).length)
    expect(r.totals).toEqual([{ segment: '', answers: 4, dismissals: 1, distribution: dist([10, 9, 3, 7]), nps: 25 }])
    expect(r.days).toEqual(
      [
        { day: yesterday, segment: '', answers: 2, dismissals: 0, distribution: dist([3, 7]), nps: -50 },
        { day: today, segment: '', answers: 2, dismissals: 1, distribution: dist([10, 9]), nps: 100 },
      ],
    )
    // Outside the range: nothing.
    expect((await ok('stats', { ...range, to: addDays(today, -2) }, ADMIN)).totals).toEqual([])
    const byChannel = await ok('stats', { ...range, segment: 'channel' }, ADMIN)
    expect(byChannel.totals.map((x) => [x.segment, x.answers, x.nps])).toEqual([
      ['', 0, null],
      ['search', 2, -50],
      ['share', 2, 100],
    ])
    const byVariant = await ok('stats', { ...range, segment: { experiment: 'home_value_copy' } }, ADMIN)
    expect(byVariant.totals.map((x) => [x.segment, x.answers, x.nps])).toEqual([
      ['', 0, null],
      ['b', 2, 0],
      ['control', 2, 50],
    ])
  })

  test('admins only; a range over 90 days or backwards is refused', async () => {
    expect(await call('stats', { surveyId: 'nps_q4', from: '2026-12-01', to: '2026-12-02' }, 'o-user')).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
    expect(await call('stats', { surveyId: 'nps_q4', from: '2026-01-01', to: '2026-12-02' }, ADMIN)).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
    expect(await call('stats', { surveyId: 'nps_q4', from: '2026-12-03', to: '2026-12-02' }, ADMIN)).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
  })
})
