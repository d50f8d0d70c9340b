/**
 * The ledger's guarantees under load and faults, against a real local cloud with 8 workers per
 * function: 100 concurrent calls by one user in the same second (the functions' clock is pinned by a
 * preloaded test module) grant exactly once, for check-ins, task claims, make-ups and invites; a
 * transaction that dies or fails after its ledger write (a fault injected into the function's own
 * traffic by a preloaded test module) leaves balance and ledger untouched; and balance = sum(ledger)
 * for every user at the end.
 */
import { addDays } from '../../cloudfunctions/_shared/time'
import { applyGrant, emptyAccount } from '../../cloudfunctions/incentives/rules'
import { type Failure, incentives, type Out } from '../helpers/incentives'
import { callAction, callGateway, startCloud, type TestCloud } from '../helpers/local-cloud'
import { type RiggedFunctions, riggedFunctions } from '../helpers/rigged-functions'

jest.setTimeout(120_000)

const BASE = '2026-05-11'
const D = (n: number) => addDays(BASE, n)
/** The account write of a grant (always inside a transaction), sent after the ledger entry. */
const ACCOUNT_WRITE = '^\\{"collectionName":"points_accounts","queryType":"DOC","data"'

let rig: RiggedFunctions
let t: TestCloud
const { ok, find, account, entries, balance, snapshot, audit } = incentives(() => t)

beforeAll(async () => {
  rig = riggedFunctions(['incentives', 'user'], {
    preload: ['clock', 'failpoint'],
    env: {
      TEST_FAILPOINTS: JSON.stringify([
        { openid: 'o-crash', match: ACCOUNT_WRITE, mode: 'crash' },
        { openid: 'o-broken', match: ACCOUNT_WRITE, mode: 'error' },
      ]),
    },
  })
  t = await startCloud({ functionsDir: rig.dir, maxWorkers: 8 })
})
afterAll(async () => {
  await t?.stop()
  rig?.remove()
})

/** The same second for every call of a test: the clock file pins the instant each invocation starts at. */
function on(day: string): void {
  rig.setClock(`${day}T09:30:00+08:00`)
}

type Reply<T> = { ok: true; data: T } | { ok: false; error: Failure }

function burst<T>(n: number, action: string, data: unknown, openid: string): Promise<Reply<T>[]> {
  return Promise.all(Array.from({ length: n }, () => callAction<T>(t.url, 'incentives', action, data, openid) as Promise<Reply<T>>))
}

const succeeded = <T>(replies: Reply<T>[]) => replies.filter((r): r is { ok: true; data: T } => r.ok).map((r) => r.data)
const codes = (replies: Reply<unknown>[]) => [...new Set(replies.filter((r) => !r.ok).map((r) => (r as { error: Failure }).error.code))]

async function login(openid: string): Promise<void> {
  const reply = await callAction(t.url, 'user', 'login', {}, openid)
  if (!reply.ok) throw new Error(JSON.stringify(reply))
}

describe('100 concurrent calls by one user in the same second', () => {
  test('check-in: one grant, 99 answers "already checked in" with the same reward', async () => {
    on(D(0))
    const replies = await burst<Out['checkin']>(100, 'checkin', {}, 'o-rush')
    const done = succeeded(replies)
    expect(done).toHaveLength(100)
    expect(done.filter((r) => !r.alreadyCheckedIn)).toHaveLength(1)
    expect(new Set(done.map((r) => `${r.day} ${r.streak} ${r.reward}`))).toEqual(new Set([`${D(0)} 1 5`]))
    expect(entries('o-rush')).toHaveLength(1)
    expect(find('checkins', { openid: 'o-rush' })).toHaveLength(1)
    expect(account('o-rush')).toMatchObject({ balance: 5, lifetime: 5, entries: 1 })
    expect(t.cloud.store.openTransactions()).toBe(0)
  })

  test('task claim: one grant of the task points', async () => {
    on(D(0))
    await login('o-claimer')
    const profile = await callAction(t.url, 'user', 'updateProfile', { nickname: '抢答', avatarUrl: 'https://example.com/a.png' }, 'o-claimer')
    expect(profile.ok).toBe(true)
    const replies = await burst<Out['claimTask']>(100, 'claimTask', { taskId: 'profile' }, 'o-claimer')
    const done = succeeded(replies)
    expect(done).toHaveLength(100)
    expect(done.filter((r) => !r.alreadyClaimed)).toHaveLength(1)
    expect(new Set(done.map((r) => r.points))).toEqual(new Set([20]))
    expect(entries('o-claimer').map((e) => e._id)).toEqual(['task:o-claimer:profile'])
    expect(balance('o-claimer')).toBe(20)
  })

  test('make-up of one day: one charge; the others are told the day is checked', async () => {
    for (let n = 0; n < 6; n++) {
      on(D(n))
      await ok('checkin', {}, 'o-filler')
    }
    on(D(7))
    const before = balance('o-filler')
    const replies = await burst<Out['makeup']>(100, 'makeup', { day: D(6) }, 'o-filler')
    expect(succeeded(replies)).toHaveLength(1)
    expect(codes(replies)).toEqual(['CONFLICT'])
    expect(balance('o-filler')).toBe(before - 20)
    expect(entries('o-filler').filter((e) => e.reason === 'makeup')).toHaveLength(1)
    expect(account('o-filler')?.makeups.count).toBe(1)
  })

  test('accepting an invite: the inviter and the invitee are rewarded once', async () => {
    on(D(0))
    await login('o-host')
    const { code } = await ok('invite', {}, 'o-host')
    on(D(3))
    await login('o-guest')
    const replies = await burst<Out['acceptInvite']>(100, 'acceptInvite', { code }, 'o-guest')
    expect(succeeded(replies)).toEqual([{ reward: 20, inviterRewarded: true, balance: 20 }])
    expect(codes(replies)).toEqual(['CONFLICT'])
    expect([balance('o-host'), balance('o-guest')]).toEqual([50, 20])
    expect(find('referrals', { inviter: 'o-host' })).toHaveLength(1)
  })

  test('mixed: check-ins, claims and make-ups of one account at once all land, each once', async () => {
    on(D(0))
    await login('o-busy')
    await callAction(t.url, 'user', 'updateProfile', { nickname: '忙碌', avatarUrl: 'https://example.com/b.png' }, 'o-busy')
    for (let n = 0; n < 4; n++) {
      on(D(n))
      await ok('checkin', {}, 'o-busy')
    }
    on(D(5))
    const calls = Array.from({ length: 90 }, (_unused, i) =>
      i % 3 === 0 ? ['checkin', {}] : i % 3 === 1 ? ['claimTask', { taskId: i % 2 ? 'profile' : 'checkin-3' }] : ['makeup', { day: D(4) }],
    ) as [string, unknown][]
    const replies = (await Promise.all(calls.map(([action, data]) => callAction(t.url, 'incentives', action, data, 'o-busy')))) as Reply<unknown>[]
    // Every call either succeeded or was refused with a reason; none failed inside.
    expect(codes(replies).filter((c) => c !== 'CONFLICT')).toEqual([])
    const reasons = entries('o-busy').map((e) => e._id)
    expect(reasons.filter((id) => id.startsWith('checkin:'))).toHaveLength(5)
    expect(reasons.filter((id) => id.startsWith('task:')).sort()).toEqual(['task:o-busy:checkin-3', 'task:o-busy:profile'])
    expect(reasons.filter((id) => id.startsWith('makeup:'))).toEqual([`makeup:o-busy:${D(4)}`])
    expect(audit()).toEqual([])
  })
})

describe('a transaction that fails half-way', () => {
  test('the function dies after writing the ledger entry: nothing is committed', async () => {
    on(D(0))
    const before = snapshot()
    const reply = await callGateway<{ errCode?: number }>(t.url, 'incentives', { action: 'checkin', data: {} }, { openid: 'o-crash' })
    expect(reply.status).toBe(502)
    expect(t.cloud.ledger.recentInvocations(1, 'incentives')[0]).toMatchObject({ outcome: 'FUNCTION_CRASHED', openid: 'o-crash' })
    // It got as far as the ledger entry, inside its transaction, which was never committed.
    expect(t.cloud.ledger.recentInvocations(1, 'incentives')[0]!.db).toMatchObject({ insertDocument: 2, startTransaction: 1 })
    expect(snapshot()).toBe(before)
    expect(entries('o-crash')).toEqual([])
    expect(account('o-crash')).toBeUndefined()
  })

  test('the account write fails: the transaction is rolled back, the caller gets INTERNAL, and balance and ledger are as before', async () => {
    on(D(0))
    // 30 points from before, written directly: the fault matches every account write of this user.
    const { account: seeded, entry } = applyGrant(emptyAccount('o-broken', new Date()), { key: 'task:o-broken:earlier', reason: 'task', amount: 30, ref: 'earlier', title: '完成任务：更早的任务', day: D(-1) }, new Date())
    t.cloud.store.insert('points_accounts', [{ ...seeded }])
    t.cloud.store.insert('points_ledger', [{ ...entry! }])
    const open = t.cloud.store.openTransactions()
    const before = snapshot()
    const reply = await callAction(t.url, 'incentives', 'checkin', {}, 'o-broken')
    expect(reply).toMatchObject({ ok: false, error: { code: 'INTERNAL' } })
    expect(snapshot()).toBe(before)
    expect(t.cloud.store.openTransactions()).toBe(open)
    await login('o-broken')
    await callAction(t.url, 'user', 'updateProfile', { nickname: '断线', avatarUrl: 'https://example.com/c.png' }, 'o-broken')
    expect(await callAction(t.url, 'incentives', 'claimTask', { taskId: 'profile' }, 'o-broken')).toMatchObject({ ok: false, error: { code: 'INTERNAL' } })
    expect(snapshot()).toBe(before)
    expect([balance('o-broken'), entries('o-broken').length]).toEqual([30, 1])
  })
})

test('at the end: balance = sum(ledger) for every user', () => {
  expect(find('points_accounts').length).toBeGreaterThanOrEqual(6)
  expect(audit()).toEqual([])
})
