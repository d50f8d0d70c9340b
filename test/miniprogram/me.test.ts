/**
 * The Me page against a real local cloud running the real `user` function: the profile created on
 * first login, the avatar (WeChat's chooser, an upload to the user's own folder, the cloud's content
 * check, the 完善资料 task it completes), the nickname editor and its checks (on the device and by
 * the content check in the cloud), the entries, and a failed login.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import type { Result } from '../../cloudfunctions/_shared/contract'
import type { UserOutputs, UserProfile } from '../../cloudfunctions/user/api'
import { startCloudProcess, type CloudProcess } from './harness/cloud'
import { mountPage, type Mounted } from './harness/mount'
import { adminRequest, callFunction, deadUrl } from './harness/net'
import { nativeAttr, ownerData, typeInto } from './harness/nodes'
import { uploadFileOver } from './harness/upload'
import { createWx, type FakeWx } from './harness/wx'

/** A GET over real HTTP (jsdom has no fetch). */
function getText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve(Buffer.concat(chunks).toString()))
    }).on('error', reject)
  })
}

/** Fires a component event (WeChat's `chooseavatar`) on a rendered element, as the runtime would. */
function fire(target: Element, name: string, detail: Record<string, unknown>): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const exparser = require('miniprogram-exparser') as { Event: { dispatchEvent(node: unknown, event: unknown): void; create(name: string, detail: unknown, options: unknown): unknown } }
  exparser.Event.dispatchEvent((target as Element & { __wxElement?: unknown }).__wxElement, exparser.Event.create(name, detail, { bubbles: false, composed: false }))
}

const PAGE = 'packages/me/index'
const OPENID_KEY = 'local-cloud:openid'

/** A word the local content check refuses (tools/local-cloud/msgsec-words.txt), one a user could type into a nickname. */
const refusedWord = readFileSync(path.resolve(__dirname, '../../tools/local-cloud/msgsec-words.txt'), 'utf8')
  .split('\n')
  .filter((line) => line.trim() && !line.startsWith('#'))
  .map((line) => line.split('\t')[0]!.trim())
  .find((word) => /[\u4e00-\u9fff]/.test(word))!

// Longer than waitFor's 5 s, so a wait that fails reports the page text and `finally` blocks still run.
jest.setTimeout(180_000)

let cloud: CloudProcess
beforeAll(async () => {
  cloud = await startCloudProcess()
}, 90_000)
afterAll(() => cloud?.stop())

function newOpenid(): string {
  return `dev-${randomBytes(6).toString('hex')}`
}

/** A device whose development openid is known before the page runs. */
function device(openid = newOpenid()): FakeWx {
  const fake = createWx()
  fake.storage.set(OPENID_KEY, openid)
  return fake
}

function openidOf(m: Mounted): string {
  return m.fake.storage.get(OPENID_KEY) as string
}

async function call<A extends keyof UserOutputs>(action: A, data: unknown, openid: string): Promise<Result<UserOutputs[A]>> {
  return (await callFunction(cloud.url, 'user', action, data, openid)) as Result<UserOutputs[A]>
}

async function cloudProfile(openid: string): Promise<UserProfile> {
  const result = await call('profile', {}, openid)
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`)
  return result.data
}

/** A user who already has `nickname`, created through the function itself. */
async function existingUser(nickname: string): Promise<string> {
  const openid = newOpenid()
  await call('login', {}, openid)
  const result = await call('updateProfile', { nickname }, openid)
  if (!result.ok) throw new Error(result.error.message)
  return openid
}

async function open(fake: FakeWx): Promise<Mounted> {
  const m = await mountPage(PAGE, { cloudUrl: cloud.url, fake })
  await m.waitFor(() => m.page.data.status === 'ready', 'the profile')
  return m
}

function textOf(m: Mounted, className: string): string[] {
  return m.find(className).map((el) => el.textContent?.trim() ?? '')
}

function button(m: Mounted, label: string): Element {
  const el = m.find('t-button').find((b) => b.textContent?.trim() === label)
  if (!el) throw new Error(`no button "${label}"; page text: ${m.text()}`)
  return el
}

const nicknameInput = (m: Mounted) => m.find('t-input__control')[0]!
/** 保存 is on the page only while there is a nickname to save. */
const saveEnabled = (m: Mounted) => m.find('t-button').some((b) => b.textContent?.trim() === '保存' && ownerData(b).disabled !== true)
const updates = (m: Mounted) => m.fake.log.requests.filter((r) => (r.data as { action?: string }).action === 'updateProfile')

/** "2026年11月25日" from the function's `YYYY-MM-DD`. */
function chineseDay(day: string): string {
  const [y, mo, d] = day.split('-').map(Number)
  return `${y}年${mo}月${d}日`
}

test('a new user: skeleton, then "微信用户" and the day they joined; the first login creates them in the cloud', async () => {
  const openid = newOpenid()
  expect(await call('profile', {}, openid)).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } })

  const m = await mountPage(PAGE, { cloudUrl: cloud.url, fake: device(openid) })
  expect(m.page.data.status).toBe('loading')
  expect(m.find('skeleton__row').length).toBeGreaterThan(0)
  expect(m.find('me__name')).toHaveLength(0)

  await m.waitFor(() => m.page.data.status === 'ready', 'the profile')
  // The login, the admin check for the dashboard entry and the level card (neither waited for), all as this device.
  expect(m.fake.log.requests.map((r) => [(r.data as { action: string }).action, r.header['x-wx-openid']]).sort()).toEqual([
    ['access', openid],
    ['login', openid],
    ['summary', openid],
  ])
  const profile = await cloudProfile(openid)
  expect(profile).toMatchObject({ openid, nickname: '' })
  expect(m.find('skeleton__row')).toHaveLength(0)
  expect(textOf(m, 'me__name')).toEqual(['微信用户'])
  expect(textOf(m, 'me__avatar')).toEqual(['微'])
  expect(textOf(m, 'me__since')).toEqual([`${chineseDay(profile.firstSeenDay)}加入`])
  // Not toEqual: the first login answers with the function's clock, the stored profile has the database's (ms apart).
  expect(m.page.data.user).toMatchObject({ openid, nickname: '', avatarUrl: '', firstSeenDay: profile.firstSeenDay })
  expect(saveEnabled(m)).toBe(false)
})

test('editing the nickname: typing enables 保存; saving shows the name, says 已保存, and the cloud has it', async () => {
  const fake = device()
  const m = await open(fake)
  const input = nicknameInput(m)

  await typeInto(input, '小满')
  expect(m.page.data.draft).toBe('小满')
  expect(saveEnabled(m)).toBe(true)
  await typeInto(input, '')
  expect(saveEnabled(m)).toBe(false)
  await typeInto(input, '   ')
  expect(saveEnabled(m)).toBe(false)
  expect(m.text()).not.toContain('保存')

  // Picking the WeChat nickname offered above the keyboard arrives as a change event.
  await typeInto(input, '小满', 'change')
  expect(saveEnabled(m)).toBe(true)
  await m.tap(button(m, '保存'))
  await m.waitFor(() => m.fake.log.toasts.length > 0, 'the toast')
  expect(m.fake.log.toasts).toEqual([{ title: '已保存', icon: 'success' }])
  expect(updates(m).map((r) => r.data)).toEqual([{ action: 'updateProfile', data: { nickname: '小满' } }])
  expect(textOf(m, 'me__name')).toEqual(['小满'])
  expect(ownerData(input).value).toBe('小满')
  expect((await cloudProfile(openidOf(m))).nickname).toBe('小满')

  // Nothing left to save: the same name, even with spaces around it.
  expect(saveEnabled(m)).toBe(false)
  await typeInto(input, ' 小满 ')
  expect(saveEnabled(m)).toBe(false)

  const again = await open(fake)
  expect(textOf(again, 'me__name')).toEqual(['小满'])
})

test('a nickname that starts with an emoji shows the whole emoji as the avatar', async () => {
  const m = await open(device(await existingUser('🌱小满')))
  expect(textOf(m, 'me__name')).toEqual(['🌱小满'])
  expect(textOf(m, 'me__avatar')).toEqual(['🌱'])
})

test('a nickname the content check refuses: the function\'s message in a toast, and the old name stays', async () => {
  const refused = `小${refusedWord}`
  const expected = await call('updateProfile', { nickname: refused }, await existingUser('旁观者'))
  if (expected.ok) throw new Error(`the content check let "${refused}" through`)
  expect(expected.error.code).toBe('CONTENT_REJECTED')
  expect(expected.error.message).toMatch(/[\u4e00-\u9fff]/)

  const openid = await existingUser('老王')
  const m = await open(device(openid))
  expect(textOf(m, 'me__name')).toEqual(['老王'])
  expect(saveEnabled(m)).toBe(false)
  await typeInto(nicknameInput(m), refused)
  await m.tap(button(m, '保存'))
  await m.waitFor(() => m.fake.log.toasts.length > 0, 'the toast')
  expect(m.fake.log.toasts).toEqual([{ title: expected.error.message, icon: 'none' }])
  expect(updates(m)).toHaveLength(1)
  expect(textOf(m, 'me__name')).toEqual(['老王'])
  expect(m.page.data.user.nickname).toBe('老王')
  expect(m.page.data.saving).toBe(false)
  expect((await cloudProfile(openid)).nickname).toBe('老王')
})

test('a nickname over 20 characters is refused on the device, without a request; 20 is fine', async () => {
  const m = await open(device())
  m.page.onNicknameInput({ detail: { value: '字'.repeat(21) } })
  await m.tap(button(m, '保存'))
  expect(m.fake.log.toasts).toEqual([{ title: '昵称最多 20 个字', icon: 'none' }])
  expect(updates(m)).toEqual([])
  expect(textOf(m, 'me__name')).toEqual(['微信用户'])

  m.page.onNicknameInput({ detail: { value: '字'.repeat(20) } })
  await m.tap(button(m, '保存'))
  await m.waitFor(() => m.fake.log.toasts.length > 1, 'the second toast')
  expect(m.fake.log.toasts[1]).toEqual({ title: '已保存', icon: 'success' })
  expect((await cloudProfile(openidOf(m))).nickname).toBe('字'.repeat(20))
})

test('entries: "浏览全部指南" goes home; one entry for feedback, the form (which leads to replies and WeChat\'s own channels)', async () => {
  const m = await open(device())
  const cells = m.find('t-cell__title-text').map((el) => el.textContent?.trim())
  expect(cells).toEqual(['浏览全部指南', '反馈'])
  await m.tap(m.find('t-cell').find((el) => el.textContent?.includes('浏览全部指南'))!)
  expect(m.fake.log.reLaunch).toEqual(['/pages/home/index'])
  expect(m.fake.log.navigateTo).toEqual([])
  await m.tap(m.find('t-cell').find((el) => el.textContent?.includes('反馈'))!)
  expect(m.fake.log.navigateTo).toEqual(['/packages/feedback/form/index?from=packages/me/index'])
  expect(m.text()).not.toMatch(/意见反馈|反馈与建议|投诉与反馈|联系客服/)
  expect(m.find('feedback-entry')).toHaveLength(0)
})

test('the avatar: WeChat\'s chooser on the avatar, uploaded to the user\'s own folder, checked in the cloud and shown; 完善资料 can then be completed', async () => {
  const openid = await existingUser('小满')
  const fake = device(openid)
  const uploaded: string[] = []
  const dir = mkdtempSync(path.join(os.tmpdir(), 'me-avatar-'))
  const picked = path.join(dir, 'tmp_avatar.png')
  writeFileSync(picked, Buffer.from('\x89PNG a photo'))
  Object.assign(fake.wx, { uploadFile: uploadFileOver((fileId) => uploaded.push(fileId)) })
  try {
    const m = await open(fake)
    const avatar = m.find('me__avatar')[0]!
    expect([avatar.tagName.toLowerCase(), nativeAttr(avatar, 'openType')]).toEqual(['wx-button', 'chooseAvatar'])
    expect(textOf(m, 'me__avatar')).toEqual(['小'])
    expect(m.text()).toContain('点头像，换成你的照片')

    fire(avatar, 'chooseavatar', { avatarUrl: picked })
    await m.waitFor(() => m.fake.log.toasts.length > 0, 'the toast')
    expect(m.fake.log.toasts).toEqual([{ title: '头像已更新', icon: 'success' }])
    expect(uploaded).toHaveLength(1)
    expect(uploaded[0]).toMatch(new RegExp(`^cloud://[^/]+/avatars/${openid}/[a-z0-9]+\\.png$`))
    const profile = await cloudProfile(openid)
    expect(profile.avatarUrl).toBe(uploaded[0])
    // Shown from the cloud's address for it, which serves the picked photo.
    expect(nativeAttr(m.find('me__avatar-image')[0]!, 'src')).toBe(m.page.data.avatar)
    expect(await getText(m.page.data.avatar as string)).toBe('\x89PNG a photo')
    expect(m.text()).not.toContain('点头像')
    // Submitted to WeChat's asynchronous content check.
    const checks = (await adminRequest(cloud.url, { action: 'database.getDocument', collectionName: '_media_checks', queryType: 'WHERE', query: JSON.stringify({ openid }), limit: 10 })).body.data.list as string[]
    expect(checks.map((c) => JSON.parse(c) as { scene: number; media_type: number })).toEqual([expect.objectContaining({ scene: 1, media_type: 2 })])
    // With a nickname and an avatar, the task 完善资料 (设置头像和昵称) is complete.
    const tasks = (await callFunction(cloud.url, 'incentives', 'tasks', {}, openid)) as Result<{ items: { id: string; claimable: boolean; progress: number; target: number }[] }>
    if (!tasks.ok) throw new Error(tasks.error.message)
    expect(tasks.data.items.find((t) => t.id === 'profile')).toMatchObject({ progress: 1, target: 1, claimable: true })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('an avatar the cloud refuses (not in the user\'s folder, say): the message, and the old look stays', async () => {
  const openid = await existingUser('阿木')
  const fake = device(openid)
  const dir = mkdtempSync(path.join(os.tmpdir(), 'me-avatar-'))
  const picked = path.join(dir, 'tmp_avatar.png')
  writeFileSync(picked, Buffer.from('\x89PNG a photo'))
  // An upload that lands somewhere else than the device asked (a tampered client).
  Object.assign(fake.wx, { uploadFile: uploadFileOver(() => undefined) })
  const upload = fake.wx.uploadFile as (o: { formData: Record<string, string> }) => void
  fake.wx.uploadFile = (o: { formData: Record<string, string> }) => upload({ ...o, formData: { ...o.formData, cloudPath: `avatars/dev-someoneelse1/x.png` } })
  try {
    const m = await open(fake)
    fire(m.find('me__avatar')[0]!, 'chooseavatar', { avatarUrl: picked })
    await m.waitFor(() => m.fake.log.toasts.length > 0, 'the toast')
    expect(m.fake.log.toasts).toEqual([{ title: '头像不是你上传的文件，请重新选择。', icon: 'none' }])
    expect(m.page.data.avatar).toBe('')
    expect(textOf(m, 'me__avatar')).toEqual(['阿'])
    expect((await cloudProfile(openid)).avatarUrl).toBe('')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('login fails: the network message, and 重新加载 works once the cloud is reachable', async () => {
  const m = await mountPage(PAGE, { cloudUrl: await deadUrl(), fake: device() })
  await m.waitFor(() => m.page.data.status === 'error', 'the error state')
  expect(m.text()).toContain('网络不太给力，请检查网络后重试')
  expect(m.find('me__name')).toHaveLength(0)

  m.cloud.configureCloud({ localCloudUrl: cloud.url })
  await m.tap(button(m, '重新加载'))
  await m.waitFor(() => m.page.data.status === 'ready', 'the profile after the retry')
  expect(textOf(m, 'me__name')).toEqual(['微信用户'])
  expect(await cloudProfile(openidOf(m))).toMatchObject({ openid: openidOf(m), nickname: '' })
})
