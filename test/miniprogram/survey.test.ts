/**
 * The one-question survey end to end: the real home page and the survey sheet (subpackage survey,
 * TDesign popup) rendered by miniprogram-simulate against a real local cloud. A user the targeting
 * does not pick sees nothing; a picked one gets the sheet after the first render, answers 0–10 with
 * a reason, and the answer is stored once; a dismissal is stored and respected; text the content
 * check refuses is shown as an error and nothing is stored.
 */
import { randomBytes } from 'node:crypto'
import { startCloudProcess, type CloudProcess } from './harness/cloud'
import { mountPage, type Mounted } from './harness/mount'
import { adminRequest, callFunction } from './harness/net'
import { typeInto } from './harness/nodes'
import { createWx, type FakeWx } from './harness/wx'

jest.setTimeout(30_000)

const OPENID_KEY = 'local-cloud:openid'
const ADMIN = `dev-${randomBytes(6).toString('hex')}`
const SURVEY = {
  id: 'nps_home',
  enabled: true,
  kind: 'nps',
  question: '你有多大可能把我们推荐给朋友？',
  followUp: '主要原因是什么？',
  target: { minActiveDays: 2, everyDays: 30 },
}

let cloud: CloudProcess
beforeAll(async () => {
  cloud = await startCloudProcess()
  await insert('app_config', [{ _id: 'survey', surveys: [SURVEY] }, { _id: 'admins', openids: [ADMIN] }])
}, 30_000)
afterAll(async () => {
  await cloud?.stop()
})

const mounted: Mounted[] = []
afterEach(() => {
  for (const m of mounted.splice(0)) m.unmount()
})

async function insert(collectionName: string, docs: unknown[]): Promise<void> {
  await adminRequest(cloud.url, { action: 'database.insertDocument', collectionName, data: docs.map((d) => JSON.stringify(d)) })
}

async function responses(openid: string): Promise<Record<string, unknown>[]> {
  const reply = await adminRequest(cloud.url, { action: 'database.getDocument', collectionName: 'survey_responses', query: JSON.stringify({ openid }), limit: 10 })
  return (reply.body.data.list as string[]).map((s) => JSON.parse(s) as Record<string, unknown>)
}

/** A user active on `days` days, whose onboarding guide ended long ago. */
async function user(days: number): Promise<{ openid: string; fake: FakeWx }> {
  const openid = `dev-${randomBytes(6).toString('hex')}`
  if (days > 0) await insert('user_days', Array.from({ length: days }, (_, i) => ({ _id: `${openid}:2026-11-0${i + 1}`, openid, day: `2026-11-0${i + 1}`, at: { $date: new Date().toISOString() } })))
  const fake = createWx()
  fake.storage.set(OPENID_KEY, openid)
  fake.storage.set('onboarding', { status: 'finished', step: 'me', synced: true })
  return { openid, fake }
}

const surveyCalls = (m: Mounted, action?: string) =>
  m.fake.log.requests.filter((r) => r.url.endsWith('/functions/survey') && (!action || (r.data as { action: string }).action === action)).length

/** The home page after its first render (onReady, as WeChat calls it), with the due check answered. */
async function home(fake: FakeWx): Promise<Mounted> {
  const m = await mountPage('pages/home/index', { cloudUrl: cloud.url, fake })
  mounted.push(m)
  await m.waitFor(() => m.page.data.status === 'ready', 'the guides')
  await m.page.onReady()
  return m
}

const sheet = (m: Mounted) => m.find('sheet')[0]
const options = (m: Mounted) => m.find('option')

test('a user the targeting does not pick: one due check, no sheet; no second check the same day', async () => {
  const { fake } = await user(1)
  const m = await home(fake)
  expect(surveyCalls(m, 'due')).toBe(1)
  expect(m.page.data.survey).toBeNull()
  expect(sheet(m)).toBeUndefined()
  await m.page.onReady()
  expect(surveyCalls(m, 'due')).toBe(1)
})

test('a picked user answers 9 with a reason: the sheet closes with thanks, the answer is stored once', async () => {
  const { openid, fake } = await user(2)
  const m = await home(fake)
  await m.waitFor(() => sheet(m) !== undefined && options(m).length === 11, 'the survey sheet', 15_000)
  expect(m.text()).toContain(SURVEY.question)
  expect(m.text()).toContain('主要原因是什么？（选填）')
  expect(options(m).map((o) => o.textContent)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10'])
  // 提交 waits for a score.
  const submit = () => m.find('t-button').find((b) => b.textContent?.includes('提交'))!
  expect(submit().getAttribute('class') ?? '').toMatch(/disabled/)
  await m.tap(options(m)[9]!)
  expect(options(m)[9]!.getAttribute('class')).toMatch(/option--picked/)
  await typeInto(m.find('sheet__text')[0]!, '  内容很实用  ')
  await m.tap(submit())
  await m.waitFor(() => m.fake.log.toasts.length > 0, 'the thanks')
  expect(m.fake.log.toasts).toEqual([{ title: '感谢你的反馈', icon: 'success' }])
  await m.waitFor(() => m.page.data.survey === null, 'the sheet closed')
  expect(await responses(openid)).toEqual([expect.objectContaining({ _id: `nps_home:${openid}`, status: 'answered', score: 9, text: '内容很实用' })])
  expect(surveyCalls(m, 'dismiss')).toBe(0)
})

test('closing the sheet records a dismissal, and the survey is not shown again', async () => {
  const { openid, fake } = await user(3)
  const m = await home(fake)
  await m.waitFor(() => options(m).length === 11, 'the survey sheet')
  await m.tap(m.find('sheet__close')[0]!)
  await m.waitFor(() => m.page.data.survey === null && surveyCalls(m, 'dismiss') === 1, 'the dismissal')
  // The dismissal is sent without waiting (the sheet closes at once): wait for it to land.
  let stored: Record<string, unknown>[] = []
  for (let i = 0; i < 100 && stored.length === 0; i++) stored = await responses(openid)
  expect(stored).toEqual([expect.objectContaining({ status: 'dismissed' })])
  // A day later the home page asks again: nothing is due.
  fake.storage.set('survey:checked', Date.now() - 25 * 3600_000)
  const again = await home(fake)
  expect(surveyCalls(again, 'due')).toBe(2) // the same device's log: the first visit's check and this one
  expect(again.page.data.survey).toBeNull()
  expect(sheet(again)).toBeUndefined()
})

test('a reason the content check refuses: the error in the sheet, nothing stored; a changed reason goes through', async () => {
  const { openid, fake } = await user(2)
  const m = await home(fake)
  await m.waitFor(() => options(m).length === 11, 'the survey sheet')
  await m.tap(options(m)[3]!)
  await typeInto(m.find('sheet__text')[0]!, '这里有代开发票服务')
  const submit = () => m.find('t-button').find((b) => b.textContent?.includes('提交'))!
  await m.tap(submit())
  await m.waitFor(() => m.find('sheet__error').length > 0, 'the error')
  expect(m.find('sheet__error')[0]!.textContent).toBe('内容未通过安全检查，请修改后再提交。')
  expect(await responses(openid)).toEqual([])
  expect(m.page.data.survey).not.toBeNull()
  await typeInto(m.find('sheet__text')[0]!, '更新太慢')
  await m.tap(submit())
  await m.waitFor(() => m.page.data.survey === null, 'the sheet closed')
  expect(await responses(openid)).toEqual([expect.objectContaining({ score: 3, text: '更新太慢' })])
})

test('调研结果 for an admin: NPS with the 0–10 distribution and per day, then by channel; no access for others', async () => {
  // Three answers from users of two channels, through the function as the sheet sends them.
  for (const [score, channel] of [[10, 'poster'], [9, 'poster'], [2, 'search']] as const) {
    const { openid } = await user(0)
    await insert('users', [{ _id: openid, openid, firstTouch: { channel, at: { $date: new Date().toISOString() }, day: '2026-12-01' } }])
    const reply = await callFunction(cloud.url, 'survey', 'answer', { surveyId: 'nps_home', score }, openid)
    expect(reply.ok).toBe(true)
  }
  const fake = createWx()
  fake.storage.set(OPENID_KEY, ADMIN)
  const m = await mountPage('packages/survey-results/index', { cloudUrl: cloud.url, fake })
  mounted.push(m)
  await m.waitFor(() => m.page.data.status === 'ready', 'the results')
  // Every answer of the file so far counts (answers of the other tests too): read the expected numbers from the function.
  const all = await callFunction(cloud.url, 'survey', 'stats', { from: m.page.data.from, to: m.page.data.to }, ADMIN)
  const totals = (all.data as { totals: { answers: number; dismissals: number; nps: number; distribution: number[] }[] }).totals[0]!
  expect(totals.answers).toBeGreaterThanOrEqual(3)
  const nps = totals.nps > 0 ? `+${totals.nps}` : String(totals.nps)
  expect(m.text()).toContain(`NPS ${nps}`)
  expect(m.text()).toContain(`${totals.answers} 人回答，${totals.dismissals} 人关闭`)
  expect(m.find('bar__count').map((b) => Number(b.textContent))).toEqual(totals.distribution)
  expect(m.find('day')).toHaveLength(1)

  await m.tap(m.find('chip').find((c) => c.textContent === '按渠道')!)
  await m.waitFor(() => m.page.data.status === 'ready' && m.page.data.segment === 'channel', 'by channel')
  const titles = m.find('panel__title').map((t) => t.textContent)
  expect(titles).toEqual(expect.arrayContaining(['poster', 'search']))
  const poster = m.page.data.totals.find((t: { segment: string }) => t.segment === 'poster')
  expect(poster.nps).toBe('+100')

  const other = await user(0)
  const denied = await mountPage('packages/survey-results/index', { cloudUrl: cloud.url, fake: other.fake })
  mounted.push(denied)
  await denied.waitFor(() => denied.page.data.status === 'forbidden', 'no access')
  expect(denied.text()).toContain('调研结果仅管理员可见')
})
