/**
 * Subscription messages against a real local cloud: the field rules of each kind, answers recorded
 * per template, one accept = one send, refusals that spend nothing, WeChat's 43101 and other
 * failures (armed in the local cloud's `_openapi_faults`), one send per reason, the daily reminder
 * (only users with quota who have not checked in; concurrent runs and reruns send once; the time
 * budget and resuming), stats, and a launch from the message marking it opened.
 */
import type { NotifyOutputs } from '../../cloudfunctions/notify/api'
import { formatData, formatField } from '../../cloudfunctions/_shared/templates'
import { callAction, callGateway, startCloud, type TestCloud } from '../helpers/local-cloud'

type Doc = Record<string, unknown>
type Outcome = NotifyOutputs['send']

const ADMIN = 'o-notify-admin'
const IDS = { checkin_reminder: 'TPL_REMIND', feedback_reply: 'TPL_FEEDBACK' }

let t: TestCloud
beforeAll(async () => {
  t = await startCloud()
  t.cloud.store.insert('app_config', [
    { _id: 'admins', openids: [ADMIN] },
    { _id: 'templates', ids: IDS },
  ])
})
afterAll(() => t.stop())

async function ok<T>(fn: string, action: string, data: unknown, openid?: string): Promise<T> {
  const reply = await callAction<T>(t.url, fn, action, data, openid)
  if (!reply.ok) throw new Error(JSON.stringify(reply.error))
  return reply.data
}

const outbox = (touser: string) => t.cloud.store.find('_outbox', { query: { touser }, limit: 1000 })
const sub = (openid: string, template: string) => t.cloud.store.find('subscriptions', { query: { _id: `${openid}:${template}` }, limit: 1 })[0]
const log = (id: string) => t.cloud.store.find('message_log', { query: { _id: id }, limit: 1 })[0]
const fault = (touser: string, errcode: number) => t.cloud.store.insert('_openapi_faults', [{ api: 'subscribeMessage.send', touser, errcode }])
const record = (openid: string, outcomes: Record<string, string>) => callAction<{ recorded: number }>(t.url, 'notify', 'record', { outcomes }, openid)
const reply = { thing1: '小程序闪退', thing2: '已在新版本修复，感谢反馈', phrase3: '已回复', time4: '2026-11-24 10:05' }
const adminSend = (openid: string, data: Doc = reply, extra: Doc = {}) => ok<Outcome>('notify', 'send', { openid, template: 'feedback_reply', data, ...extra }, ADMIN)

describe('field rules per kind', () => {
  test.each([
    ['thing', '一二三四五六七八九十一二三四五六七八九十多', '一二三四五六七八九十一二三四五六七八九…'],
    ['thing', 'short', 'short'],
    ['short_thing', '配送中的包裹', '配送中的…'],
    ['name', '欧阳一二三四五六七八九', '欧阳一二三四五六七…'],
    ['name', 'Alexandra Catherine Smith', 'Alexandra Catherine…'],
    ['character_string', `ORDER-${'9'.repeat(40)}`, `ORDER-${'9'.repeat(25)}…`],
    ['number', '-12.50', '-12.50'],
    ['number', 42, '42'],
    ['phrase', '已完成', '已完成'],
    ['time', '2026-11-24 10:05', '2026-11-24 10:05'],
    ['time', '15:01', '15:01'],
    ['time', '2019年10月1日 15:01 ~ 2019年10月1日 16:00', '2019年10月1日 15:01 ~ 2019年10月1日 16:00'],
    ['date', '2019年10月1日', '2019年10月1日'],
    ['date', '2026-11-24', '2026-11-24'],
    ['amount', '¥12.50', '¥12.50'],
    ['amount', '100元', '100元'],
    ['phone_number', '+86-0766-66888866', '+86-0766-66888866'],
    ['letter', 'abc', 'abc'],
    ['symbol', '!?', '!?'],
    ['car_number', '粤A8Z888挂', '粤A8Z888挂'],
  ] as const)('%s %j -> %j', (kind, value, expected) => {
    expect(formatField(kind, value)).toEqual({ ok: true, value: expected })
  })

  test.each([
    ['phrase', 'done', 'may hold only Chinese characters'],
    ['phrase', '处理已经完成了', 'is longer than 5 characters'],
    ['number', '12a', 'is not a number'],
    ['number', '1'.repeat(33), 'is longer than 32 characters'],
    ['time', 'tomorrow', 'is not a time'],
    ['date', '10:00', 'is not a date'],
    ['amount', 'ten', 'is not an amount'],
    ['letter', 'abc1', 'may hold only letters'],
    ['symbol', 'ab', 'may hold only symbols'],
    ['character_string', '订单 12', 'may hold only letters, digits and symbols'],
    ['phone_number', 'call me', 'is not a phone number'],
    ['thing', '   ', 'is empty'],
  ] as const)('%s %j is refused: %s', (kind, value, reason) => {
    const result = formatField(kind, value)
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.reason).toContain(reason)
  })

  test('a whole message: missing and extra fields are refused', () => {
    expect(formatData('checkin_reminder', { thing1: 'a', number2: 1 })).toEqual({ ok: false, issue: { field: 'thing3', reason: 'is missing' } })
    expect(formatData('checkin_reminder', { thing1: 'a', number2: 1, thing3: 'b', x9: 'c' })).toEqual({ ok: false, issue: { field: 'x9', reason: 'is not a field of checkin_reminder' } })
    expect(formatData('checkin_reminder', { thing1: 'a', number2: 1, thing3: 'b' })).toEqual({
      ok: true,
      data: { thing1: { value: 'a' }, number2: { value: '1' }, thing3: { value: 'b' } },
    })
  })
})

describe('record and status', () => {
  test('answers are counted per template; accepts add to the quota', async () => {
    await ok('notify', 'record', { outcomes: { checkin_reminder: 'accept', feedback_reply: 'reject' } }, 'o-rec')
    await ok('notify', 'record', { outcomes: { checkin_reminder: 'accept' } }, 'o-rec')
    expect(sub('o-rec', 'checkin_reminder')).toMatchObject({ quota: 2, counts: { accept: 2, reject: 0 }, last: { outcome: 'accept' } })
    expect(sub('o-rec', 'feedback_reply')).toMatchObject({ quota: 0, counts: { reject: 1 }, last: { outcome: 'reject' } })
    await ok('notify', 'record', { outcomes: { feedback_reply: 'switched_off' } }, 'o-rec')
    expect(sub('o-rec', 'feedback_reply')).toMatchObject({ counts: { reject: 1, switched_off: 1 }, last: { outcome: 'switched_off' } })

    const status = await ok<NotifyOutputs['status']>('notify', 'status', {}, 'o-rec')
    // ops_alert has no id in app_config/templates: not configured, not offered.
    expect(status.templates.map((s) => [s.key, s.id, s.quota, s.last?.outcome])).toEqual([
      ['checkin_reminder', 'TPL_REMIND', 2, 'accept'],
      ['feedback_reply', 'TPL_FEEDBACK', 0, 'switched_off'],
    ])
    const fresh = await ok<NotifyOutputs['status']>('notify', 'status', {}, 'o-fresh')
    expect(fresh.templates.map((s) => [s.key, s.quota, s.last])).toEqual([
      ['checkin_reminder', 0, null],
      ['feedback_reply', 0, null],
    ])
  })

  test('unknown templates, unknown outcomes, nothing to record, no user: refused and nothing written', async () => {
    const before = t.cloud.store.count('subscriptions', {})
    expect(await record('o-bad', { newsletter: 'accept' })).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
    expect(await record('o-bad', { checkin_reminder: 'maybe' })).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
    expect(await record('o-bad', {})).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
    expect(await record('', { checkin_reminder: 'accept' })).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } })
    expect(t.cloud.store.count('subscriptions', {})).toBe(before)
  })

  test('more than 20 answers per template in an hour: RATE_LIMITED, the quota stops growing', async () => {
    for (let i = 0; i < 20; i++) expect((await record('o-spam', { checkin_reminder: 'accept' })).ok).toBe(true)
    expect(await record('o-spam', { checkin_reminder: 'accept' })).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } })
    expect(sub('o-spam', 'checkin_reminder')).toMatchObject({ quota: 20 })
  })
})

describe('sending', () => {
  test('one accept = one send: the second is refused as no_quota and nothing more is sent', async () => {
    await ok('notify', 'record', { outcomes: { feedback_reply: 'accept' } }, 'o-once')
    const first = await adminSend('o-once', reply, { reason: 'feedback_reply:f-1' })
    expect(first).toEqual({ status: 'sent', logId: 'feedback_reply:f-1' })
    const [message] = outbox('o-once')
    expect(message).toMatchObject({
      templateId: 'TPL_FEEDBACK',
      page: 'packages/feedback/mine/index?msg=feedback_reply%3Af-1',
      data: { thing1: { value: '小程序闪退' }, thing2: { value: '已在新版本修复，感谢反馈' }, phrase3: { value: '已回复' }, time4: { value: '2026-11-24 10:05' } },
      miniprogramState: 'formal',
    })
    expect(log('feedback_reply:f-1')).toMatchObject({ openid: 'o-once', template: 'feedback_reply', status: 'sent', attempts: 1 })
    expect(sub('o-once', 'feedback_reply')).toMatchObject({ quota: 0 })

    const second = await adminSend('o-once', reply, { reason: 'feedback_reply:f-2' })
    expect(second).toMatchObject({ status: 'no_quota' })
    expect(outbox('o-once')).toHaveLength(1)
    expect(sub('o-once', 'feedback_reply')).toMatchObject({ quota: 0 })
    // The refusal is logged under a key of its own, so f-2 can still be sent after a new accept.
    expect(log((second as { logId: string }).logId)).toMatchObject({ status: 'refused', error: 'no_quota', reason: 'feedback_reply:f-2' })
    await ok('notify', 'record', { outcomes: { feedback_reply: 'accept' } }, 'o-once')
    expect(await adminSend('o-once', reply, { reason: 'feedback_reply:f-2' })).toEqual({ status: 'sent', logId: 'feedback_reply:f-2' })
  })

  test('the same reason is never sent twice; the quota it would have spent is kept', async () => {
    await ok('notify', 'record', { outcomes: { feedback_reply: 'accept' } }, 'o-dup')
    await ok('notify', 'record', { outcomes: { feedback_reply: 'accept' } }, 'o-dup')
    expect(await adminSend('o-dup', reply, { reason: 'feedback_reply:f-dup' })).toMatchObject({ status: 'sent' })
    expect(await adminSend('o-dup', reply, { reason: 'feedback_reply:f-dup' })).toMatchObject({ status: 'rejected', reason: 'duplicate' })
    expect(outbox('o-dup')).toHaveLength(1)
    expect(sub('o-dup', 'feedback_reply')).toMatchObject({ quota: 1 })
  })

  test('over-long free text is cut with an ellipsis before sending', async () => {
    await ok('notify', 'record', { outcomes: { feedback_reply: 'accept' } }, 'o-long')
    await adminSend('o-long', { ...reply, thing2: '这是一段很长很长很长很长很长很长的回复内容，超过二十个字' })
    expect(outbox('o-long')[0]).toMatchObject({ data: { thing2: { value: '这是一段很长很长很长很长很长很长的回复…' } } })
  })

  test.each([
    ['an unknown template', { template: 'newsletter' }, { status: 'rejected', reason: 'unknown_template' }],
    ['a template without an id', { template: 'ops_alert', data: { thing1: '错误率', time2: '2026-11-24 10:05', character_string3: '3/40' } }, { status: 'rejected', reason: 'not_configured' }],
    ['a phrase that is not Chinese', { data: { ...reply, phrase3: 'done' } }, { status: 'rejected', reason: 'invalid_field', field: 'phrase3' }],
    ['a time that is not a time', { data: { ...reply, time4: 'soon' } }, { status: 'rejected', reason: 'invalid_field', field: 'time4' }],
    ['a missing field', { data: { thing1: 'a', thing2: 'b', phrase3: '已回复' } }, { status: 'rejected', reason: 'invalid_field', field: 'time4' }],
  ])('%s: refused with the reason, quota unchanged, nothing sent or logged', async (_what, change, expected) => {
    await ok('notify', 'record', { outcomes: { feedback_reply: 'accept', ops_alert: 'accept' } }, 'o-refuse')
    const [quota, logs] = [sub('o-refuse', 'feedback_reply')!.quota, t.cloud.store.count('message_log', {})]
    const outcome = await ok<Outcome>('notify', 'send', { openid: 'o-refuse', template: 'feedback_reply', data: reply, ...change }, ADMIN)
    expect(outcome).toMatchObject(expected)
    expect(sub('o-refuse', 'feedback_reply')!.quota).toBe(quota)
    expect(outbox('o-refuse')).toHaveLength(0)
    expect(t.cloud.store.count('message_log', {})).toBe(logs)
  })

  test('WeChat 43101 (nothing left to send): the quota goes to 0, the attempt is logged as failed', async () => {
    for (let i = 0; i < 3; i++) await ok('notify', 'record', { outcomes: { feedback_reply: 'accept' } }, 'o-43101')
    fault('o-43101', 43101)
    const outcome = await adminSend('o-43101', reply, { reason: 'feedback_reply:f-43101' })
    expect(outcome).toMatchObject({ status: 'failed', errCode: 43101 })
    expect(sub('o-43101', 'feedback_reply')).toMatchObject({ quota: 0 })
    expect(log('feedback_reply:f-43101')).toMatchObject({ status: 'failed', errCode: 43101 })
    expect(outbox('o-43101')).toHaveLength(0)
  })

  test('any other failure gives the quota back, and the same reason may be tried again', async () => {
    await ok('notify', 'record', { outcomes: { feedback_reply: 'accept' } }, 'o-fail')
    fault('o-fail', 45009)
    expect(await adminSend('o-fail', reply, { reason: 'feedback_reply:f-fail' })).toMatchObject({ status: 'failed', errCode: 45009 })
    expect(sub('o-fail', 'feedback_reply')).toMatchObject({ quota: 1 })
    expect(log('feedback_reply:f-fail')).toMatchObject({ status: 'failed', errCode: 45009, attempts: 1 })
    expect(await adminSend('o-fail', reply, { reason: 'feedback_reply:f-fail' })).toEqual({ status: 'sent', logId: 'feedback_reply:f-fail' })
    expect(log('feedback_reply:f-fail')).toMatchObject({ status: 'sent', attempts: 2 })
    expect(sub('o-fail', 'feedback_reply')).toMatchObject({ quota: 0 })
  })

  test('two sends racing for the last accept: exactly one is sent', async () => {
    await ok('notify', 'record', { outcomes: { feedback_reply: 'accept' } }, 'o-race')
    const outcomes = await Promise.all([adminSend('o-race'), adminSend('o-race'), adminSend('o-race')])
    expect(outcomes.filter((o) => o.status === 'sent')).toHaveLength(1)
    expect(outcomes.filter((o) => o.status === 'no_quota')).toHaveLength(2)
    expect(outbox('o-race')).toHaveLength(1)
  })

  test('send and stats are for admins only', async () => {
    expect(await callAction(t.url, 'notify', 'send', { openid: 'o-x', template: 'feedback_reply', data: reply }, 'o-not-admin')).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
    expect(await callAction(t.url, 'notify', 'stats', {}, 'o-not-admin')).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
    expect(await callAction(t.url, 'notify', 'remind', {}, 'o-not-admin')).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
  })
})

describe('the daily check-in reminder', () => {
  const DAY = '2031-03-10'
  const account = (openid: string, lastDay: string, streak: number) => ({
    _id: openid,
    openid,
    balance: 10,
    lifetime: 10,
    entries: 1,
    checkin: { lastDay, streak, best: streak, lastReward: 5 },
    makeups: { month: '', count: 0 },
    invites: { rewarded: 0, day: '', today: 0 },
    updatedAt: new Date(),
  })
  const remind = (data: Doc = {}) => ok<NotifyOutputs['remind']>('notify', 'remind', { day: DAY, ...data }, ADMIN)
  const reminders = () => t.cloud.store.find('_outbox', { query: { templateId: 'TPL_REMIND' }, limit: 1000 })

  beforeAll(async () => {
    // r-0..r-29 accepted; r-0..r-9 checked in on DAY; r-10..r-19 checked in the day before (a streak of 4).
    for (let i = 0; i < 30; i++) await ok('notify', 'record', { outcomes: { checkin_reminder: 'accept' } }, `r-${String(i).padStart(2, '0')}`)
    t.cloud.store.insert('points_accounts', [
      ...Array.from({ length: 10 }, (_, i) => account(`r-0${i}`, DAY, 3)),
      ...Array.from({ length: 10 }, (_, i) => account(`r-1${i}`, '2031-03-09', 4)),
    ])
    await ok('notify', 'record', { outcomes: { checkin_reminder: 'reject' } }, 'r-declined')
  })

  test('a short time budget stops after a batch; the next run resumes; concurrent runs and reruns send once per user', async () => {
    const first = await remind({ batch: 5, budgetMs: 1 })
    expect(first).toMatchObject({ done: false, scanned: 5 })
    const [a, b] = await Promise.all([remind({ batch: 7 }), remind({ batch: 7 })])
    expect(a.done && b.done).toBe(true)
    const again = await remind()
    expect(again).toMatchObject({ done: true, scanned: 0, sent: 0 })
    const total = [first, a, b, again].reduce((n, r) => n + r.sent, 0)
    // Users who checked in on DAY and the one who declined get nothing; the other 20 (and o-rec, o-spam from above) one each.
    const sent = reminders().filter((m) => String(m.touser).startsWith('r-'))
    expect(sent.map((m) => m.touser).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `r-${i + 10}`))
    expect(total).toBe(reminders().length)
    expect(new Set(reminders().map((m) => m.touser)).size).toBe(reminders().length)
    const streaky = sent.find((m) => m.touser === 'r-15')!
    expect(streaky).toMatchObject({ page: `packages/incentives/checkin/index?msg=${encodeURIComponent(`checkin_reminder:r-15:${DAY}`)}`, data: { number2: { value: '4' } } })
    expect(sent.find((m) => m.touser === 'r-25')).toMatchObject({ data: { number2: { value: '0' }, thing3: { value: '今天还没签到，来领积分吧' } } })
    expect(sub('r-15', 'checkin_reminder')).toMatchObject({ quota: 0, doneFor: DAY })
    expect(sub('r-05', 'checkin_reminder')).toMatchObject({ quota: 1, doneFor: DAY })
    expect(log(`checkin_reminder:r-15:${DAY}`)).toMatchObject({ status: 'sent' })
  })

  test('the next day: only users with quota left; a 43101 sets that quota to 0', async () => {
    const next = '2031-03-11'
    fault('r-00', 43101)
    const result = await ok<NotifyOutputs['remind']>('notify', 'remind', { day: next }, ADMIN)
    // r-00..r-09 still had their accept (they had checked in); r-00 fails with 43101.
    expect(result).toMatchObject({ done: true, exhausted: 1 })
    expect(reminders().filter((m) => String(m.touser).startsWith('r-0')).map((m) => m.touser).sort()).toEqual(Array.from({ length: 9 }, (_, i) => `r-0${i + 1}`))
    expect(sub('r-00', 'checkin_reminder')).toMatchObject({ quota: 0 })
  })

  test('from its timer trigger (no admin needed), and the stats add up', async () => {
    expect(await callAction(t.url, 'notify', 'remind', {}, undefined)).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
    // The platform's timer event: today's run (nobody is due today in this data, but it runs and finishes).
    // A caller cannot claim to be the timer; the scheduler fires it.
    const forged = await callGateway<{ error: { code: string } }>(t.url, 'notify', { Type: 'Timer', TriggerName: 'daily-reminder', Time: new Date().toISOString() }, { headers: { 'x-wx-source': 'wx_trigger' } })
    expect([forged.status, forged.body.error.code]).toEqual([403, 'SOURCE_NOT_ALLOWED'])
    const timer = await t.cloud.fireTrigger('notify', 'daily-reminder')
    expect(timer.outcome.ok && JSON.parse(timer.outcome.json ?? 'null')).toMatchObject({ ok: true, data: { done: true } })
    const stats = await ok<NotifyOutputs['stats']>('notify', 'stats', {}, ADMIN)
    const remindStats = stats.templates.find((s) => s.key === 'checkin_reminder')!
    expect(remindStats.configured).toBe(true)
    expect(remindStats.sent).toBe(t.cloud.store.count('message_log', { template: 'checkin_reminder', status: 'sent' }))
    expect(remindStats.failed).toBe(1)
    expect(stats.templates.find((s) => s.key === 'ops_alert')).toMatchObject({ configured: false })
  })
})

describe('opening the app from a message', () => {
  test('an app_launch from scene 1014 with msg marks the log opened once; other scenes do not', async () => {
    await ok('notify', 'record', { outcomes: { feedback_reply: 'accept' } }, 'o-open')
    await adminSend('o-open', reply, { reason: 'feedback_reply:f-open' })
    const event = (scene: number, ts: number) => ({
      id: `0190a1b2-c3d4-7e5f-8a9b-${String(ts).padStart(12, '0')}`,
      name: 'app_launch',
      ts: Date.now() - ts,
      anonymousId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
      sessionId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c',
      page: 'packages/feedback/mine/index',
      props: { path: 'packages/feedback/mine/index', scene, msg: 'feedback_reply:f-open' },
    })
    await ok('track', 'ingest', { events: [event(1001, 3000)] }, 'o-open')
    expect(log('feedback_reply:f-open')!.openedAt).toBeUndefined()
    await ok('track', 'ingest', { events: [event(1014, 2000)] }, 'o-open')
    const opened = log('feedback_reply:f-open')!.openedAt
    expect(opened).toBeInstanceOf(Date)
    await ok('track', 'ingest', { events: [event(1107, 1000)] }, 'o-open')
    expect(log('feedback_reply:f-open')!.openedAt).toEqual(opened)
    // Someone else's launch carrying the id marks nothing.
    await ok('notify', 'record', { outcomes: { feedback_reply: 'accept' } }, 'o-open')
    await adminSend('o-open', reply, { reason: 'feedback_reply:f-open-2' })
    await ok('track', 'ingest', { events: [{ ...event(1014, 500), props: { ...event(1014, 500).props, msg: 'feedback_reply:f-open-2' } }] }, 'o-someone-else')
    expect(log('feedback_reply:f-open-2')!.openedAt).toBeUndefined()
    const stats = await ok<NotifyOutputs['stats']>('notify', 'stats', {}, ADMIN)
    expect(stats.templates.find((s) => s.key === 'feedback_reply')!.opened).toBe(1)
  })
})
