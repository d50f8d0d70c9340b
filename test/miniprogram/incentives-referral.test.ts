/**
 * Referral acceptance at launch: app.ts driven as WeChat drives it (App() registered, onLaunch with
 * the launch options), the real client modules on a fake `wx`, against a real local cloud running
 * the real `user` and `incentives` functions. A new user opened through an invite is accepted once
 * (both sides rewarded in the database), later launches make no call; returning users, self-invites
 * and launches without an inviter are handled as the cloud answers them; a launch with no inviter
 * anywhere asks nothing; the launch never waits.
 */
import type { CallRecord } from '../../miniprogram/core/cloud'
import { shanghaiToday } from '../../miniprogram/packages/admin/range'
import { startCloudProcess, type CloudProcess } from './harness/cloud'
import { incentivesCloud, newOpenid } from './harness/incentives'
import { deadUrl } from './harness/net'
import { sleep, until } from './harness/tracking'
import { createWx, type FakeWx } from './harness/wx'

jest.setTimeout(180_000)

const OPENID_KEY = 'local-cloud:openid'
const DONE_KEY = 'referral:done'

type Tracker = typeof import('../../miniprogram/core/tracker')
type Cloud = typeof import('../../miniprogram/core/cloud')
interface AppDefinition {
  onLaunch(options: unknown): unknown
}

let cloud: CloudProcess
beforeAll(async () => {
  cloud = await startCloudProcess()
}, 60_000)
const trackers: Tracker[] = []
afterEach(() => {
  for (const tracker of trackers.splice(0)) tracker.stopTracker()
})
afterAll(() => cloud?.stop())

const { docs, incentives, insert, login, userSince } = incentivesCloud(() => cloud.url)
const ledger = async (openid: string) => (await docs('points_ledger', { openid })).map((e) => [e.reason, e.amount, e.ref])

/** A user who has an invite code (and joined today, through the `user` function). */
async function inviter(): Promise<{ openid: string; code: string }> {
  const openid = newOpenid()
  await login(openid)
  return { openid, code: (await incentives('invite', {}, openid)).code }
}

function device(openid = newOpenid()): FakeWx {
  const fake = createWx()
  fake.storage.set(OPENID_KEY, openid)
  return fake
}

interface Launched {
  calls: CallRecord[]
  /** The acceptInvite calls this launch finished. */
  accepts(): CallRecord[]
  /** Requests this launch sent to `incentives`. */
  sent(): unknown[]
}

/** A cold start: fresh modules on `fake` (its storage is the device's), App() registered, onLaunch run. */
function launch(fake: FakeWx, options: { path?: string; scene?: number; query?: Record<string, string> }, cloudUrl = cloud.url): Launched {
  jest.resetModules()
  const g = globalThis as Record<string, unknown>
  g.wx = fake.wx
  g.getCurrentPages = () => []
  let definition: AppDefinition | undefined
  g.App = (d: AppDefinition) => {
    definition = d
  }
  const client = require('../../miniprogram/core/cloud') as Cloud
  client.configureCloud({ mode: 'local', localCloudUrl: cloudUrl, retryBaseMs: 5, timeoutMs: 30_000 })
  const calls: CallRecord[] = []
  client.observeCalls((record) => calls.push(record))
  trackers.push(require('../../miniprogram/core/tracker') as Tracker)
  require('../../miniprogram/app')
  const before = fake.log.requests.length
  // The launch itself returns at once (synchronously, not a promise): nothing in it waits for the network.
  expect(definition!.onLaunch({ path: 'pages/home/index', scene: 1001, query: {}, ...options })).toBeUndefined()
  return {
    calls,
    accepts: () => calls.filter((c) => c.fn === 'incentives' && c.action === 'acceptInvite'),
    sent: () => fake.log.requests.slice(before).filter((r) => r.url.endsWith('/functions/incentives')).map((r) => r.data),
  }
}

const loggedIn = (l: Launched) => until(() => l.calls.some((c) => c.fn === 'user' && c.action === 'bootstrap'), "the launch's call")

test('a new user opened through an invite link: accepted once, both rewarded; the next launch makes no call', async () => {
  const from = await inviter()
  const fake = device()
  const openid = fake.storage.get(OPENID_KEY) as string
  const first = launch(fake, { scene: 1007, query: { c: from.code } })
  await until(() => first.accepts().length === 1, 'the acceptance')
  expect(first.accepts()[0]).toMatchObject({ ok: true })
  expect(first.sent()).toEqual([{ action: 'acceptInvite', data: { code: from.code } }])
  expect(fake.storage.get(DONE_KEY)).toBe(1)

  expect(await docs('referrals', { _id: openid })).toEqual([expect.objectContaining({ inviter: from.openid, invitee: openid, code: from.code, inviterRewarded: true, day: shanghaiToday() })])
  expect(await ledger(from.openid)).toEqual([['referral', 50, openid]])
  expect(await ledger(openid)).toEqual([['referral_welcome', 20, from.openid]])

  const second = launch(fake, { scene: 1007, query: { c: from.code } })
  await loggedIn(second)
  await sleep(50)
  expect(second.sent()).toEqual([])
  expect(await ledger(from.openid)).toHaveLength(1)
  expect(await ledger(openid)).toHaveLength(1)
})

test('a new user who scanned the invite poster: the code comes from the mini-program code\'s scene', async () => {
  const from = await inviter()
  const fake = device()
  const openid = fake.storage.get(OPENID_KEY) as string
  const launched = launch(fake, { scene: 1047, query: { scene: from.code } })
  await until(() => launched.accepts().length === 1, 'the acceptance')
  expect(launched.sent()).toEqual([{ action: 'acceptInvite', data: { code: from.code } }])
  expect(await ledger(from.openid)).toEqual([['referral', 50, openid]])
})

test('a returning user (joined before today) opened through an invite: no call, settled', async () => {
  const from = await inviter()
  const openid = await userSince(3)
  const fake = device(openid)
  const launched = launch(fake, { query: { c: from.code } })
  await until(() => fake.storage.get(DONE_KEY) === 1, 'settled')
  expect(launched.sent()).toEqual([])
  expect(await docs('referrals', { _id: openid })).toEqual([])
  expect(await ledger(from.openid)).toEqual([])
})

test('my own invite link on my own new device: refused by the cloud, settled, nothing granted', async () => {
  const self = await inviter()
  const fake = device(self.openid)
  const launched = launch(fake, { query: { c: self.code } })
  await until(() => launched.accepts().length === 1, 'the refusal')
  expect(launched.accepts()[0]).toMatchObject({ ok: false, code: 'FORBIDDEN' })
  await until(() => fake.storage.get(DONE_KEY) === 1, 'settled')
  expect(await ledger(self.openid)).toEqual([])
})

test('no inviter in the launch nor in the first touch: no call at all, nothing reported as failed, asked again only when one appears', async () => {
  const fake = device()
  const openid = fake.storage.get(OPENID_KEY) as string
  const first = launch(fake, {})
  await loggedIn(first)
  await sleep(30)
  expect(first.sent()).toEqual([])
  expect(first.calls.filter((c) => !c.ok)).toEqual([])
  expect(fake.storage.has(DONE_KEY)).toBe(false)

  const second = launch(fake, {})
  await loggedIn(second)
  await sleep(30)
  expect(second.sent()).toEqual([])
  expect(await docs('users', { _id: openid })).toHaveLength(1)
})

test('a later launch on day one, whose recorded first touch names an inviter: asked without a code', async () => {
  const from = await inviter()
  const openid = newOpenid()
  const at = { $date: new Date().toISOString() }
  const day = shanghaiToday()
  await insert('users', { _id: openid, openid, appid: '', nickname: '', avatarUrl: '', firstSeenAt: at, firstSeenDay: day, lastSeenAt: at, lastSeenDay: day, updatedAt: at, firstTouch: { inviter: from.openid, at, day } })
  const launched = launch(device(openid), {})
  await until(() => launched.accepts().length === 1, 'the acceptance')
  expect(launched.sent()).toEqual([{ action: 'acceptInvite', data: {} }])
  expect(launched.accepts()[0]).toMatchObject({ ok: true })
  expect(await ledger(from.openid)).toEqual([['referral', 50, openid]])
})

test('a new user opened from a shared page: accepted through the sharer, before the first touch is recorded', async () => {
  const from = await inviter()
  const sharer = '01890a5d-ac96-774b-bcce-b302099a8057'.replace(/.{4}$/, Math.random().toString(16).slice(2, 6).padEnd(4, '0'))
  await insert('identities', { _id: sharer, openid: from.openid, firstSeenAt: { $date: new Date().toISOString() } })
  const fake = device()
  const openid = fake.storage.get(OPENID_KEY) as string
  const launched = launch(fake, { scene: 1007, query: { sharer } })
  await until(() => launched.accepts().length === 1, 'the acceptance')
  expect(launched.sent()).toEqual([{ action: 'acceptInvite', data: { sharer } }])
  expect(launched.accepts()[0]).toMatchObject({ ok: true })
  expect(await ledger(from.openid)).toEqual([['referral', 50, openid]])
})

test('an unknown sharer: refused as an expected answer (no failed call reported), not settled', async () => {
  const fake = device()
  const sharer = '01890a5d-ac96-774b-bcce-b302099a0000'
  const launched = launch(fake, { scene: 1007, query: { sharer } })
  await until(() => launched.accepts().length === 1, 'the answer')
  expect(launched.accepts()[0]).toMatchObject({ ok: false, code: 'NOT_FOUND', expected: true })
  await sleep(20)
  expect(fake.storage.has(DONE_KEY)).toBe(false)
})

test('offline at launch: nothing settled, nothing thrown; the next launch online accepts', async () => {
  const from = await inviter()
  const fake = device()
  const openid = fake.storage.get(OPENID_KEY) as string
  const offline = launch(fake, { query: { c: from.code } }, await deadUrl())
  await until(() => offline.calls.some((c) => c.fn === 'user' && !c.ok), 'the failed login')
  await sleep(30)
  expect(offline.accepts()).toEqual([])
  expect(fake.storage.has(DONE_KEY)).toBe(false)

  const online = launch(fake, { query: { c: from.code } })
  await until(() => online.accepts().length === 1, 'the acceptance')
  expect(online.accepts()[0]).toMatchObject({ ok: true })
  expect(await ledger(openid)).toEqual([['referral_welcome', 20, from.openid]])
})
