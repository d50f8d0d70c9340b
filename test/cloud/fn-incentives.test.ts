/**
 * The `incentives` function against a real local cloud, with the real `user` and `track` functions
 * beside it: check-ins and streaks over days (the functions' clock is moved by a preloaded test
 * module, never by the caller), make-ups, tasks whose progress comes from events sent through
 * `track`, referrals (rewards once; self, not-new, loops, forged codes refused), levels, ledger
 * paging, the admin config, bad input. After all of it: balance = sum(ledger) for every user.
 */
import jsQR from 'jsqr'
import { PNG } from 'pngjs'
import type { PointsAccountDoc, PointsLedgerDoc } from '../../cloudfunctions/_shared/models'
import { addDays } from '../../cloudfunctions/_shared/time'
import { DEFAULT_CONFIG } from '../../cloudfunctions/incentives/defaults'
import { auditLedger } from '../../cloudfunctions/incentives/rules'
import { uuidv7 } from '../../miniprogram/core/uuid'
import type { DeviceEvent } from '../helpers/events'
import { type Doc, type Failure, incentives, type Out } from '../helpers/incentives'
import { callAction, callGateway, startCloud, type TestCloud } from '../helpers/local-cloud'
import { type RiggedFunctions, riggedFunctions } from '../helpers/rigged-functions'

jest.setTimeout(180_000)

const ADMIN = 'o-inc-admin'
/** A Monday; every test moves the functions' clock relative to it. */
const BASE = '2026-03-02'
const D = (n: number) => addDays(BASE, n)

let rig: RiggedFunctions
let t: TestCloud
/** The instant the functions' clock is set to (ms). */
let clockAt = 0

/** Moves the clock of incentives, user and track to `day` at `time` Shanghai time. */
function on(day: string, time = '10:00:00'): void {
  const iso = `${day}T${time}+08:00`
  clockAt = Date.parse(iso)
  rig.setClock(iso)
}

beforeAll(async () => {
  // Config read on every call, so a test's config change applies to its next call.
  rig = riggedFunctions(['incentives', 'user', 'track'], { preload: ['clock'], env: { INCENTIVES_CONFIG_TTL_S: '0', TEMPLATES_TTL_MS: '0' } })
  t = await startCloud({ functionsDir: rig.dir })
  t.cloud.store.insert('app_config', [{ _id: 'admins', openids: [ADMIN] }])
})
afterAll(async () => {
  await t?.stop()
  rig?.remove()
})

/** A Date the function wrote at the current clock (its clock runs on during the call). */
function atClock() {
  const from = clockAt
  return {
    asymmetricMatch: (value: unknown) => Object.prototype.toString.call(value) === '[object Date]' && (value as Date).getTime() - from >= 0 && (value as Date).getTime() - from < 10_000,
    toAsymmetricMatcher: () => `a Date within 10 s after ${new Date(from).toISOString()}`,
  }
}

const { ok, fail, find, account, entries, balance, snapshot, audit } = incentives(() => t)

async function setConfig(doc: Doc | null): Promise<void> {
  t.cloud.store.remove('app_config', { _id: 'incentives' }, false)
  if (doc) t.cloud.store.insert('app_config', [{ _id: 'incentives', ...doc }])
}

async function login(openid: string): Promise<void> {
  const reply = await callAction(t.url, 'user', 'login', {}, openid)
  if (!reply.ok) throw new Error(JSON.stringify(reply))
}

/** A device sending events through the real `track` function, at the functions' clock. */
function device(openid: string) {
  const anonymousId = uuidv7()
  const sessionId = uuidv7()
  const event = (name: string, props: Doc = {}): DeviceEvent => ({ id: uuidv7(), name, ts: clockAt, anonymousId, sessionId, page: 'pages/home/index', props })
  return {
    event,
    async send(...events: DeviceEvent[]) {
      const reply = await callAction<{ accepted: string[]; rejected: unknown[] }>(t.url, 'track', 'ingest', { events }, openid)
      if (!reply.ok || reply.data.rejected.length > 0) throw new Error(JSON.stringify(reply))
    },
  }
}

async function checkinOn(openid: string, day: string): Promise<Out['checkin']> {
  on(day)
  return ok('checkin', {}, openid)
}

describe('check-in', () => {
  test('the first check-in grants the base reward: a check-in, a ledger entry and the account, in one go', async () => {
    on(D(0))
    const result = await ok('checkin', {}, 'o-first')
    expect(result).toEqual({
      day: D(0),
      streak: 1,
      base: 5,
      bonus: 0,
      reward: 5,
      alreadyCheckedIn: false,
      balance: 5,
      level: { index: 0, name: '新手', minPoints: 0, perks: ['每日签到领积分'] },
      reminder: false,
    })
    expect(find('checkins', { openid: 'o-first' })).toEqual([
      { _id: `o-first:${D(0)}`, openid: 'o-first', day: D(0), streak: 1, reward: 5, makeup: false, createdAt: atClock() },
    ])
    expect(entries('o-first')).toEqual([
      {
        _id: `checkin:o-first:${D(0)}`,
        openid: 'o-first',
        seq: 1,
        reason: 'checkin',
        amount: 5,
        ref: D(0),
        title: '每日签到（连续 1 天）',
        day: D(0),
        createdAt: atClock(),
        balanceAfter: 5,
      },
    ])
    expect(account('o-first')).toMatchObject({ balance: 5, lifetime: 5, entries: 1, checkin: { lastDay: D(0), streak: 1, best: 1, lastReward: 5 } })
  })

  test('checking in twice the same day answers with the first result and grants nothing more', async () => {
    on(D(0), '08:00:00')
    const first = await ok('checkin', {}, 'o-twice')
    on(D(0), '21:30:00')
    const second = await ok('checkin', {}, 'o-twice')
    expect(second).toEqual({ ...first, alreadyCheckedIn: true })
    expect(entries('o-twice')).toHaveLength(1)
    expect(balance('o-twice')).toBe(5)
  })

  test('the client cannot choose the day: a day in the payload is refused and nothing is written', async () => {
    on(D(0))
    const before = snapshot()
    const err = await fail('checkin', { day: D(-1) }, 'o-sneaky')
    expect(err).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: '', message: expect.stringContaining('day') }] })
    expect(snapshot()).toBe(before)
  })

  test('days are Asia/Shanghai days: 23:59 and 00:01 a minute apart are two check-ins', async () => {
    on(D(0), '23:59:00')
    expect(await ok('checkin', {}, 'o-midnight')).toMatchObject({ day: D(0), streak: 1 })
    on(D(1), '00:01:00')
    expect(await ok('checkin', {}, 'o-midnight')).toMatchObject({ day: D(1), streak: 2, alreadyCheckedIn: false })
    expect(balance('o-midnight')).toBe(10)
  })

  test('streak bonuses: +5 on the 3rd day, +30 on the 7th, and the cycle starts over on the 8th', async () => {
    const rewards: number[] = []
    for (let n = 0; n < 14; n++) rewards.push((await checkinOn('o-streak', D(n))).reward)
    expect(rewards).toEqual([5, 5, 10, 5, 5, 5, 35, 5, 5, 10, 5, 5, 5, 35])
    expect(balance('o-streak')).toBe(140)
    expect(account('o-streak')?.checkin).toEqual({ lastDay: D(13), streak: 14, best: 14, lastReward: 35 })
  })

  test('without cycling, days after the longest bonus earn the base; a missed day restarts the streak', async () => {
    await setConfig({ checkin: { basePoints: 2, streakBonuses: { '2': 3 }, cycle: false } })
    try {
      const got = []
      for (const n of [0, 1, 2, 3, 5, 6]) got.push(await checkinOn('o-nocycle', D(n)))
      expect(got.map((r) => [r.streak, r.reward])).toEqual([
        [1, 2],
        [2, 5],
        [3, 2],
        [4, 2],
        [1, 2],
        [2, 5],
      ])
    } finally {
      await setConfig(null)
    }
  })

  test('summary before and after checking in today: the streak counts yesterday until today is checked', async () => {
    await checkinOn('o-summary', D(0))
    await checkinOn('o-summary', D(1))
    on(D(2))
    expect(await ok('summary', {}, 'o-summary')).toMatchObject({ balance: 10, streak: 2, checkedInToday: false, today: D(2), todayReward: 10 })
    await ok('checkin', {}, 'o-summary')
    expect(await ok('summary', {}, 'o-summary')).toMatchObject({ balance: 20, streak: 3, checkedInToday: true, todayReward: 10 })
    on(D(4))
    expect(await ok('summary', {}, 'o-summary')).toMatchObject({ streak: 0, checkedInToday: false, todayReward: 5 })
  })

  test('round trips: a grant is one transaction of 6, a repeat 3 (plus the config and the template ids, read on every call in this test cloud)', async () => {
    on(D(0))
    const trips = async () => (await callGateway(t.url, 'incentives', { action: 'checkin', data: {} }, { openid: 'o-trips' })).headers.get('x-db-roundtrips')
    expect(await trips()).toBe('8')
    expect(await trips()).toBe('5')
  })

  test('with a month, the check-in\'s reply carries that month\'s calendar after it: what a calendar call answers, 2 round trips more, no second call', async () => {
    on(D(1))
    const month = D(1).slice(0, 7)
    const reply = await callGateway<{ result: { ok: true; data: Out['checkin'] } }>(t.url, 'incentives', { action: 'checkin', data: { month } }, { openid: 'o-trips' })
    const { calendar, ...result } = reply.body.result.data
    expect(result).toMatchObject({ day: D(1), streak: 2, alreadyCheckedIn: false })
    expect(calendar).toEqual(await ok('calendar', { month }, 'o-trips'))
    expect(calendar).toMatchObject({ checkedInToday: true, streak: 2 })
    expect(calendar!.days.map((d) => d.day)).toContain(D(1))
    expect(Number(reply.headers.get('x-db-roundtrips'))).toBe(8 + 2)
    expect(await fail('checkin', { month: '2026-13' }, 'o-trips')).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'month' }] })
  })

  test('the reminder is offered after checking in once checkin_reminder has an id in app_config/templates, unless turned off', async () => {
    // Template ids live in app_config/templates (the notify function's registry); a legacy reminder.templateId is ignored.
    await setConfig({ reminder: { templateId: 'tmpl-legacy', offer: false } })
    t.cloud.store.insert('app_config', [{ _id: 'templates', ids: { checkin_reminder: 'tmpl-checkin-reminder' } }])
    try {
      expect((await checkinOn('o-reminder-off', D(0))).reminder).toBe(false)
      await setConfig(null)
      expect((await checkinOn('o-reminder', D(0))).reminder).toBe(true)
    } finally {
      await setConfig(null)
      t.cloud.store.remove('app_config', { _id: 'templates' }, false)
    }
  })
})

describe('make-up check-in', () => {
  /** Checked on days 0, 1, 3, 4 (day 2 missed), today is day 4: balance 20, streak 2. */
  async function withGap(openid: string): Promise<void> {
    for (const n of [0, 1, 3, 4]) await checkinOn(openid, D(n))
    expect(balance(openid)).toBe(20)
  }

  test('fills a missed day for its cost, joins the runs into one streak and renumbers the later days', async () => {
    await withGap('o-makeup')
    const result = await ok('makeup', { day: D(2) }, 'o-makeup')
    expect(result).toEqual({ day: D(2), cost: 20, balance: 0, streak: 5, makeup: { enabled: true, cost: 20, daysBack: 7, remainingThisMonth: 2 } })
    const days = find('checkins', { openid: 'o-makeup' }).sort((x, y) => String(x.day).localeCompare(String(y.day)))
    expect(days.map((c) => [c.day, c.streak, c.makeup])).toEqual([
      [D(0), 1, false],
      [D(1), 2, false],
      [D(2), 3, true],
      [D(3), 4, false],
      [D(4), 5, false],
    ])
    expect(entries('o-makeup').at(-1)).toMatchObject({ _id: `makeup:o-makeup:${D(2)}`, reason: 'makeup', amount: -20, balanceAfter: 0, day: D(2), title: `补签 ${Number(D(2).slice(5, 7))}月${Number(D(2).slice(8))}日` })
    // Spending never lowers lifetime points.
    expect(account('o-makeup')).toMatchObject({ balance: 0, lifetime: 20, checkin: { lastDay: D(4), streak: 5, best: 5 } })
    // The joined streak carries on: day 6 of the run.
    expect(await checkinOn('o-makeup', D(5))).toMatchObject({ streak: 6, reward: 5 })
    expect(await checkinOn('o-makeup', D(6))).toMatchObject({ streak: 7, reward: 35 })
  })

  test('making up yesterday after a missed today keeps the streak alive', async () => {
    await checkinOn('o-yesterday', D(0))
    await checkinOn('o-yesterday', D(1))
    await setConfig({ makeup: { cost: 0 } })
    try {
      on(D(3))
      expect(await ok('makeup', { day: D(2) }, 'o-yesterday')).toMatchObject({ cost: 0, streak: 3, balance: 10 })
      // A free make-up writes no ledger entry.
      expect(entries('o-yesterday')).toHaveLength(2)
      expect(await ok('checkin', {}, 'o-yesterday')).toMatchObject({ streak: 4 })
    } finally {
      await setConfig(null)
    }
  })

  test.each<[string, () => string, string, RegExp]>([
    ['today', () => D(4), 'INVALID_INPUT', /直接签到/],
    ['a future day', () => D(5), 'INVALID_INPUT', /未来/],
    ['a day older than the window', () => D(-4), 'INVALID_INPUT', /最近 7 天/],
    ['a day already checked', () => D(3), 'CONFLICT', /已经签到/],
  ])('%s is refused (%s) and nothing changes', async (_name, day, code, message) => {
    const openid = `o-refuse-${code}-${day()}`
    await withGap(openid)
    const before = snapshot()
    expect(await fail('makeup', { day: day() }, openid)).toMatchObject({ code, message: expect.stringMatching(message) })
    expect(snapshot()).toBe(before)
  })

  test('a day before the user joined is refused, and the calendar does not offer it', async () => {
    on(D(3))
    await login('o-joined')
    await checkinOn('o-joined', D(3))
    await checkinOn('o-joined', D(4))
    const before = snapshot()
    expect(await fail('makeup', { day: D(2) }, 'o-joined')).toEqual({ code: 'INVALID_INPUT', message: '加入之前的日子不能补签。' })
    expect(snapshot()).toBe(before)
    const calendar = await ok('calendar', { month: D(4).slice(0, 7) }, 'o-joined')
    expect(calendar.makeupDays.every((day) => day >= D(3))).toBe(true)
    expect(calendar.makeupDays).toEqual([])
  })

  test('not enough points: FORBIDDEN, with what it costs and what the user has', async () => {
    await checkinOn('o-poor', D(3))
    await checkinOn('o-poor', D(4))
    const before = snapshot()
    expect(await fail('makeup', { day: D(2) }, 'o-poor')).toEqual({ code: 'FORBIDDEN', message: '积分不足：补签需要 20 积分，你有 10 积分。' })
    expect(snapshot()).toBe(before)
  })

  test('the monthly limit: RATE_LIMITED once used up, and a new month starts over', async () => {
    await setConfig({ makeup: { cost: 1, maxPerMonth: 2, daysBack: 10 } })
    try {
      for (const n of [0, 2, 4, 6]) await checkinOn('o-limit', D(n))
      on(D(7))
      await ok('makeup', { day: D(1) }, 'o-limit')
      await ok('makeup', { day: D(3) }, 'o-limit')
      const before = snapshot()
      expect(await fail('makeup', { day: D(5) }, 'o-limit')).toMatchObject({ code: 'RATE_LIMITED' })
      expect(snapshot()).toBe(before)
      // April: the count starts over (March 31 is within the window).
      on('2026-04-01')
      expect(await ok('makeup', { day: '2026-03-31' }, 'o-limit')).toMatchObject({ makeup: { remainingThisMonth: 1 } })
    } finally {
      await setConfig(null)
    }
  })

  test('turned off in the config: FORBIDDEN', async () => {
    await setConfig({ makeup: { enabled: false } })
    try {
      await withGap('o-off')
      expect(await fail('makeup', { day: D(2) }, 'o-off')).toMatchObject({ code: 'FORBIDDEN', message: '补签暂未开放。' })
    } finally {
      await setConfig(null)
    }
  })

  test('a day that does not exist is INVALID_INPUT from the schema', async () => {
    expect(await fail('makeup', { day: '2026-02-30' }, 'o-bad-day')).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'day' }] })
    expect(await fail('makeup', {}, 'o-bad-day')).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'day' }] })
  })
})

describe('calendar', () => {
  test("the month's checked days, make-ups marked, the days that can be made up and what the next days earn", async () => {
    for (const n of [0, 1, 3, 4]) await checkinOn('o-cal', D(n))
    await setConfig({ makeup: { cost: 0 } })
    try {
      await ok('makeup', { day: D(2) }, 'o-cal')
    } finally {
      await setConfig(null)
    }
    on(D(6))
    const cal = await ok('calendar', { month: '2026-03' }, 'o-cal')
    expect(cal).toEqual({
      month: '2026-03',
      today: D(6),
      days: [
        { day: D(0), makeup: false, reward: 5 },
        { day: D(1), makeup: false, reward: 5 },
        { day: D(2), makeup: true, reward: 0 },
        { day: D(3), makeup: false, reward: 5 },
        { day: D(4), makeup: false, reward: 5 },
      ],
      streak: 0,
      checkedInToday: false,
      // Window: the 7 days before today (Mar 1 - Mar 7), not checked.
      makeupDays: ['2026-03-01', D(5)],
      makeup: { enabled: true, cost: 20, daysBack: 7, remainingThisMonth: 2 },
      upcoming: [
        { day: D(6), streak: 1, reward: 5 },
        { day: D(7), streak: 2, reward: 5 },
        { day: D(8), streak: 3, reward: 10 },
        { day: D(9), streak: 4, reward: 5 },
        { day: D(10), streak: 5, reward: 5 },
        { day: D(11), streak: 6, reward: 5 },
        { day: D(12), streak: 7, reward: 35 },
      ],
    })
    // Another month: none of these days.
    expect((await ok('calendar', { month: '2026-02' }, 'o-cal')).days).toEqual([])
  })

  test('a month that is not YYYY-MM is INVALID_INPUT', async () => {
    for (const month of ['2026-13', '2026-3', '202603', '2026-03-01']) {
      expect(await fail('calendar', { month }, 'o-cal')).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'month' }] })
    }
  })
})

describe('tasks', () => {
  const GUIDES = ['power-strip-safety', 'mold-in-bathroom', 'fridge-smell', 'window-condensation', 'drain-clog']

  test('listed new-user tasks first, progress from the user doc, events through track and check-ins', async () => {
    on(D(0))
    const openid = 'o-tasks'
    await login(openid)
    const before = await ok('tasks', {}, openid)
    expect(before.items.map((i) => i.id)).toEqual(['profile', 'onboarding', 'first-share', 'checkin-3', 'read-5', 'invite-1'])
    expect(before.items.every((i) => i.progress === 0 && !i.completed && !i.claimable && !i.claimed)).toBe(true)

    const phone = device(openid)
    await phone.send(phone.event('onboarding_finish'), phone.event('share', { kind: 'message', target: 'guide' }))
    // Six opens of four distinct guides, then the fifth: read-5 counts distinct guides.
    await phone.send(...GUIDES.slice(0, 4).map((g) => phone.event('content_open', { guideId: g, category: 'home' })), phone.event('content_open', { guideId: GUIDES[0], category: 'home' }))
    const profile = await callAction(t.url, 'user', 'updateProfile', { nickname: '小明', avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/a.png' }, openid)
    expect(profile.ok).toBe(true)
    await checkinOn(openid, D(0))
    await checkinOn(openid, D(1))

    const mid = Object.fromEntries((await ok('tasks', {}, openid)).items.map((i) => [i.id, [i.progress, i.target, i.claimable]]))
    expect(mid).toEqual({
      profile: [1, 1, true],
      onboarding: [1, 1, true],
      'first-share': [1, 1, true],
      'checkin-3': [2, 3, false],
      'read-5': [4, 5, false],
      'invite-1': [0, 1, false],
    })
    await phone.send(phone.event('content_open', { guideId: GUIDES[4], category: 'home' }))
    await checkinOn(openid, D(2))
    const after = await ok('tasks', {}, openid)
    expect(after.items.filter((i) => i.claimable).map((i) => i.id)).toEqual(['profile', 'onboarding', 'first-share', 'checkin-3', 'read-5'])
  })

  test('listing costs the same few round trips whatever the number of tasks', async () => {
    const reply = await callGateway(t.url, 'incentives', { action: 'tasks', data: {} }, { openid: 'o-tasks' })
    // config + account, then user + one aggregation over the events + the claimed entries.
    expect(reply.headers.get('x-db-roundtrips')).toBe('5')
  })

  test('a completed task is claimed once: the second claim answers alreadyClaimed and grants nothing', async () => {
    const openid = 'o-tasks'
    const start = balance(openid)
    const first = await ok('claimTask', { taskId: 'read-5' }, openid)
    expect(first).toMatchObject({ taskId: 'read-5', points: 30, alreadyClaimed: false, balance: start + 30 })
    expect(await ok('claimTask', { taskId: 'read-5' }, openid)).toEqual({ ...first, alreadyClaimed: true })
    // The repeated claim reads the ledger entry and the account, and opens no transaction.
    const again = await callGateway(t.url, 'incentives', { action: 'claimTask', data: { taskId: 'read-5' } }, { openid })
    expect(again.headers.get('x-db-ops')).not.toMatch(/Transaction/)
    expect(entries(openid).filter((e) => e.reason === 'task')).toEqual([expect.objectContaining({ _id: 'task:o-tasks:read-5', amount: 30, ref: 'read-5', title: '完成任务：阅读 5 篇指南' })])
    expect(balance(openid)).toBe(start + 30)
    const listed = (await ok('tasks', {}, openid)).items.find((i) => i.id === 'read-5')
    expect(listed).toMatchObject({ completed: true, claimable: false, claimed: true })
  })

  test('a streak task stays claimed-once even after the streak breaks; before completion it is refused with its progress', async () => {
    const openid = 'o-streak-task'
    await checkinOn(openid, D(0))
    await checkinOn(openid, D(1))
    const before = snapshot()
    expect(await fail('claimTask', { taskId: 'checkin-3' }, openid)).toEqual({ code: 'FORBIDDEN', message: '任务还没完成（2/3）。' })
    expect(snapshot()).toBe(before)
    await checkinOn(openid, D(2))
    expect(await ok('claimTask', { taskId: 'checkin-3' }, openid)).toMatchObject({ points: 15, alreadyClaimed: false })
    // The best streak counts, so a later break does not undo the task.
    await checkinOn(openid, D(5))
    expect(await ok('claimTask', { taskId: 'checkin-3' }, openid)).toMatchObject({ alreadyClaimed: true })
    expect(entries(openid).filter((e) => e.reason === 'task')).toHaveLength(1)
  })

  test('not completed, unknown, disabled and malformed tasks are refused, and nothing changes', async () => {
    on(D(0))
    await login('o-lazy')
    await setConfig({ tasks: [...DEFAULT_CONFIG.tasks.map((task) => (task.id === 'first-share' ? { ...task, enabled: false } : task))] })
    try {
      const phone = device('o-lazy')
      await phone.send(phone.event('share', { kind: 'timeline' }))
      const before = snapshot()
      expect(await fail('claimTask', { taskId: 'profile' }, 'o-lazy')).toEqual({ code: 'FORBIDDEN', message: '任务还没完成（0/1）。' })
      expect(await fail('claimTask', { taskId: 'no-such-task' }, 'o-lazy')).toMatchObject({ code: 'NOT_FOUND' })
      expect(await fail('claimTask', { taskId: 'first-share' }, 'o-lazy')).toMatchObject({ code: 'NOT_FOUND' })
      expect(await fail('claimTask', { taskId: 'Bad Id!' }, 'o-lazy')).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'taskId' }] })
      expect(await fail('claimTask', {}, 'o-lazy')).toMatchObject({ code: 'INVALID_INPUT' })
      expect(snapshot()).toBe(before)
      expect((await ok('tasks', {}, 'o-lazy')).items.map((i) => i.id)).not.toContain('first-share')
    } finally {
      await setConfig(null)
    }
  })

  test('events of other users never count', async () => {
    on(D(0))
    const other = device('o-other-reader')
    await other.send(...GUIDES.map((g) => other.event('content_open', { guideId: g, category: 'home' })), other.event('onboarding_finish'))
    const mine = Object.fromEntries((await ok('tasks', {}, 'o-nobody')).items.map((i) => [i.id, i.progress]))
    expect(mine).toMatchObject({ onboarding: 0, 'read-5': 0 })
  })
})

describe('referrals', () => {
  function decodeQr(png: Buffer): string | undefined {
    const image = PNG.sync.read(png)
    return jsQR(new Uint8ClampedArray(image.data), image.width, image.height)?.data
  }

  /** A user who joined on day 0 and has an invite code. */
  async function inviter(openid: string): Promise<Out['invite']> {
    on(D(0))
    await login(openid)
    return ok('invite', {}, openid)
  }

  /** A new user on `day`: first launch (through track, carrying `touch`), then login. */
  async function newcomer(openid: string, day: string, touch: Doc = {}): Promise<void> {
    on(day)
    const phone = device(openid)
    await phone.send(phone.event('app_launch', { path: 'pages/home/index', scene: 1047, ...touch }))
    await login(openid)
  }

  test('invite: a code registered as an invite channel, a share path carrying it and a QR image made once', async () => {
    const info = await inviter('o-alice')
    expect(info).toEqual({
      // Capitals and digits without the look-alikes 0/O and 1/I: read aloud, typed by people.
      code: expect.stringMatching(/^[A-HJ-NP-Z2-9]{8}$/),
      path: `pages/home/index?c=${info.code}`,
      qrUrl: expect.stringMatching(/^http/),
      rewarded: 0,
      rewards: { inviter: 50, invitee: 20 },
    })
    expect(find('invite_codes', { _id: 'o-alice' })).toEqual([{ _id: 'o-alice', code: info.code, qrFileId: expect.stringMatching(/^cloud:\/\//), createdAt: expect.any(Date) }])
    expect(find('channel_codes', { _id: info.code })[0]).toMatchObject({ channel: 'invite', inviter: 'o-alice', page: 'pages/home/index', qrFileId: find('invite_codes', { _id: 'o-alice' })[0]!.qrFileId })
    const png = Buffer.from(await (await fetch(info.qrUrl)).arrayBuffer())
    expect(decodeQr(png)).toBe(`pages/home/index?scene=${info.code}`)
    expect(t.cloud.ledger.recentInvocations(1, 'incentives')[0]!.openapi).toEqual({ 'wxacode.getUnlimited': 1 })

    const again = await ok('invite', {}, 'o-alice')
    expect(again.code).toBe(info.code)
    expect(t.cloud.ledger.recentInvocations(1, 'incentives')[0]!.openapi).toEqual({})
    expect(find('channel_codes', { inviter: 'o-alice' })).toHaveLength(1)
  })

  test('a new user who came by the code is welcomed and the inviter rewarded, once; a second acceptance is refused', async () => {
    const { code } = await ok('invite', {}, 'o-alice')
    await newcomer('o-bob', D(4), { code })
    // track resolved the code into the first touch; accepting without a code uses it.
    expect(find('users', { _id: 'o-bob' })[0]!.firstTouch).toMatchObject({ code, channel: 'invite', inviter: 'o-alice' })
    const aliceBefore = balance('o-alice')
    expect(await ok('acceptInvite', {}, 'o-bob')).toEqual({ reward: 20, inviterRewarded: true, balance: 20 })
    expect(balance('o-alice')).toBe(aliceBefore + 50)
    expect(find('referrals', { _id: 'o-bob' })).toEqual([
      { _id: 'o-bob', inviter: 'o-alice', invitee: 'o-bob', code: '', day: D(4), inviterRewarded: true, inviterPoints: 50, inviteePoints: 20, createdAt: atClock() },
    ])
    expect(entries('o-bob')).toEqual([expect.objectContaining({ _id: 'referral-welcome:o-bob', reason: 'referral_welcome', amount: 20 })])
    expect(entries('o-alice').at(-1)).toMatchObject({ _id: 'referral:o-alice:o-bob', reason: 'referral', amount: 50, title: '邀请好友奖励' })

    const before = snapshot()
    expect(await fail('acceptInvite', {}, 'o-bob')).toEqual({ code: 'CONFLICT', message: '你已经接受过邀请了。' })
    expect(await fail('acceptInvite', { code }, 'o-bob')).toMatchObject({ code: 'CONFLICT' })
    expect(snapshot()).toBe(before)

    // The inviter's invite task is now done.
    expect((await ok('invite', {}, 'o-alice')).rewarded).toBe(1)
    expect(await ok('claimTask', { taskId: 'invite-1' }, 'o-alice')).toMatchObject({ points: 50, alreadyClaimed: false })
  })

  test('self-invites, users who are not new (re-installs included), forged and unknown codes are refused', async () => {
    const { code: aliceCode } = await ok('invite', {}, 'o-alice')
    // Self: a new user with their own code.
    await newcomer('o-carol', D(4))
    const { code: carolCode } = await ok('invite', {}, 'o-carol')
    // Not new: joined on day 0; a re-install keeps the OPENID, so launching again by a code changes nothing.
    on(D(0))
    await login('o-dave')
    await newcomer('o-dave', D(4), { code: aliceCode })
    // An admin's channel code with no inviter.
    t.cloud.store.insert('channel_codes', [{ _id: 'Store001', channel: 'store-a', campaign: 'open', page: 'pages/home/index', note: '', createdBy: ADMIN, createdAt: new Date(), qrFileId: '' }])
    await newcomer('o-erin', D(4))

    const before = snapshot()
    expect(await fail('acceptInvite', { code: carolCode }, 'o-carol')).toEqual({ code: 'FORBIDDEN', message: '不能邀请自己。' })
    expect(await fail('acceptInvite', { code: aliceCode }, 'o-dave')).toEqual({ code: 'FORBIDDEN', message: '只有今天新加入的用户可以接受邀请。' })
    expect(await fail('acceptInvite', {}, 'o-dave')).toMatchObject({ code: 'FORBIDDEN' })
    expect(await fail('acceptInvite', { code: 'ZZZZ9999' }, 'o-erin')).toEqual({ code: 'NOT_FOUND', message: '邀请码无效。' })
    expect(await fail('acceptInvite', { code: 'Store001' }, 'o-erin')).toEqual({ code: 'NOT_FOUND', message: '邀请码无效。' })
    expect(await fail('acceptInvite', {}, 'o-erin')).toEqual({ code: 'NOT_FOUND', message: '没有找到邀请你的人。' })
    expect(await fail('acceptInvite', { code: 'abc' }, 'o-erin')).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'code' }] })
    expect(await fail('acceptInvite', { code: aliceCode }, 'o-never-logged-in')).toEqual({ code: 'NOT_FOUND', message: '请先登录。' })
    expect(snapshot()).toBe(before)
    // A new user the next day is not new any more.
    on(D(5))
    expect(await fail('acceptInvite', { code: aliceCode }, 'o-erin')).toMatchObject({ code: 'FORBIDDEN' })
  })

  test('opened from a shared page, before any first touch is recorded: the sharer\'s device names the inviter', async () => {
    const sharer = '01890a5d-ac96-774b-bcce-b302099a8057'
    t.cloud.store.insert('identities', [{ _id: sharer, openid: 'o-alice', firstSeenAt: new Date() }])
    on(D(4))
    await login('o-sam')
    await login('o-tom')
    const aliceBefore = balance('o-alice')
    expect(await ok('acceptInvite', { sharer }, 'o-sam')).toEqual({ reward: 20, inviterRewarded: true, balance: 20 })
    expect(balance('o-alice')).toBe(aliceBefore + 50)
    expect(find('referrals', { _id: 'o-sam' })).toEqual([expect.objectContaining({ inviter: 'o-alice', code: '' })])
    const before = snapshot()
    expect(await fail('acceptInvite', { sharer: '01890a5d-ac96-774b-bcce-b302099a8058' }, 'o-tom')).toEqual({ code: 'NOT_FOUND', message: '没有找到邀请你的人。' })
    expect(await fail('acceptInvite', { sharer: 'o-alice' }, 'o-tom')).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'sharer' }] })
    expect(snapshot()).toBe(before)
  })

  test('loops are refused: two new users inviting each other, and a three-user ring', async () => {
    await newcomer('o-fay', D(6))
    await newcomer('o-gus', D(6))
    const fay = await ok('invite', {}, 'o-fay')
    const gus = await ok('invite', {}, 'o-gus')
    await ok('acceptInvite', { code: fay.code }, 'o-gus')
    const before = snapshot()
    expect(await fail('acceptInvite', { code: gus.code }, 'o-fay')).toEqual({ code: 'FORBIDDEN', message: '你们已经是邀请关系了，不能互相邀请。' })
    expect(snapshot()).toBe(before)

    for (const openid of ['o-hal', 'o-ivy', 'o-jon']) await newcomer(openid, D(6))
    const codes = Object.fromEntries(await Promise.all(['o-hal', 'o-ivy', 'o-jon'].map(async (o) => [o, (await ok('invite', {}, o)).code] as const)))
    await ok('acceptInvite', { code: codes['o-hal'] }, 'o-ivy')
    await ok('acceptInvite', { code: codes['o-ivy'] }, 'o-jon')
    expect(await fail('acceptInvite', { code: codes['o-jon'] }, 'o-hal')).toMatchObject({ code: 'FORBIDDEN' })
  })

  test("an inviter is rewarded for at most the day's limit; later invitees are still welcomed", async () => {
    await setConfig({ referral: { maxRewardedPerDay: 2 } })
    try {
      const { code } = await inviter('o-kim')
      const results = []
      for (const openid of ['o-k1', 'o-k2', 'o-k3']) {
        await newcomer(openid, D(8))
        results.push(await ok('acceptInvite', { code }, openid))
      }
      expect(results.map((r) => [r.reward, r.inviterRewarded])).toEqual([
        [20, true],
        [20, true],
        [20, false],
      ])
      expect(find('referrals', { _id: 'o-k3' })[0]).toMatchObject({ inviterRewarded: false, inviterPoints: 0 })
      await newcomer('o-k4', D(9))
      expect(await ok('acceptInvite', { code }, 'o-k4')).toMatchObject({ inviterRewarded: true })
      expect(entries('o-kim').map((e) => e._id)).toEqual(['referral:o-kim:o-k1', 'referral:o-kim:o-k2', 'referral:o-kim:o-k4'])
      expect(account('o-kim')?.invites).toEqual({ rewarded: 3, day: D(9), today: 1 })
    } finally {
      await setConfig(null)
    }
  })
})

describe('levels', () => {
  test('derived from lifetime points: spending does not lower the level; summary shows the next level and the points to go', async () => {
    await setConfig({
      checkin: { basePoints: 10, streakBonuses: {} },
      makeup: { cost: 15 },
      levels: [
        { name: '新手', minPoints: 0, perks: ['签到积分'] },
        { name: '达人', minPoints: 20, perks: ['签到积分', '达人徽章'] },
        { name: '大师', minPoints: 40 },
      ],
    })
    try {
      on(D(0))
      expect(await ok('summary', {}, 'o-level')).toMatchObject({
        balance: 0,
        lifetime: 0,
        level: { index: 0, name: '新手' },
        next: { index: 1, name: '达人', minPoints: 20, perks: ['签到积分', '达人徽章'], pointsToGo: 20 },
      })
      await checkinOn('o-level', D(0))
      expect((await checkinOn('o-level', D(2))).level).toMatchObject({ index: 1, name: '达人' })
      on(D(2))
      await ok('makeup', { day: D(1) }, 'o-level')
      const summary = await ok('summary', {}, 'o-level')
      expect(summary).toMatchObject({ balance: 5, lifetime: 20, level: { name: '达人' }, next: { name: '大师', pointsToGo: 20 } })
      await checkinOn('o-level', D(3))
      await checkinOn('o-level', D(4))
      expect(await ok('summary', {}, 'o-level')).toMatchObject({ lifetime: 40, level: { index: 2, name: '大师', perks: [] }, next: null })
    } finally {
      await setConfig(null)
    }
  })
})

describe('ledger', () => {
  test('pages newest first with a cursor until the first entry', async () => {
    await setConfig({ checkin: { streakBonuses: {} } })
    try {
      for (let n = 0; n < 25; n++) await checkinOn('o-pager', D(n))
    } finally {
      await setConfig(null)
    }
    const seen: number[] = []
    let cursor: string | undefined
    const sizes: number[] = []
    for (;;) {
      const page = await ok('ledger', { limit: 10, ...(cursor ? { cursor } : {}) }, 'o-pager')
      sizes.push(page.items.length)
      seen.push(...page.items.map((i) => i.seq))
      if (!page.nextCursor) break
      cursor = page.nextCursor
    }
    expect(sizes).toEqual([10, 10, 5])
    expect(seen).toEqual(Array.from({ length: 25 }, (_unused, i) => 25 - i))
    const first = await ok('ledger', { limit: 1 }, 'o-pager')
    expect(first.items).toEqual([{ seq: 25, reason: 'checkin', title: '每日签到（连续 25 天）', amount: 5, balanceAfter: 125, day: D(24), at: expect.any(String) }])
    expect(Date.parse(first.items[0]!.at) - clockAt).toBeGreaterThanOrEqual(0)
    expect(Date.parse(first.items[0]!.at) - clockAt).toBeLessThan(10_000)
    // Nobody else's entries, and none for a user without any.
    expect((await ok('ledger', {}, 'o-nobody-at-all')).items).toEqual([])
  })

  test.each([[{ cursor: 'abc' }], [{ cursor: '0' }], [{ limit: 0 }], [{ limit: 51 }], [{ limit: 2.5 }], [{ openid: 'o-pager' }]])('%j is INVALID_INPUT', async (data) => {
    expect(await fail('ledger', data, 'o-pager')).toMatchObject({ code: 'INVALID_INPUT' })
  })
})

describe('config', () => {
  test('an invalid stored document: grants keep working on the defaults, and validateConfig says what is wrong', async () => {
    await setConfig({ checkin: { basePoints: -1, bonus: 3 }, levels: [{ name: '新手', minPoints: 10 }] })
    try {
      expect(await checkinOn('o-cfg', D(0))).toMatchObject({ reward: 5 })
      const check = await ok('validateConfig', {}, ADMIN)
      expect(check).toMatchObject({ source: 'stored', valid: false, effective: DEFAULT_CONFIG })
      expect(check.issues.map((i) => i.path).sort()).toEqual(['checkin', 'checkin.basePoints', 'levels.0.minPoints'])
      expect(t.logs.some((line) => line.includes('app_config/incentives is invalid'))).toBe(true)
    } finally {
      await setConfig(null)
    }
  })

  test('a partial document takes the defaults for the rest; a draft can be checked before it is stored', async () => {
    await setConfig({ referral: { inviteePoints: 99 } })
    try {
      const check = await ok('validateConfig', {}, ADMIN)
      expect(check).toEqual({ source: 'stored', valid: true, issues: [], effective: { ...DEFAULT_CONFIG, referral: { ...DEFAULT_CONFIG.referral, inviteePoints: 99 } } })
    } finally {
      await setConfig(null)
    }
    expect(await ok('validateConfig', {}, ADMIN)).toMatchObject({ source: 'none', valid: true, effective: DEFAULT_CONFIG })
    const twice = await ok('validateConfig', { draft: { tasks: [{ id: 'x', kind: 'read', title: '读', points: 5, target: 3 }, { id: 'x', kind: 'profile', title: '资料', points: 5 }] } }, ADMIN)
    expect(twice).toMatchObject({ source: 'draft', valid: false, issues: [{ path: 'tasks.1.id', message: 'duplicate task id "x"' }] })
    const untargeted = await ok('validateConfig', { draft: { tasks: [{ id: 'x', kind: 'read', title: '读', points: 5 }] } }, ADMIN)
    expect(untargeted.issues).toEqual([{ path: 'tasks.0.target', message: expect.any(String) }])
    // Nothing was stored by checking drafts.
    expect(find('app_config', { _id: 'incentives' })).toEqual([])
  })

  test('validateConfig is for admins only', async () => {
    expect(await fail('validateConfig', {}, 'o-not-admin')).toMatchObject({ code: 'FORBIDDEN' })
  })
})

describe('bad input', () => {
  test.each<[string, string | undefined, unknown, string]>([
    ['no caller', undefined, { action: 'checkin', data: {} }, 'UNAUTHENTICATED'],
    ['an unknown action', 'o-bad', { action: 'grant', data: { amount: 1000 } }, 'UNKNOWN_ACTION'],
    ['an openid in the payload', 'o-bad', { action: 'summary', data: { openid: 'o-first' } }, 'INVALID_INPUT'],
    ['an operator for a task id', 'o-bad', { action: 'claimTask', data: { taskId: { $ne: null } } }, 'INVALID_INPUT'],
    ['a number for a day', 'o-bad', { action: 'makeup', data: { day: 20260301 } }, 'INVALID_INPUT'],
    ['no action', 'o-bad', { data: { day: '2026-03-01' } }, 'INVALID_REQUEST'],
  ])('%s: %s → typed error, nothing written', async (_name, openid, event, code) => {
    const before = snapshot()
    const reply = await callGateway<{ result: { ok: boolean; error: Failure } }>(t.url, 'incentives', event, { openid })
    expect(reply.body.result).toMatchObject({ ok: false, error: { code } })
    expect(snapshot()).toBe(before)
  })
})

test('after everything: balance = sum(ledger), lifetime = sum(grants), entries numbered without gaps, for every user', () => {
  const accounts = find('points_accounts') as unknown as PointsAccountDoc[]
  expect(accounts.length).toBeGreaterThan(20)
  expect(audit()).toEqual([])
  // The audit itself catches a drift.
  const drifted = accounts.map((a, i) => (i === 0 ? { ...a, balance: a.balance + 1 } : a))
  expect(auditLedger(drifted, find('points_ledger') as unknown as PointsLedgerDoc[])).toHaveLength(1)
  expect(t.cloud.store.openTransactions()).toBe(0)
})
