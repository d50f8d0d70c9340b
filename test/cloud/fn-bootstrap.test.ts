/**
 * `user.bootstrap`, the launch's one call, through the gateway against a real local cloud with the
 * demo content: it answers what login, experiments.config, content.categories and the first
 * content.list answer, in one database read (plus login's write when there is one).
 */
import type { ContentOutputs } from '../../cloudfunctions/content/api'
import type { ExperimentsOutputs } from '../../cloudfunctions/experiments/api'
import type { UserOutputs } from '../../cloudfunctions/user/api'
import { callAction, callGateway, startCloud, type TestCloud } from '../helpers/local-cloud'

let t: TestCloud
beforeAll(async () => {
  t = await startCloud({ seed: true })
})
afterAll(() => t.stop())

type Boot = UserOutputs['bootstrap']

async function must<T>(fn: string, action: string, data: unknown, openid: string): Promise<T> {
  const reply = await callAction<T>(t.url, fn, action, data, openid)
  if (!reply.ok) throw new Error(`${fn}.${action}: ${JSON.stringify(reply.error)}`)
  return reply.data
}

test('a new user: one read and one insert; the reply is what the four separate calls answer', async () => {
  const reply = await callGateway<{ result: { ok: true; data: Boot } }>(t.url, 'user', { action: 'bootstrap', data: {} }, { openid: 'o-boot-new' })
  expect(reply.headers.get('x-db-ops')).toBe('aggregateDocuments=1,insertDocument=1')
  const boot = reply.body.result.data
  expect(boot).toMatchObject({ isNew: true, user: { openid: 'o-boot-new' }, invited: false })
  expect(boot).not.toHaveProperty('onboardingSteps')

  expect(boot.categories).toEqual((await must<ContentOutputs['categories']>('content', 'categories', {}, 'o-boot-new')).items)
  expect(boot.categories.length).toBeGreaterThan(1)
  expect(boot.guides).toEqual(await must<ContentOutputs['list']>('content', 'list', {}, 'o-boot-new'))
  expect(boot.guides.items).toHaveLength(10)
  expect(boot.guides.nextCursor).toEqual(expect.any(String))
  expect(boot.config).toEqual(await must<ExperimentsOutputs['config']>('experiments', 'config', {}, 'o-boot-new'))
  // A new user's reply carries the function's clock, the stored document the database's: compare the next answers.
  const again = await must<Boot>('user', 'bootstrap', {}, 'o-boot-new')
  expect({ user: again.user, isNew: again.isNew }).toEqual(await must<UserOutputs['login']>('user', 'login', {}, 'o-boot-new'))
  expect(again.user).toEqual({ ...boot.user, firstSeenAt: expect.any(String) })
})

test('a returning user on the same day: one round trip; on a new day one more to record the visit', async () => {
  await must('user', 'bootstrap', {}, 'o-boot-back')
  const same = await callGateway(t.url, 'user', { action: 'bootstrap', data: {} }, { openid: 'o-boot-back' })
  expect(same.headers.get('x-db-ops')).toBe('aggregateDocuments=1')
  t.cloud.store.modify('users', { query: { _id: 'o-boot-back' }, data: { $set: { lastSeenDay: '2020-01-01' } }, multi: false, merge: true, upsert: false })
  const nextDay = await callGateway(t.url, 'user', { action: 'bootstrap', data: {} }, { openid: 'o-boot-back' })
  expect(nextDay.headers.get('x-db-ops')).toBe('aggregateDocuments=1,modifyDocument=1')
  expect(t.cloud.store.find('users', { query: { _id: 'o-boot-back' } })[0]?.lastSeenDay).not.toBe('2020-01-01')
})

test('asked for the onboarding steps, it joins them in the same read; a configured guide comes back as stored', async () => {
  const steps = [{ id: 'tabs', selector: '.home__tabs', title: '按分类找', body: '', placement: 'bottom' }]
  t.cloud.store.insert('app_config', [{ _id: 'onboarding', steps }])
  const reply = await callGateway<{ result: { ok: true; data: Boot } }>(t.url, 'user', { action: 'bootstrap', data: { onboarding: true } }, { openid: 'o-boot-guide' })
  expect(reply.headers.get('x-db-ops')).toBe('aggregateDocuments=1,insertDocument=1')
  expect(reply.body.result.data.onboardingSteps).toEqual(steps)
  t.cloud.store.remove('app_config', { _id: 'onboarding' }, false)
})

test('a first touch that names an inviter says so (a referral may be due)', async () => {
  await must('user', 'bootstrap', {}, 'o-boot-invited')
  t.cloud.store.modify('users', { query: { _id: 'o-boot-invited' }, data: { $set: { firstTouch: { inviter: 'o-boot-new', at: new Date(), day: '2026-01-01' } } }, multi: false, merge: true, upsert: false })
  expect(await must<Boot>('user', 'bootstrap', {}, 'o-boot-invited')).toMatchObject({ invited: true })
})

test('identity from the context only: an openid in the payload is refused and nothing is created', async () => {
  const reply = await callAction(t.url, 'user', 'bootstrap', { openid: 'o-victim' }, 'o-boot-attacker')
  expect(reply).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
  expect(t.cloud.store.count('users', { _id: 'o-boot-attacker' })).toBe(0)
})

test('without categories to drive the read, the same answer comes from separate reads', async () => {
  const empty = await startCloud()
  try {
    const reply = await callGateway<{ result: { ok: true; data: Boot } }>(empty.url, 'user', { action: 'bootstrap', data: {} }, { openid: 'o-boot-empty' })
    expect(reply.body.result).toMatchObject({ ok: true, data: { isNew: true, categories: [], guides: { items: [], nextCursor: null } } })
  } finally {
    await empty.stop()
  }
})
