/**
 * The incentive pages end to end: rendered with the real compiler and TDesign, against a real
 * local cloud running the real `incentives`, `user` and `track` functions. Check-in (the month from
 * real data, one grant however often 签到 is tapped, the reminder offer, make-ups and their refusals,
 * other months), the task center (claims and failures), points (the ledger paged as the user
 * scrolls), Me (level and perks) and the invite page (share path, the poster drawn on canvas 2D
 * with the real mini-program code image, and saving it to the album). What the pages show is checked
 * against the database, read through the cloud's own protocol.
 */
import jsQR from 'jsqr'
import { PNG } from 'pngjs'
import type { EventName, TrackedEvent } from '../../cloudfunctions/track/plan'
import { addDays, shanghaiToday } from '../../miniprogram/packages/admin/range'
import { recordCanvases } from './harness/canvas'
import { startCloudProcess, type CloudProcess } from './harness/cloud'
import { mountPage, type Mounted } from './harness/mount'
import { incentivesCloud, newOpenid } from './harness/incentives'
import { callFunction, deadUrl } from './harness/net'
import { nativeAttr, ownerData } from './harness/nodes'
import { createWx, type FakeWx } from './harness/wx'

jest.setTimeout(180_000)

const OPENID_KEY = 'local-cloud:openid'
const TEMPLATE = 'tmpl-checkin-reminder'
const MAKEUP_COST = 5

const CHECKIN = 'packages/incentives/checkin/index'
const TASKS = 'packages/incentives/tasks/index'
const POINTS = 'packages/incentives/points/index'
const INVITE = 'packages/incentives/invite/index'
const ME = 'packages/me/index'

let cloud: CloudProcess
beforeAll(async () => {
  cloud = await startCloudProcess()
  // The admin's config, before any call reads it: cheap make-ups, more invites a day, and the reminder's
  // subscription template (its id in app_config/templates, the notify registry's config).
  await insert('app_config', { _id: 'incentives', makeup: { cost: MAKEUP_COST }, referral: { maxRewardedPerDay: 50 } })
  await insert('app_config', { _id: 'templates', ids: { checkin_reminder: TEMPLATE } })
}, 60_000)

const mounted: Mounted[] = []
afterEach(() => {
  for (const m of mounted.splice(0)) m.unmount()
})
afterAll(() => cloud?.stop())

// ---- the cloud -----------------------------------------------------------------------------------

const { insert, docs, ledger, balance, incentives, login, userSince } = incentivesCloud(() => cloud.url)
const today = () => shanghaiToday()

// ---- the device ----------------------------------------------------------------------------------

interface Device {
  fake: FakeWx
  /** What the device asked of wx APIs the fake does not have by default, in order: [api, options]. */
  asked: [string, any][]
}

/**
 * A device whose development openid is `openid`, with the APIs these pages use beyond the harness's
 * fake: dialogs, subscription requests, album permissions and saving. `answers` scripts them.
 */
function device(openid: string, answers: { modal?: boolean[]; subscribe?: string; album?: boolean; authorize?: boolean; openSetting?: boolean } = {}): Device {
  const fake = createWx()
  fake.storage.set(OPENID_KEY, openid)
  const asked: [string, any][] = []
  const later = (fn: () => void) => setTimeout(fn, 0)
  const setting = (value: boolean | undefined) => (value === undefined ? {} : { 'scope.writePhotosAlbum': value })
  let album = answers.album
  const api: Record<string, (o: any) => void> = {
    showModal: (o) => later(() => o.success?.({ confirm: answers.modal?.shift() ?? false, cancel: false })),
    requestSubscribeMessage: (o) => later(() => o.success?.({ errMsg: 'requestSubscribeMessage:ok', [o.tmplIds[0]]: answers.subscribe ?? 'accept' })),
    getSetting: (o) => later(() => o.success?.({ authSetting: setting(album) })),
    authorize: (o) =>
      later(() => {
        album = answers.authorize === true
        return album ? o.success?.({}) : o.fail?.({ errMsg: 'authorize:fail auth deny' })
      }),
    openSetting: (o) =>
      later(() => {
        if (answers.openSetting !== undefined) album = answers.openSetting
        o.success?.({ authSetting: setting(album) })
      }),
    canvasToTempFilePath: (o) => later(() => o.success?.({ tempFilePath: 'wxfile://tmp/poster.png' })),
    saveImageToPhotosAlbum: (o) => later(() => (album ? o.success?.({}) : o.fail?.({ errMsg: 'saveImageToPhotosAlbum:fail auth deny' }))),
  }
  for (const [name, fn] of Object.entries(api)) {
    fake.wx[name] = (o: any) => {
      asked.push([name, o])
      fn(o)
    }
  }
  return { fake, asked }
}

type Tracker = typeof import('../../miniprogram/core/tracker')

/** Mounts a page; its tracker (the page's own module instance) collects with consent, never flushing. */
async function open(path: string, d: Device, query?: Record<string, string>): Promise<{ m: Mounted; tracker: Tracker }> {
  let tracker: Tracker | undefined
  const m = await mountPage(path, {
    cloudUrl: cloud.url,
    fake: d.fake,
    query,
    beforeLoad: () => {
      tracker = require('../../miniprogram/core/tracker') as Tracker
      tracker.initTracker({ flushAt: 1000, flushIntervalMs: 3_600_000 })
      tracker.setConsent(true)
    },
  })
  mounted.push(m)
  return { m, tracker: tracker! }
}

async function ready(m: Mounted, what = 'the page'): Promise<void> {
  await m.waitFor(() => m.page.data.status !== 'loading', what)
  if (m.page.data.status === 'error') throw new Error(`${what}: ${m.page.data.errorText}`)
}

const tracked = (tracker: Tracker, name: EventName) => tracker.pending().filter((e: TrackedEvent) => e.name === name).map((e) => e.props)
const requests = (m: Mounted, action: string) => m.fake.log.requests.filter((r) => (r.data as { action?: string }).action === action)
const hasClass = (el: Element, name: string) => [...el.classList].some((c) => c === name || c.endsWith(`--${name}`))
const inside = (el: Element, name: string) => [...el.querySelectorAll('*')].filter((e) => hasClass(e, name))
const textOf = (el: Element | undefined) => el?.textContent?.replace(/\s+/g, ' ').trim() ?? ''
const toasts = (m: Mounted) => m.fake.log.toasts.map((t) => t.title)

function button(m: Mounted, label: string): Element {
  const el = m.find('t-button').find((b) => textOf(b) === label)
  if (!el) throw new Error(`no button "${label}"; buttons: ${m.find('t-button').map(textOf).join(' | ')}`)
  return el
}

/** The calendar cell of `day` (its `.day` element), or undefined when the month on screen does not have it. */
function cell(m: Mounted, day: string): Element | undefined {
  const host = m.find('grid__cell').find((el) => el.getAttribute('data-day') === day)
  return host ? [...host.querySelectorAll('*')].find((el) => hasClass(el, 'day')) : undefined
}

/** Shows the month that has `day` (the arrows, as a user would). */
async function showMonthOf(m: Mounted, day: string): Promise<void> {
  for (let i = 0; i < 3 && m.page.data.month !== day.slice(0, 7); i++) {
    const arrow = m.find('grid__arrow')[m.page.data.month > day.slice(0, 7) ? 0 : 1]!
    const before = m.page.data.month
    await m.tap(arrow)
    await m.waitFor(() => m.page.data.month !== before && !m.page.data.monthLoading, 'the other month')
  }
  expect(m.page.data.month).toBe(day.slice(0, 7))
}

// ---- check-in --------------------------------------------------------------------------------------

describe('check-in', () => {
  test('the month from real data: joined, missed and makeable days, today; then 签到 grants once, however often it is tapped', async () => {
    const openid = await userSince(10)
    const d = device(openid)
    const { m, tracker } = await open(CHECKIN, d)
    expect(m.find('skeleton__row').length).toBeGreaterThan(0)
    await ready(m, 'the check-in page')

    const t = today()
    const calendar = await incentives('calendar', { month: t.slice(0, 7) }, openid)
    expect(m.page.data.month).toBe(t.slice(0, 7))
    expect(textOf(m.find('grid__title')[0])).toBe(`${Number(t.slice(0, 4))}年${Number(t.slice(5, 7))}月`)
    expect(m.find('grid__weekday').map(textOf)).toEqual(['日', '一', '二', '三', '四', '五', '六'])
    // Every day of the month is there once; today is marked.
    const days = m.find('grid__cell').map((el) => el.getAttribute('data-day')).filter(Boolean)
    expect(days).toHaveLength(new Date(Date.UTC(Number(t.slice(0, 4)), Number(t.slice(5, 7)), 0)).getUTCDate())
    expect(hasClass(cell(m, t)!, 'day--today')).toBe(true)
    expect(textOf(cell(m, t))).toContain('今天')
    // Days since joining are missed; as many as the month still allows to make up (the most recent)
    // say so, so every 可补 can be made up; before joining, nothing.
    const since = addDays(t, -10)
    expect(calendar.makeupDays.length).toBeGreaterThan(calendar.makeup.remainingThisMonth)
    const offered = [...calendar.makeupDays].sort().slice(-calendar.makeup.remainingThisMonth)
    for (let back = 1; back <= 12; back++) {
      const day = addDays(t, -back)
      const el = cell(m, day)
      if (!el) continue // last month
      if (day < since) expect(hasClass(el, 'day--idle')).toBe(true)
      else expect(hasClass(el, 'day--missed')).toBe(true)
      expect(hasClass(el, 'day--makeable')).toBe(offered.includes(day))
      if (hasClass(el, 'day--makeable')) expect(textOf(el)).toContain('可补')
    }
    expect(m.page.data.makeable).toEqual(offered.filter((d) => d.startsWith(t.slice(0, 7))))
    // Today, not checked in yet, is not ringed (a ring is 已补签); the legend draws each mark as the days are drawn.
    expect(hasClass(cell(m, t)!, 'day--makeup')).toBe(false)
    expect(m.find('legend__item').map((el) => [textOf(el), inside(el, 'legend__mark').flatMap((mark) => [...mark.classList].filter((c) => /day--/.test(c)).map((c) => c.replace(/^.*--day--/, 'day--')))])).toEqual([
      ['已签到', ['day--checked']],
      ['已补签', ['day--makeup']],
      ['可补签', ['day--makeable']],
    ])
    expect(textOf(m.find('hero__streak')[0])).toBe('已连续签到 0 天')
    // Defaults: a streak bonus on the 3rd day in a row.
    expect(textOf(m.find('hero__bonus')[0])).toBe('再签 3 天，连续第 3 天可得 10 积分')
    expect(textOf(m.find('rules')[0])).toBe(`漏签的日子可在 7 天内补签，每次 ${MAKEUP_COST} 积分，本月还可补签 3 次`)

    const checkin = button(m, '签到 +5 积分')
    const taps = [m.tap(checkin), m.tap(checkin), m.tap(checkin)]
    await Promise.all(taps)
    await m.waitFor(() => m.page.data.checkedInToday && toasts(m).length > 0, 'the check-in')
    expect(requests(m, 'checkin')).toHaveLength(1)
    expect(toasts(m)).toEqual(['签到成功 +5 积分'])
    // A status in full color, not a greyed-out button.
    expect(textOf(m.find('done')[0])).toBe('今日已签到，明天再来')
    expect(m.find('t-button').some((b) => textOf(b).includes('今日已签到'))).toBe(false)
    expect(hasClass(cell(m, t)!, 'day--checked')).toBe(true)
    expect(textOf(m.find('hero__streak')[0])).toBe('已连续签到 1 天')
    expect(textOf(m.find('hero__balance-value')[0])).toBe('5')
    expect(tracked(tracker, 'checkin')).toEqual([{ streak: 1, makeup: false }])
    // The streak's next bonus moved on: from the calendar the check-in's reply carries (one call, no refresh).
    await m.waitFor(() => m.page.data.bonusText === '再签 2 天，连续第 3 天可得 10 积分', 'the next bonus')
    expect(requests(m, 'checkin').map((r) => r.data)).toEqual([{ action: 'checkin', data: { month: t.slice(0, 7) } }])
    expect(requests(m, 'calendar')).toHaveLength(1) // the page's first load only

    // The database: one check-in, one ledger entry, the balance their sum.
    expect(await docs('checkins', { openid })).toEqual([expect.objectContaining({ _id: `${openid}:${t}`, day: t, streak: 1, reward: 5, makeup: false })])
    expect((await ledger(openid)).map((e) => [e.reason, e.amount, e.balanceAfter])).toEqual([['checkin', 5, 5]])
    expect(await balance(openid)).toBe(5)

    // Another visit: already done, nothing to tap.
    const again = await open(CHECKIN, device(openid))
    await ready(again.m)
    expect(textOf(again.m.find('done')[0])).toBe('今日已签到，明天再来')
    expect(again.m.find('t-button').some((b) => textOf(b).startsWith('签到'))).toBe(false)
    await again.m.tap(again.m.find('done')[0]!)
    expect(requests(again.m, 'checkin')).toHaveLength(0)
    expect((await ledger(openid))).toHaveLength(1)
  })

  test('after checking in: 明天提醒我 (the subscribe button) asks for the configured template inside the tap; an answer hides the offer', async () => {
    const accept = device(await userSince(3))
    const { m } = await open(CHECKIN, accept)
    await ready(m)
    expect(m.find('remind')).toHaveLength(0)
    await m.tap(button(m, '签到 +5 积分'))
    await m.waitFor(() => m.find('remind').length === 1, 'the reminder offer')
    // Says when, without repeating its button.
    expect(textOf(m.find('remind__text')[0])).toBe('每晚 8 点还没签到时，发消息提醒你')
    await m.waitFor(() => m.find('t-button').some((b) => textOf(b) === '明天提醒我'), 'the subscribe button')
    const tap = m.tap(button(m, '明天提醒我'))
    // Asked before the tap's handler returned: WeChat opens the dialog only then.
    expect(accept.asked.filter(([api]) => api === 'requestSubscribeMessage').map(([, o]) => o.tmplIds)).toEqual([[TEMPLATE]])
    await tap
    await m.waitFor(() => m.find('remind').length === 0, 'the offer answered')
    expect(toasts(m)).toContain('好的，明天提醒你签到')

    const reject = device(await userSince(3), { subscribe: 'reject' })
    const second = await open(CHECKIN, reject)
    await ready(second.m)
    await second.m.tap(button(second.m, '签到 +5 积分'))
    await second.m.waitFor(() => second.m.find('remind').length === 1, 'the reminder offer')
    await second.m.waitFor(() => second.m.find('t-button').some((b) => textOf(b) === '明天提醒我'), 'the subscribe button')
    await second.m.tap(button(second.m, '明天提醒我'))
    await second.m.waitFor(() => second.m.find('remind').length === 0, 'the offer answered')
    // Declining is not an error: no message.
    expect(toasts(second.m)).toEqual(['签到成功 +5 积分'])
  })

  test('a make-up: tap a missed day, see its cost, confirm; the day is filled and paid for once; refusals are explained', async () => {
    const openid = await userSince(10)
    await incentives('checkin', {}, openid)
    const d = device(openid, { modal: [false, true, true] })
    const { m, tracker } = await open(CHECKIN, d)
    await ready(m)
    const calendar = await incentives('calendar', { month: today().slice(0, 7) }, openid)
    // The latest makeable day: yesterday (last month's, when today is the 1st).
    const yesterday = addDays(today(), -1)
    await showMonthOf(m, yesterday)
    expect(m.page.data.makeable).toContain(yesterday)
    const target = cell(m, yesterday)!
    expect(textOf(target)).toContain('可补')
    if (yesterday.startsWith(today().slice(0, 7))) expect(calendar.makeupDays).toContain(yesterday)

    // Dismissed: nothing happens.
    await m.tap(target)
    await m.waitFor(() => d.asked.some(([api]) => api === 'showModal'), 'the dialog')
    const [, dialog] = d.asked.find(([api]) => api === 'showModal')!
    const [, mm, dd] = yesterday.split('-').map(Number)
    expect(dialog).toMatchObject({ title: `补签${mm}月${dd}日`, content: `将消耗 ${MAKEUP_COST} 积分（现有 5），本月还可补签 3 次。`, confirmText: '补签' })
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(requests(m, 'makeup')).toHaveLength(0)

    // Confirmed: made up.
    await m.tap(cell(m, yesterday)!)
    await m.waitFor(() => toasts(m).length > 0, 'the make-up')
    expect(toasts(m)).toEqual([`已补签${mm}月${dd}日，-${MAKEUP_COST} 积分`])
    expect(requests(m, 'makeup').map((r) => r.data)).toEqual([{ action: 'makeup', data: { day: yesterday } }])
    expect(hasClass(cell(m, yesterday)!, 'day--makeup')).toBe(true)
    expect(textOf(cell(m, yesterday))).toContain('补')
    expect(tracked(tracker, 'checkin')).toEqual([{ streak: 2, makeup: true }])
    expect((await ledger(openid)).map((e) => [e.reason, e.amount, e.balanceAfter])).toEqual([
      ['checkin', 5, 5],
      ['makeup', -MAKEUP_COST, 0],
    ])
    expect((await docs('checkins', { openid, day: yesterday }))[0]).toMatchObject({ makeup: true, reward: 0 })
    await showMonthOf(m, today())
    await m.waitFor(() => textOf(m.find('hero__streak')[0]) === '已连续签到 2 天', 'the longer streak')

    // No points left: said on the device, without a dialog or a call.
    const other = m.page.data.makeable.find((day: string) => day !== yesterday) ?? null
    if (other) {
      const dialogs = d.asked.filter(([api]) => api === 'showModal').length
      await m.tap(cell(m, other)!)
      expect(toasts(m).at(-1)).toBe(`积分不足，补签需要 ${MAKEUP_COST} 积分`)
      expect(d.asked.filter(([api]) => api === 'showModal')).toHaveLength(dialogs)
      expect(requests(m, 'makeup')).toHaveLength(1)
    }
  })

  test('a make-up the cloud refuses (the points were spent elsewhere meanwhile): its reason, and nothing changes', async () => {
    const openid = await userSince(10)
    await incentives('checkin', {}, openid)
    const d = device(openid, { modal: [true] })
    const { m } = await open(CHECKIN, d)
    await ready(m)
    // Behind the page's back: another device spends the points on the day before yesterday.
    const spentOn = addDays(today(), -2)
    await incentives('makeup', { day: spentOn }, openid)
    const before = await ledger(openid)

    const yesterday = addDays(today(), -1)
    await showMonthOf(m, yesterday)
    await m.tap(cell(m, yesterday)!)
    await m.waitFor(() => toasts(m).length > 0, 'the refusal')
    expect(toasts(m)).toEqual([`积分不足：补签需要 ${MAKEUP_COST} 积分，你有 0 积分。`])
    expect(hasClass(cell(m, yesterday)!, 'day--makeable')).toBe(true)
    expect(await ledger(openid)).toEqual(before)
  })

  test('other months: back to the month the user joined in, forward to this one, no further', async () => {
    const openid = await userSince(40)
    const { m } = await open(CHECKIN, device(openid))
    await ready(m)
    const month = today().slice(0, 7)
    const [prev, next] = m.find('grid__arrow')
    expect(hasClass(next!, 'grid__arrow--off')).toBe(true)
    await m.tap(next!)
    expect(requests(m, 'calendar')).toHaveLength(1)

    await m.tap(prev!)
    await m.waitFor(() => !m.page.data.monthLoading && m.page.data.month !== month, 'the month before')
    const last = m.page.data.month as string
    expect(requests(m, 'calendar').map((r) => r.data)).toEqual([
      { action: 'calendar', data: { month } },
      { action: 'calendar', data: { month: last } },
    ])
    expect(last < month).toBe(true)
    expect(textOf(m.find('grid__title')[0])).toBe(`${Number(last.slice(0, 4))}年${Number(last.slice(5))}月`)
    // Its last day was missed (the user had joined); nothing is today.
    const end = addDays(`${month}-01`, -1)
    expect(hasClass(cell(m, end)!, 'day--missed')).toBe(true)
    expect(m.find('day--today')).toHaveLength(0)

    // Back to the month the user joined in; before it there is nothing to see.
    const joined = addDays(today(), -40).slice(0, 7)
    await showMonthOf(m, `${joined}-01`)
    expect(hasClass(m.find('grid__arrow')[0]!, 'grid__arrow--off')).toBe(true)
    await showMonthOf(m, today())
    expect(hasClass(cell(m, today())!, 'day--today')).toBe(true)
  })

  test('the check-in fails on the network: the reason in a toast, the button works again', async () => {
    const openid = await userSince(1)
    const { m } = await open(CHECKIN, device(openid))
    await ready(m)
    m.cloud.configureCloud({ localCloudUrl: await deadUrl() })
    await m.tap(button(m, '签到 +5 积分'))
    await m.waitFor(() => toasts(m).length > 0, 'the failure')
    expect(toasts(m)).toEqual(['网络不太给力，请检查网络后重试'])
    expect(m.page.data.checkingIn).toBe(false)
    m.cloud.configureCloud({ localCloudUrl: cloud.url })
    await m.tap(button(m, '签到 +5 积分'))
    await m.waitFor(() => m.page.data.checkedInToday, 'the check-in')
    expect(await balance(openid)).toBe(5)
  })
})

// ---- tasks ---------------------------------------------------------------------------------------

describe('task center', () => {
  test('new-user tasks first, with progress; a completed one is claimed once and the balance follows', async () => {
    const openid = newOpenid()
    await login(openid)
    const reply = await callFunction(cloud.url, 'user', 'updateProfile', { nickname: '小满', avatarUrl: 'https://example.com/a.png' }, openid)
    expect(reply.ok).toBe(true)
    const { m, tracker } = await open(TASKS, device(openid))
    await ready(m, 'the tasks')

    const { items } = await incentives('tasks', {}, openid)
    expect(m.find('section__title').map(textOf)).toEqual(['新手任务', '日常任务'])
    const shown = m.find('task').map((el) => ({
      title: textOf([...el.querySelectorAll('*')].find((e) => hasClass(e, 'task__title'))),
      count: textOf([...el.querySelectorAll('*')].find((e) => hasClass(e, 'task__count'))),
      fill: [...el.querySelectorAll('*')].find((e) => hasClass(e, 'bar__fill'))?.getAttribute('style'),
    }))
    const order = [...items.filter((t) => t.newUser), ...items.filter((t) => !t.newUser)]
    expect(shown.map((s) => s.title)).toEqual(order.map((t) => t.title))
    expect(shown.map((s) => s.count)).toEqual(order.map((t) => `${Math.min(t.progress, t.target)}/${t.target}`))
    expect(shown[0]).toEqual({ title: '完善资料', count: '1/1', fill: 'width: 100%' })
    expect(items.find((t) => t.id === 'read-5')).toMatchObject({ progress: 0, target: 5 })
    expect(shown.find((s) => s.title === '阅读 5 篇指南')?.fill).toBe('width: 0%')
    expect(textOf(m.find('balance__value')[0])).toBe('0')

    // One 领取 (the completed task), 去完成 for the rest.
    expect(m.find('t-button').map(textOf).filter((t) => t === '领取')).toHaveLength(1)
    const claim = button(m, '领取')
    await Promise.all([m.tap(claim), m.tap(claim)])
    await m.waitFor(() => toasts(m).length > 0, 'the claim')
    expect(requests(m, 'claimTask').map((r) => r.data)).toEqual([{ action: 'claimTask', data: { taskId: 'profile' } }])
    expect(toasts(m)).toEqual(['已领取 +20 积分'])
    expect(textOf(m.find('balance__value')[0])).toBe('20')
    expect(ownerData(button(m, '已领取')).disabled).toBe(true)
    expect(tracked(tracker, 'task_claim')).toEqual([{ taskId: 'profile' }])
    expect((await ledger(openid)).map((e) => [e.reason, e.ref, e.amount])).toEqual([['task', 'profile', 20]])

    // 去完成 leads where the task is done.
    const streakTask = m.find('task').find((el) => textOf(el).includes('连续签到 3 天'))!
    await m.tap([...streakTask.querySelectorAll('*')].find((e) => hasClass(e, 't-button') && textOf(e) === '去完成')!)
    expect(m.fake.log.navigateTo).toEqual(['/packages/incentives/checkin/index'])
  })

  test('a claim that fails says why, and the task stays claimable', async () => {
    const openid = newOpenid()
    await login(openid)
    await callFunction(cloud.url, 'user', 'updateProfile', { nickname: '阿青', avatarUrl: 'https://example.com/b.png' }, openid)
    const { m } = await open(TASKS, device(openid))
    await ready(m)
    m.cloud.configureCloud({ localCloudUrl: await deadUrl() })
    await m.tap(button(m, '领取'))
    await m.waitFor(() => toasts(m).length > 0, 'the failure')
    expect(toasts(m)).toEqual(['网络不太给力，请检查网络后重试'])
    expect(m.page.data.claiming).toBe('')
    expect(button(m, '领取')).toBeDefined()
    expect(await ledger(openid)).toEqual([])
  })

  test('the task list cannot load: the reason and 重新加载', async () => {
    const openid = newOpenid()
    const d = device(openid)
    const m = await mountPage(TASKS, { cloudUrl: await deadUrl(), fake: d.fake })
    mounted.push(m)
    await m.waitFor(() => m.page.data.status === 'error', 'the error')
    expect(m.text()).toContain('网络不太给力，请检查网络后重试')
    m.cloud.configureCloud({ localCloudUrl: cloud.url })
    await m.tap(button(m, '重新加载'))
    await ready(m)
    expect(m.find('task').length).toBeGreaterThan(0)
  })
})

// ---- points and Me --------------------------------------------------------------------------------

describe('points and levels', () => {
  let inviter = ''
  const INVITEES = 25

  beforeAll(async () => {
    // An inviter with 25 friends who joined through the invite: 25 ledger entries, 1250 points.
    inviter = newOpenid()
    await login(inviter)
    const { code } = await incentives('invite', {}, inviter)
    for (let i = 0; i < INVITEES; i++) {
      const friend = newOpenid()
      await login(friend)
      await incentives('acceptInvite', { code }, friend)
    }
  }, 60_000)

  test('the ledger, newest first, 20 at a time as the user scrolls, until there is no more', async () => {
    const { m } = await open(POINTS, device(inviter))
    await ready(m, 'the points')
    const entries = (await ledger(inviter)).reverse()
    expect(entries).toHaveLength(INVITEES)
    expect(textOf(m.find('head__balance')[0])).toBe('1250')
    expect(textOf(m.find('head__meta')[0])).toMatch(/^累计获得 1250/)
    expect(textOf(m.find('head__level')[0])).toBe('白银 · 再得 750 积分升级为「黄金」')
    const part = (el: Element, name: string) => textOf([...el.querySelectorAll('*')].find((e) => hasClass(e, name)))
    const rows = () => m.find('entry').map((el) => ['entry__title', 'entry__when', 'entry__amount', 'entry__balance'].map((name) => part(el, name)))
    expect(rows()).toHaveLength(20)
    const [m0, d0] = today().split('-').slice(1).map(Number)
    expect(rows()[0]).toEqual(['邀请好友奖励', expect.stringMatching(new RegExp(`^${m0}月${d0}日 \\d{2}:\\d{2}$`)), '+50', '余额 1250'])
    expect(m.page.data.rows.map((r: { seq: number }) => r.seq)).toEqual(entries.slice(0, 20).map((e) => e.seq))

    m.page.onReachBottom()
    await m.waitFor(() => m.page.data.more === 'done', 'the second page')
    expect(rows()).toHaveLength(INVITEES)
    expect(m.page.data.rows.map((r: { seq: number }) => r.seq)).toEqual(entries.map((e) => e.seq))
    expect(rows().at(-1)).toEqual(['邀请好友奖励', expect.any(String), '+50', '余额 50'])
    expect(textOf(m.find('more__done')[0])).toBe('没有更多了')
    expect(requests(m, 'ledger').map((r) => (r.data as { data: unknown }).data)).toEqual([{ limit: 20 }, { cursor: String(entries[19]!.seq), limit: 20 }])
    m.page.onReachBottom()
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(requests(m, 'ledger')).toHaveLength(2)
  })

  test('a page that fails to load more offers to try again', async () => {
    const { m } = await open(POINTS, device(inviter))
    await ready(m)
    m.cloud.configureCloud({ localCloudUrl: await deadUrl() })
    m.page.onReachBottom()
    await m.waitFor(() => m.page.data.more === 'error', 'the failed page')
    expect(textOf(m.find('more__retry')[0])).toBe('加载失败，点此重试')
    m.cloud.configureCloud({ localCloudUrl: cloud.url })
    await m.tap(m.find('more__retry')[0]!)
    await m.waitFor(() => m.page.data.more === 'done', 'the second page')
    expect(m.find('entry')).toHaveLength(INVITEES)
  })

  test('the history cannot load: the reason, then 重新加载 shows the skeleton and the history', async () => {
    const d = device(inviter)
    const m = await mountPage(POINTS, { cloudUrl: await deadUrl(), fake: d.fake })
    mounted.push(m)
    await m.waitFor(() => m.page.data.status === 'error', 'the error')
    expect(m.text()).toContain('网络不太给力，请检查网络后重试')
    m.cloud.configureCloud({ localCloudUrl: cloud.url })
    await m.tap(button(m, '重新加载'))
    expect(m.page.data.status).toBe('loading')
    expect(m.find('skeleton__row').length).toBeGreaterThan(0)
    await ready(m)
    expect(m.find('entry')).toHaveLength(20)
  })

  test('no points yet: an empty history that leads to 签到', async () => {
    const openid = newOpenid()
    const { m } = await open(POINTS, device(openid))
    await ready(m)
    expect(textOf(m.find('head__balance')[0])).toBe('0')
    expect(m.text()).toContain('还没有积分记录，签到就能得积分')
    await m.tap(button(m, '去签到'))
    expect(m.fake.log.navigateTo).toEqual(['/packages/incentives/checkin/index'])
  })

  test('Me: the level, progress to the next one and its perks; the four entries', async () => {
    const { m } = await open(ME, device(inviter))
    await m.waitFor(() => m.page.data.status === 'ready' && m.find('level').length === 1, 'the level card')
    expect(textOf(m.find('level__name')[0])).toBe('白银')
    expect(textOf(m.find('level__points')[0])).toBe('积分 1250')
    expect(textOf(m.find('level__next')[0])).toBe('再得 750 积分升级为「黄金」')
    // 1250 of 500..2000 lifetime points.
    expect(m.find('level__fill')[0]!.getAttribute('style')).toBe('width: 50%')
    expect(m.find('level__perk').map(textOf)).toEqual(['每日签到领积分', '专属白银徽章', '每月多 1 次补签'])

    expect(m.find('rewards__title').map(textOf)).toEqual(['签到', '任务中心', '邀请好友', '积分明细'])
    for (const item of m.find('rewards__item')) await m.tap(item)
    await m.tap(m.find('level')[0]!)
    expect(m.fake.log.navigateTo).toEqual([
      '/packages/incentives/checkin/index',
      '/packages/incentives/tasks/index',
      '/packages/incentives/invite/index',
      '/packages/incentives/points/index',
      '/packages/incentives/points/index',
    ])
  })

  test('Me for a new user: the first level and how far the next is; back on Me after checking in, the points moved', async () => {
    const openid = newOpenid()
    const { m } = await open(ME, device(openid))
    await m.waitFor(() => m.find('level').length === 1, 'the level card')
    expect(textOf(m.find('level__name')[0])).toBe('新手')
    expect(textOf(m.find('level__points')[0])).toBe('积分 0')
    expect(textOf(m.find('level__next')[0])).toBe('再得 100 积分升级为「青铜」')
    expect(m.find('level__fill')[0]!.getAttribute('style')).toBe('width: 0%')
    expect(m.find('level__perk').map(textOf)).toEqual(['每日签到领积分'])

    await incentives('checkin', {}, openid)
    m.page.onShow()
    await m.waitFor(() => textOf(m.find('level__points')[0]) === '积分 5', 'the new balance')
    expect(textOf(m.find('level__next')[0])).toBe('再得 95 积分升级为「青铜」')
    expect(m.find('level__fill')[0]!.getAttribute('style')).toBe('width: 5%')
  })
})

// ---- invite ----------------------------------------------------------------------------------------

describe('invite', () => {
  function decodeQr(png: Buffer): string | undefined {
    const image = PNG.sync.read(png)
    return jsQR(new Uint8ClampedArray(image.data), image.width, image.height)?.data
  }

  async function invitePage(d: Device) {
    const opened = await open(INVITE, d)
    const canvases = recordCanvases({ width: 300, height: 480 })
    await ready(opened.m, 'the invite page')
    await opened.m.waitFor(() => opened.m.page.data.poster !== 'drawing', 'the poster')
    return { ...opened, canvases }
  }

  test('my code, the rewards, sharing with the code in the path, and the poster with my mini-program code', async () => {
    const openid = newOpenid()
    await login(openid)
    await callFunction(cloud.url, 'user', 'updateProfile', { nickname: '小满' }, openid)
    const { m, tracker, canvases } = await invitePage(device(openid))
    const info = await incentives('invite', {}, openid)
    // Capitals and digits without look-alikes, in two groups of four: read out easily.
    expect(info.code).toMatch(/^[A-HJ-NP-Z2-9]{8}$/)
    expect(textOf(m.find('code__value')[0])).toBe(`${info.code.slice(0, 4)} ${info.code.slice(4)}`)
    expect(m.find('reward').map((el) => [textOf(inside(el, 'reward__points')[0]), textOf(inside(el, 'reward__label')[0])])).toEqual([
      ['+50', '你得积分'],
      ['+20', '好友得积分'],
    ])
    expect(textOf(m.find('code__count')[0])).toBe('已成功邀请 0 位好友')

    // Sharing: the platform's share button; the shared path carries the code.
    const share = m.find('t-button').find((el) => textOf(el) === '分享给微信好友')!
    const native = [share, ...share.querySelectorAll('*')].find((el) => el.tagName.toLowerCase() === 'wx-button')!
    expect(nativeAttr(native, 'openType')).toBe('share')
    const card = m.page.onShareAppMessage({ from: 'button' })
    expect(card.title).toBe('小满邀请你一起每天学个生活技巧')
    expect(card.path).toMatch(new RegExp(`^/pages/home/index\\?c=${info.code}&sharer=[0-9a-f-]{36}$`))
    expect(tracked(tracker, 'invite_share')).toEqual([{ kind: 'message' }])

    // The poster: drawn once the images loaded, at the device's pixel ratio.
    expect(m.page.data.poster).toBe('ready')
    const [canvas] = canvases.all
    expect([canvas!.width, canvas!.height]).toEqual([600, 960])
    const ctx = canvas!.ctx
    expect(ctx.ops[0]).toEqual({ op: 'setTransform', args: [2, 0, 0, 2, 0, 0] })
    expect(ctx.text('实用指南')).toBeDefined()
    expect(ctx.text('小满 邀请你一起来')).toBeDefined()
    expect(ctx.text('扫码加入，送你 20 积分')).toBeDefined()
    expect(ctx.text(`邀请码 ${info.code.slice(0, 4)} ${info.code.slice(4)}`)).toBeDefined()
    expect(ctx.text('小')).toBeDefined() // no avatar: the initial
    // The image drawn is the mini-program code the cloud made: its scene is my invite code.
    const drawn = ctx.ops.filter((o) => o.op === 'drawImage')
    expect(drawn).toHaveLength(1)
    const image = canvas!.images[0]!
    expect(drawn[0]).toMatchObject({ image, w: 160, h: 160 })
    expect(image.src).toBe(m.page.data.info.qrUrl)
    expect(decodeQr(image.bytes!)).toContain(info.code)
  })

  test('saving the poster, allowed before: exported from the canvas and saved; 海报已保存到相册', async () => {
    const d = device(newOpenid(), { album: true })
    const { m, tracker, canvases } = await invitePage(d)
    await m.tap(button(m, '保存海报到相册'))
    await m.waitFor(() => toasts(m).length > 0, 'the save')
    expect(toasts(m)).toEqual(['海报已保存到相册'])
    expect(d.asked.map(([api]) => api)).toEqual(['getSetting', 'canvasToTempFilePath', 'saveImageToPhotosAlbum'])
    expect(d.asked[1]![1]).toMatchObject({ canvas: canvases.all[0], fileType: 'png' })
    expect(d.asked[2]![1]).toMatchObject({ filePath: 'wxfile://tmp/poster.png' })
    expect(tracked(tracker, 'invite_share')).toEqual([{ kind: 'poster' }])
    expect(tracked(tracker, 'poster_save')).toEqual([{ result: 'saved' }])
  })

  test('refused before: a dialog leads to the settings; turned on there, the poster is saved', async () => {
    const d = device(newOpenid(), { album: false, modal: [true], openSetting: true })
    const { m, tracker } = await invitePage(d)
    await m.tap(button(m, '保存海报到相册'))
    await m.waitFor(() => toasts(m).length > 0, 'the save')
    expect(d.asked.map(([api]) => api)).toEqual(['getSetting', 'showModal', 'openSetting', 'canvasToTempFilePath', 'saveImageToPhotosAlbum'])
    expect(d.asked[1]![1]).toMatchObject({ title: '需要相册权限', confirmText: '去设置' })
    expect(toasts(m)).toEqual(['海报已保存到相册'])
    expect(tracked(tracker, 'poster_save')).toEqual([{ result: 'saved' }])
  })

  test('asked now and refused: denied, said so; the dialog dismissed: cancelled, nothing said', async () => {
    const refuses = device(newOpenid(), { authorize: false })
    const first = await invitePage(refuses)
    await first.m.tap(button(first.m, '保存海报到相册'))
    await first.m.waitFor(() => toasts(first.m).length > 0, 'the refusal')
    expect(toasts(first.m)).toEqual(['没有相册权限，海报未保存'])
    expect(refuses.asked.map(([api]) => api)).toEqual(['getSetting', 'authorize'])
    expect(tracked(first.tracker, 'poster_save')).toEqual([{ result: 'denied' }])

    const dismisses = device(newOpenid(), { album: false, modal: [false] })
    const second = await invitePage(dismisses)
    await second.m.tap(button(second.m, '保存海报到相册'))
    await second.m.waitFor(() => tracked(second.tracker, 'poster_save').length > 0, 'the outcome')
    expect(tracked(second.tracker, 'poster_save')).toEqual([{ result: 'cancelled' }])
    expect(dismisses.asked.map(([api]) => api)).toEqual(['getSetting', 'showModal'])
    expect(toasts(second.m)).toEqual([])
    expect(second.m.page.data.saving).toBe(false)
  })
})
