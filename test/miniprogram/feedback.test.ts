/**
 * The feedback pages rendered with real TDesign against a real local cloud: the form (category,
 * text, screenshots picked, compressed and uploaded through the local cloud's device upload route,
 * submit), its refusals (content check, oversized screenshot), my feedback with the admin's reply,
 * the admin inbox (filter, reply with a subscription message, close, no access for others), and the
 * 反馈 line at the end of every page.
 */
import { randomBytes } from 'node:crypto'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import * as contract from '../../cloudfunctions/feedback/api'
import * as rules from '../../miniprogram/packages/feedback/rules'
import { startCloudProcess, type CloudProcess } from './harness/cloud'
import { MP_ROOT, mountPage, type Mounted } from './harness/mount'
import { adminRequest, callFunction } from './harness/net'
import { nativeAttr, typeInto } from './harness/nodes'
import { uploadFileOver } from './harness/upload'
import { createWx, type FakeWx } from './harness/wx'

const FORM = 'packages/feedback/form/index'
const MINE = 'packages/feedback/mine/index'
const INBOX = 'packages/feedback/inbox/index'
const OPENID_KEY = 'local-cloud:openid'
const ADMIN = `dev-${randomBytes(6).toString("hex")}`

jest.setTimeout(180_000)

let cloud: CloudProcess
let tmp: string
beforeAll(async () => {
  cloud = await startCloudProcess()
  tmp = mkdtempSync(path.join(os.tmpdir(), 'feedback-shots-'))
  for (const doc of [{ _id: 'admins', openids: [ADMIN] }, { _id: 'templates', ids: { feedback_reply: 'tmpl-reply' } }]) {
    await adminRequest(cloud.url, { action: 'database.insertDocument', collectionName: 'app_config', data: [JSON.stringify(doc)] })
  }
}, 90_000)
afterAll(async () => {
  await cloud?.stop()
  rmSync(tmp, { recursive: true, force: true })
})

const mounted: Mounted[] = []
afterEach(() => {
  for (const m of mounted.splice(0)) m.unmount()
})

const newOpenid = () => `dev-${randomBytes(6).toString('hex')}`

/** A real file of `bytes` bytes, as wx.chooseMedia would hand one over. */
function shot(bytes: number): string {
  const file = path.join(tmp, `${randomBytes(4).toString('hex')}.jpg`)
  writeFileSync(file, randomBytes(bytes))
  return file
}

interface Device {
  fake: FakeWx
  /** What the next wx.chooseMedia picks. */
  picks: string[]
  /** File IDs the device uploaded. */
  uploaded: string[]
  compressed: { src: string; quality?: number }[]
  subscribeAsked: string[][]
}

/** A device with the media, file and upload APIs the form uses: uploads are real multipart POSTs. */
function device(openid = newOpenid()): Device {
  const fake = createWx()
  fake.storage.set(OPENID_KEY, openid)
  const d: Device = { fake, picks: [], uploaded: [], compressed: [], subscribeAsked: [] }
  Object.assign(fake.wx, {
    chooseMedia: (o: { count: number; success: (r: { tempFiles: { tempFilePath: string; size: number }[] }) => void }) =>
      setTimeout(() => o.success({ tempFiles: d.picks.splice(0, o.count).map((p) => ({ tempFilePath: p, size: statSync(p).size })) }), 0),
    compressImage: (o: { src: string; quality?: number; success: (r: { tempFilePath: string }) => void }) => {
      d.compressed.push({ src: o.src, quality: o.quality })
      const out = `${o.src}.compressed.jpg`
      copyFileSync(o.src, out)
      setTimeout(() => o.success({ tempFilePath: out }), 0)
    },
    getFileSystemManager: () => ({
      getFileInfo: (o: { filePath: string; success: (r: { size: number }) => void }) => setTimeout(() => o.success({ size: statSync(o.filePath).size }), 0),
    }),
    uploadFile: uploadFileOver((fileId) => d.uploaded.push(fileId)),
    previewImage: () => undefined,
    redirectTo: ({ url }: { url: string }) => void fake.log.navigateTo.push(url),
    requestSubscribeMessage: (o: { tmplIds: string[]; success: (r: Record<string, string>) => void }) => {
      d.subscribeAsked.push(o.tmplIds)
      setTimeout(() => o.success(Object.fromEntries(o.tmplIds.map((id) => [id, 'accept']))), 0)
    },
  })
  return d
}

async function mount(page: string, d: Device, query: Record<string, string> = {}): Promise<Mounted> {
  const m = await mountPage(page, { cloudUrl: cloud.url, fake: d.fake, query })
  mounted.push(m)
  return m
}

/** Which of these files exist in the cloud's storage (asked through the cloud's own protocol). */
async function existing(fileIds: string[]): Promise<string[]> {
  if (fileIds.length === 0) return []
  const reply = await adminRequest(cloud.url, { action: 'storage.batchGetDownloadUrl', file_list: fileIds.map((fileid) => ({ fileid, max_age: 60 })) })
  const list = (reply.body as { data: { download_list: { fileID: string; code: string }[] } }).data.download_list
  return list.filter((f) => f.code === 'SUCCESS').map((f) => f.fileID)
}

async function inbox(data: Record<string, unknown> = {}) {
  const result = await callFunction(cloud.url, 'feedback', 'inbox', data, ADMIN)
  if (!result.ok) throw new Error(JSON.stringify(result.error))
  return result.data as contract.FeedbackOutputs['inbox']
}

const byText = (m: Mounted, cls: string, text: string) => m.find(cls).find((el) => el.textContent?.includes(text))
const button = (m: Mounted, text: string) => {
  const el = m.find('t-button').find((b) => b.textContent?.includes(text))
  if (!el) throw new Error(`no button "${text}" in: ${m.text().slice(0, 300)}`)
  return el
}
const textarea = (m: Mounted, index = 0) => m.find('t-textarea__wrapper-inner')[index]!

async function fill(m: Mounted, d: Device, text: string, picks: string[]): Promise<void> {
  await typeInto(textarea(m), text)
  d.picks.push(...picks)
  if (picks.length > 0) {
    const before = m.page.data.images.length
    await m.tap(m.find('shot--add')[0]!)
    await m.waitFor(() => m.page.data.images.length > before || m.page.data.errorText !== '', 'the picked screenshots')
  }
}

test('the limits on the device match the function contract', () => {
  expect([rules.TEXT_MAX, rules.CONTACT_MAX, rules.IMAGES_MAX, rules.IMAGE_MAX_BYTES]).toEqual([contract.TEXT_MAX, contract.CONTACT_MAX, contract.IMAGES_MAX, contract.IMAGE_MAX_BYTES])
  expect(rules.CATEGORIES.map((c) => c.id)).toEqual([...contract.FEEDBACK_CATEGORIES])
  expect(Object.keys(rules.STATUS_LABELS)).toEqual([...contract.FEEDBACK_STATUSES])
})

test('fill the form, pick screenshots, submit: the feedback is stored with its context and the files exist', async () => {
  const d = device()
  const m = await mount(FORM, d, { from: 'packages/guide/detail/index' })
  expect(m.text()).toContain('功能建议')
  await m.tap(byText(m, 'chip', '使用问题')!)
  expect(m.page.data.category).toBe('bug')
  await fill(m, d, '收藏按钮点了没反应 😀', [shot(50_000), shot(80_000)])
  expect(m.page.data.count).toBe(11)
  expect(m.find('shot__image')).toHaveLength(2)
  expect(d.compressed.map((c) => c.quality)).toEqual([80, 80])
  // Remove one, add another.
  await m.tap(m.find('shot__remove')[0]!)
  expect(m.find('shot__image')).toHaveLength(1)
  await fill(m, d, '收藏按钮点了没反应 😀', [shot(60_000)])
  expect(m.find('shot__image')).toHaveLength(2)

  await m.tap(button(m, '提交'))
  await m.waitFor(() => m.page.data.done, 'the thank-you state')
  expect(m.text()).toContain('感谢你的反馈')
  // The reply notification is offered with the shared subscribe button; a tap asks for feedback_reply.
  await m.waitFor(() => m.text().includes('有回复时通知我'), 'the subscribe offer')
  await m.tap(button(m, '有回复时通知我'))
  await m.waitFor(() => d.fake.log.toasts.some((t) => t.title === '有回复时会通知你'), 'the subscribed toast')
  expect(d.subscribeAsked).toEqual([['tmpl-reply']])
  expect(d.uploaded).toHaveLength(2)
  const openid = d.fake.storage.get(OPENID_KEY) as string
  for (const id of d.uploaded) expect(id).toContain(`/feedback/${openid}/`)
  expect(await existing(d.uploaded)).toEqual(d.uploaded)
  const stored = (await inbox()).items.find((i) => i.openid === openid)
  expect(stored).toMatchObject({
    category: 'bug',
    text: '收藏按钮点了没反应 😀',
    status: 'open',
    context: { page: 'packages/guide/detail/index', sdkVersion: '3.7.0', model: 'iPhone 13', platform: 'devtools' },
  })
  // Uploads finish in any order; the feedback keeps the screenshots in the order they were picked.
  expect(stored!.images.map((i) => i.fileId).sort()).toEqual([...d.uploaded].sort())
  expect(stored!.images.map((i) => i.fileId.replace(/^.*-(\d)-[a-z0-9]+\.jpg$/, '$1'))).toEqual(['0', '1'])
  // The built-in channels are the platform's own buttons (on the form, before submitting).
})

test('a flagged text shows the explanation, stores nothing and leaves no files', async () => {
  const d = device()
  const m = await mount(FORM, d)
  await fill(m, d, '这里可以代开发票', [shot(30_000)])
  await m.tap(button(m, '提交'))
  await m.waitFor(() => m.page.data.errorText !== '' && !m.page.data.submitting, 'the refusal')
  expect(m.text()).toContain('内容未通过安全检查，请修改后再提交。')
  expect(m.page.data.done).toBe(false)
  expect(d.uploaded).toHaveLength(1)
  expect(await existing(d.uploaded)).toEqual([])
  const openid = d.fake.storage.get(OPENID_KEY) as string
  expect((await inbox()).items.filter((i) => i.openid === openid)).toEqual([])
})

test('a screenshot over 1 MB after compression is refused on the device and never uploaded', async () => {
  const d = device()
  const m = await mount(FORM, d)
  await fill(m, d, '图片太大', [shot(1024 * 1024 + 10)])
  expect(m.text()).toContain('有 1 张截图压缩后仍超过 1 MB，请裁剪后再试')
  expect(m.page.data.images).toEqual([])
  expect(d.uploaded).toEqual([])
})

test('empty text is explained before anything is uploaded; the built-in channels are offered', async () => {
  const d = device()
  const m = await mount(FORM, d)
  d.picks.push(shot(1000))
  await m.tap(m.find('shot--add')[0]!)
  await m.waitFor(() => m.page.data.images.length === 1, 'the screenshot')
  await m.tap(button(m, '提交'))
  expect(m.text()).toContain('请写下你的问题或建议')
  expect(d.uploaded).toEqual([])
  // WeChat's own channels, as links (native buttons: their open-type needs one); one word for feedback.
  const channels = m.find('link').map((el) => [el.tagName.toLowerCase(), el.textContent?.trim(), nativeAttr(el, 'openType')])
  expect(channels).toEqual([
    ['wx-button', '联系客服', 'contact'],
    ['wx-button', '通过微信反馈', 'feedback'],
  ])
  expect(m.text()).not.toMatch(/意见反馈|反馈与建议|投诉与反馈|问题反馈/)
})

test('my feedback shows the status and the admin reply; the inbox filters, replies (message sent) and closes', async () => {
  const user = newOpenid()
  for (const [category, text] of [['bug', '详情页打不开'], ['suggestion', '希望支持深色模式']] as const) {
    const r = await callFunction(cloud.url, 'feedback', 'submit', { category, text, context: { page: 'pages/home/index', appVersion: '', sdkVersion: '3.7.0', model: 'iPhone 13', platform: 'ios' } }, user)
    expect(r.ok).toBe(true)
  }
  await adminRequest(cloud.url, {
    action: 'database.insertDocument',
    collectionName: 'subscriptions',
    data: [JSON.stringify({ _id: `${user}:feedback_reply`, openid: user, template: 'feedback_reply', quota: 1, updatedAt: { $date: new Date().toISOString() } })],
  })

  // The admin's inbox: open items first; filter by category.
  const a = device(ADMIN)
  const box = await mount(INBOX, a)
  await box.waitFor(() => box.page.data.status === 'ready', 'the inbox')
  expect(box.text()).toContain('详情页打不开')
  // Two kinds of filter, two looks: status as segments, category as chips.
  expect(box.find('segment').map((el) => el.textContent?.trim())).toEqual(['全部', '待处理', '已回复', '已关闭'])
  expect(box.find('chip').map((el) => el.textContent?.trim())).toEqual(['全部类型', '功能建议', '使用问题', '内容纠错', '其他'])
  await box.tap(byText(box, 'chip', '功能建议')!)
  await box.waitFor(() => box.page.data.status !== 'loading', 'the filtered inbox')
  expect(box.text()).toContain('希望支持深色模式')
  expect(box.text()).not.toContain('详情页打不开')
  await box.tap(byText(box, 'chip', '使用问题')!)
  await box.waitFor(() => box.page.data.status === 'ready' && box.text().includes('详情页打不开'), 'the bug filter')
  // Where it came from, in words: the page's name, not its route.
  expect(box.text()).toContain('来自首页 · 开发版 · 基础库 3.7.0 · iPhone 13 · iOS')

  // Reply: the message goes out and the user sees the reply.
  await box.tap(button(box, '回复'))
  await typeInto(textarea(box), '已修复，更新后再试试')
  await box.tap(button(box, '发送回复'))
  await box.waitFor(() => a.fake.log.toasts.length > 0, 'the reply toast')
  expect(a.fake.log.toasts[0]!.title).toBe('已回复，并已通知用户')
  const outbox = await adminRequest(cloud.url, { action: 'database.getDocument', collectionName: '_outbox', query: JSON.stringify({ touser: user }), limit: 10 })
  expect((outbox.body as { data: { list: string[] } }).data.list).toHaveLength(1)

  // Close it: the card says so, and the closed filter finds it.
  await box.tap(button(box, '关闭'))
  await box.waitFor(() => a.fake.log.toasts.length > 1, 'the close toast')
  expect(a.fake.log.toasts[1]!.title).toBe('已关闭')
  expect(box.text()).toContain('已关闭')
  const closed = await inbox({ status: 'closed', category: 'bug' })
  expect(closed.items.map((i) => i.text)).toContain('详情页打不开')

  // The user's list (mounted last: mounting points the global wx at the new device).
  const mine = await mount(MINE, device(user))
  await mine.waitFor(() => mine.page.data.status === 'ready', 'my feedback')
  expect(mine.page.data.items.map((i: { text: string; statusLabel: string }) => [i.text, i.statusLabel])).toEqual([
    ['希望支持深色模式', '待处理'],
    ['详情页打不开', '已关闭'],
  ])
  expect(mine.text()).toContain('官方回复：已修复，更新后再试试')
})

test('a non-admin gets the no-access state in the inbox', async () => {
  const m = await mount(INBOX, device())
  await m.waitFor(() => m.page.data.status === 'forbidden', 'the no-access state')
  expect(m.text()).toContain('只有管理员可以处理反馈')
  expect(m.find('card')).toHaveLength(0)
})

test('the 反馈 line opens the form with the route of its page; every page outside feedback and Me (which has its own entry) ends with it', async () => {
  const d = device()
  const m = await mount('components/feedback-entry/index', d, { page: 'packages/guide/detail/index' })
  expect(m.text()).toBe('遇到问题或有想法？去反馈')
  await m.tap(m.find('feedback-entry__link')[0]!)
  expect(d.fake.log.navigateTo).toEqual(['/packages/feedback/form/index?from=packages%2Fguide%2Fdetail%2Findex'])

  const form = await mount(FORM, device(), { from: encodeURIComponent('packages/guide/detail/index') })
  expect(form.page.data.from).toBe('packages/guide/detail/index')

  const app = JSON.parse(readFileSync(path.join(MP_ROOT, 'app.json'), 'utf8')) as { pages: string[]; subpackages: { root: string; pages: string[] }[] }
  const routes = [...app.pages, ...app.subpackages.flatMap((s) => s.pages.map((p) => `${s.root}/${p}`))].filter((r) => !r.startsWith('packages/feedback/') && r !== 'packages/me/index')
  for (const route of routes) {
    const json = JSON.parse(readFileSync(path.join(MP_ROOT, `${route}.json`), 'utf8')) as { usingComponents?: Record<string, string> }
    expect([route, json.usingComponents?.['feedback-entry']]).toEqual([route, '/components/feedback-entry/index'])
    // The last thing inside the page's root, in its flow: it covers nothing.
    const wxml = readFileSync(path.join(MP_ROOT, `${route}.wxml`), 'utf8')
    const rootEnd = wxml.lastIndexOf('\n</view>')
    expect([route, wxml.slice(0, rootEnd).trimEnd().endsWith(`<feedback-entry page="${route}" />`)]).toEqual([route, true])
  }
  expect(readFileSync(path.join(MP_ROOT, 'components/feedback-entry/index.wxss'), 'utf8')).not.toContain('position: fixed')
})
