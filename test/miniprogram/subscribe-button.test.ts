/**
 * The subscribe button, rendered with the real compiler and TDesign against a real local cloud
 * running `notify`: it asks (inside the tap) only for templates the user has not agreed to, records
 * every answer in the database through the real function, and tells the page what happened —
 * nothing left to ask, the main switch off, an old base library. Then the check-in reminder end to
 * end: check in → offer → accept → quota 1 → the next day's timer sends once → a launch from the
 * message (scene 1014 with `msg`) marks it opened.
 */
import type { Result } from '../../cloudfunctions/_shared/contract'
import type { NotifyOutputs } from '../../cloudfunctions/notify/api'
import { addDays, shanghaiToday } from '../../miniprogram/packages/admin/range'
import { alertsText } from '../../miniprogram/packages/admin/view'
import { startCloudProcess, type CloudProcess } from './harness/cloud'
import { incentivesCloud, newOpenid } from './harness/incentives'
import { mountPage, type Mounted } from './harness/mount'
import { callFunction } from './harness/net'
import { createWx, type FakeWx } from './harness/wx'

jest.setTimeout(180_000)

const OPENID_KEY = 'local-cloud:openid'
const ADMIN = 'dev-subscribe-admin'
const IDS = { checkin_reminder: 'TPL_REMIND', feedback_reply: 'TPL_FEEDBACK' }
const BUTTON = 'components/subscribe-button/index'

let cloud: CloudProcess
beforeAll(async () => {
  cloud = await startCloudProcess()
  await insert('app_config', { _id: 'templates', ids: IDS })
  await insert('app_config', { _id: 'admins', openids: [ADMIN] })
}, 60_000)
const mounted: Mounted[] = []
afterEach(() => {
  for (const m of mounted.splice(0)) m.unmount()
})
afterAll(() => cloud?.stop())

const { insert, docs, login } = incentivesCloud(() => cloud.url)

async function notify<A extends keyof NotifyOutputs>(action: A, data: unknown, openid: string): Promise<NotifyOutputs[A]> {
  const result = (await callFunction(cloud.url, 'notify', action, data, openid)) as Result<NotifyOutputs[A]>
  if (!result.ok) throw new Error(`${action}: ${result.error.code} ${result.error.message}`)
  return result.data
}

const subscription = async (openid: string, template: string) => (await docs('subscriptions', { _id: `${openid}:${template}` }))[0]

interface Device {
  fake: FakeWx
  /** tmplIds of each wx.requestSubscribeMessage, in order. */
  asked: string[][]
}

type Answer = { answers: Record<string, string> } | { errCode: number; mainSwitch?: boolean }

/** A device whose subscription dialog answers with `answer` (per template id, or a failure). */
function device(openid: string, answer: Answer = { answers: {} }, options: { noSubscribeApi?: boolean } = {}): Device {
  const fake = createWx()
  fake.storage.set(OPENID_KEY, openid)
  const asked: string[][] = []
  const later = (fn: () => void) => setTimeout(fn, 0)
  if (options.noSubscribeApi) fake.wx.requestSubscribeMessage = undefined
  else {
    fake.wx.requestSubscribeMessage = (o: any) => {
      asked.push(o.tmplIds)
      later(() => ('answers' in answer ? o.success({ errMsg: 'requestSubscribeMessage:ok', ...answer.answers }) : o.fail({ errMsg: 'requestSubscribeMessage:fail', errCode: answer.errCode })))
    }
  }
  fake.wx.getSetting = (o: any) => later(() => o.success({ authSetting: {}, subscriptionsSetting: { mainSwitch: 'mainSwitch' in answer ? answer.mainSwitch : true } }))
  return { fake, asked }
}

/** Mounts the button alone; `results` collects its `result` events. */
async function mountButton(d: Device, templates: string[]) {
  const m = await mountPage(BUTTON, { cloudUrl: cloud.url, fake: d.fake, query: { templates, text: '订阅' } as never })
  mounted.push(m)
  const results: { status: string; outcomes: Record<string, string> }[] = []
  const states: { shown: boolean; quota: number }[] = []
  const trigger = m.page.triggerEvent as (name: string, detail: unknown) => void
  m.page.triggerEvent = (name: string, detail: any) => {
    if (name === 'result') results.push(detail)
    if (name === 'state') states.push(detail)
    trigger.call(m.page, name, detail)
  }
  return { m, results, states }
}

const shown = (m: Mounted) => m.find('t-button').length === 1
async function tapWhenShown(m: Mounted) {
  await m.waitFor(() => shown(m), 'the button')
  await m.tap(m.find('t-button')[0]!)
}

describe('the subscribe button', () => {
  test('asks only for what the user has not agreed to, inside the tap, and records each answer', async () => {
    const openid = newOpenid()
    await notify('record', { outcomes: { feedback_reply: 'accept' } }, openid)
    const d = device(openid, { answers: { TPL_REMIND: 'accept' } })
    const { m, results } = await mountButton(d, ['checkin_reminder', 'feedback_reply'])
    await m.waitFor(() => shown(m), 'the button')
    const tap = m.tap(m.find('t-button')[0]!)
    // Asked before the tap's handler returned (the dialog opens only then), for the one without quota.
    expect(d.asked).toEqual([['TPL_REMIND']])
    await tap
    await m.waitFor(() => results.length === 1, 'the result')
    expect(results[0]).toEqual({ status: 'accepted', outcomes: { checkin_reminder: 'accept' } })
    expect(await subscription(openid, 'checkin_reminder')).toMatchObject({ quota: 1, counts: { accept: 1 } })
    expect(await subscription(openid, 'feedback_reply')).toMatchObject({ quota: 1 })

    // Nothing left to ask: no dialog, the page hears it is subscribed already.
    await m.tap(m.find('t-button')[0]!)
    await m.waitFor(() => results.length === 2, 'the second result')
    expect(results[1]).toEqual({ status: 'subscribed', outcomes: {} })
    expect(d.asked).toHaveLength(1)
  })

  test('reject and filter are recorded per template', async () => {
    const openid = newOpenid()
    const d = device(openid, { answers: { TPL_REMIND: 'reject', TPL_FEEDBACK: 'filter' } })
    const { m, results } = await mountButton(d, ['checkin_reminder', 'feedback_reply'])
    await tapWhenShown(m)
    await m.waitFor(() => results.length === 1, 'the result')
    expect(d.asked).toEqual([['TPL_REMIND', 'TPL_FEEDBACK']])
    expect(results[0]).toEqual({ status: 'rejected', outcomes: { checkin_reminder: 'reject', feedback_reply: 'filter' } })
    expect(await subscription(openid, 'checkin_reminder')).toMatchObject({ quota: 0, counts: { reject: 1 }, last: { outcome: 'reject' } })
    expect(await subscription(openid, 'feedback_reply')).toMatchObject({ quota: 0, counts: { filter: 1 } })
  })

  test('the main switch off (errCode 20004, or getSetting says so): recorded as switched_off', async () => {
    const openid = newOpenid()
    const d = device(openid, { errCode: 20004 })
    const { m, results } = await mountButton(d, ['checkin_reminder'])
    await tapWhenShown(m)
    await m.waitFor(() => results.length === 1, 'the result')
    expect(results[0]).toEqual({ status: 'switched_off', outcomes: { checkin_reminder: 'switched_off' } })
    expect(await subscription(openid, 'checkin_reminder')).toMatchObject({ quota: 0, counts: { switched_off: 1 } })

    const other = newOpenid()
    const viaSetting = await mountButton(device(other, { errCode: 20001, mainSwitch: false }), ['checkin_reminder'])
    await tapWhenShown(viaSetting.m)
    await viaSetting.m.waitFor(() => viaSetting.results.length === 1, 'the result')
    expect(viaSetting.results[0]!.status).toBe('switched_off')
    expect(await subscription(other, 'checkin_reminder')).toMatchObject({ counts: { switched_off: 1 } })
  })

  test('any other failure: the page hears it, nothing is recorded', async () => {
    const openid = newOpenid()
    const { m, results } = await mountButton(device(openid, { errCode: 20001, mainSwitch: true }), ['checkin_reminder'])
    await tapWhenShown(m)
    await m.waitFor(() => results.length === 1, 'the result')
    expect(results[0]).toEqual({ status: 'failed', outcomes: {} })
    expect(await subscription(openid, 'checkin_reminder')).toBeUndefined()
  })

  test('a base library without wx.requestSubscribeMessage: unsupported, nothing asked', async () => {
    const openid = newOpenid()
    const d = device(openid, undefined, { noSubscribeApi: true })
    const { m, results } = await mountButton(d, ['checkin_reminder'])
    await tapWhenShown(m)
    await m.waitFor(() => results.length === 1, 'the result')
    expect(results[0]!.status).toBe('unsupported')
  })

  test('a template without an id (not configured): the button is not shown, and its state says so', async () => {
    const { m, states } = await mountButton(device(newOpenid()), ['ops_alert'])
    await m.waitFor(() => states.length === 1, 'the state')
    expect(states).toEqual([{ shown: false, quota: 0 }])
    expect(shown(m)).toBe(false)
    // What the dashboard's 告警通知 line makes of it.
    expect(alertsText(states[0])).toBe('还没有配置告警模板：在 app_config/templates 填写 ops_alert 的模板 ID 后即可订阅')
  })

  test('state: the sends left over its templates, when known and after each answer; with stack it asks again while some are left', async () => {
    const openid = newOpenid()
    await notify('record', { outcomes: { checkin_reminder: 'accept', feedback_reply: 'accept' } }, openid)
    const d = device(openid, { answers: { TPL_REMIND: 'accept', TPL_FEEDBACK: 'reject' } })
    const m = await mountPage(BUTTON, { cloudUrl: cloud.url, fake: d.fake, query: { templates: ['checkin_reminder', 'feedback_reply'], text: '订阅', stack: true } as never })
    mounted.push(m)
    const states: unknown[] = []
    const trigger = m.page.triggerEvent as (name: string, detail: unknown) => void
    m.page.triggerEvent = (name: string, detail: unknown) => (name === 'state' && states.push(detail), trigger.call(m.page, name, detail))
    await tapWhenShown(m)
    await m.waitFor(() => states.length === 2, 'the state after the answer')
    expect(d.asked).toEqual([['TPL_REMIND', 'TPL_FEEDBACK']])
    expect(states).toEqual([{ shown: true, quota: 2 }, { shown: true, quota: 3 }])
    expect(await subscription(openid, 'checkin_reminder')).toMatchObject({ quota: 2 })
  })
})

describe('the check-in reminder, end to end', () => {
  test('check in → 明天提醒我 → accept → quota 1 → the next day the timer sends once → opening it marks it opened', async () => {
    const openid = newOpenid()
    await login(openid)
    const d = device(openid, { answers: { TPL_REMIND: 'accept' } })
    const m = await mountPage('packages/incentives/checkin/index', { cloudUrl: cloud.url, fake: d.fake })
    mounted.push(m)
    await m.waitFor(() => m.page.data.status === 'ready', 'the page')
    const button = (label: string) => m.find('t-button').find((b) => b.textContent?.replace(/\s+/g, '') === label)
    await m.tap(button('签到+5积分')!)
    await m.waitFor(() => m.find('remind').length === 1, 'the reminder offer')
    await m.waitFor(() => button('明天提醒我') !== undefined, 'the subscribe button')
    await m.tap(button('明天提醒我')!)
    expect(d.asked).toEqual([['TPL_REMIND']])
    await m.waitFor(() => m.find('remind').length === 0, 'the offer answered')
    expect(await subscription(openid, 'checkin_reminder')).toMatchObject({ quota: 1 })

    // Today the user has checked in: nothing is sent. Tomorrow they have not: one reminder, however often the timer runs.
    const today = shanghaiToday()
    const tomorrow = addDays(today, 1)
    const mine = async () => docs('_outbox', { touser: openid })
    const first = await notify('remind', { day: today }, ADMIN)
    expect(first.done).toBe(true)
    expect(await mine()).toHaveLength(0)
    await Promise.all([notify('remind', { day: tomorrow }, ADMIN), notify('remind', { day: tomorrow }, ADMIN)])
    await notify('remind', { day: tomorrow }, ADMIN)
    const sent = await mine()
    expect(sent).toHaveLength(1)
    const logId = `checkin_reminder:${openid}:${tomorrow}`
    expect(sent[0]).toMatchObject({ templateId: 'TPL_REMIND', page: `packages/incentives/checkin/index?msg=${encodeURIComponent(logId)}`, data: { number2: { value: '1' } } })
    expect(await subscription(openid, 'checkin_reminder')).toMatchObject({ quota: 0 })

    // The user taps the message: WeChat launches with scene 1014 and the page's query.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { touchFrom } = require('../../miniprogram/core/attribution') as typeof import('../../miniprogram/core/attribution')
    const touch = touchFrom({ path: 'packages/incentives/checkin/index', scene: 1014, query: { msg: encodeURIComponent(logId) } })
    expect(touch).toEqual({ scene: 1014, msg: logId })
    expect(touchFrom({ scene: 1001, query: { msg: logId } })).toEqual({ scene: 1001 })
    const event = {
      id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a01',
      name: 'app_launch',
      ts: Date.now(),
      anonymousId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a02',
      sessionId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a03',
      page: 'packages/incentives/checkin/index',
      props: { path: 'packages/incentives/checkin/index', ...touch },
    }
    const ingest = (await callFunction(cloud.url, 'track', 'ingest', { events: [event] }, openid)) as Result<unknown>
    expect(ingest.ok).toBe(true)
    const [log] = await docs('message_log', { _id: logId })
    expect(log).toMatchObject({ status: 'sent', openid })
    expect(log!.openedAt).toBeDefined()
  })
})
