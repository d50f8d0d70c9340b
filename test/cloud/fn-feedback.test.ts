/**
 * The `feedback` function through the gateway, against a real local cloud: screenshots uploaded
 * through the local cloud's device upload route, submit with every kind of bad input (each refused
 * with a typed error, leaving no document and no file), the hourly limit, my feedback, and the
 * admin inbox with replies that send a subscription message when the user has quota.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import type { FeedbackOutputs } from '../../cloudfunctions/feedback/api'
import { callAction, callGateway, startCloud, type TestCloud } from '../helpers/local-cloud'
import { type RiggedFunctions, riggedFunctions } from '../helpers/rigged-functions'

const ADMIN = 'o-feedback-admin'
const USER = 'o-feedback-user'
const CONTEXT = { page: 'packages/guide/detail/index', appVersion: '1.2.0', sdkVersion: '3.7.0', model: 'iPhone 13', platform: 'ios' }

let t: TestCloud

beforeAll(async () => {
  t = await startCloud()
  t.cloud.store.insert('app_config', [
    { _id: 'admins', openids: [ADMIN] },
    { _id: 'templates', ids: { feedback_reply: 'tmpl-feedback-reply' } },
  ])
})
afterAll(() => t.stop())

/** Every file in the cloud's storage, as cloud paths. */
function storedFiles(): string[] {
  const root = t.cloud.storage.root
  const walk = (dir: string): string[] =>
    existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(path.join(dir, d.name)) : [path.relative(root, path.join(dir, d.name))])) : []
  return walk(root).sort()
}

let uploads = 0
/** Uploads bytes the way a device does in local mode (wx.uploadFile to /storage/client-upload). */
async function upload(openid: string, bytes = 2048, cloudPath = `feedback/${openid}/${Date.now()}-${uploads++}.jpg`): Promise<string> {
  const form = new FormData()
  form.append('cloudPath', cloudPath)
  form.append('file', new Blob([Buffer.alloc(bytes, 7)], { type: 'image/jpeg' }), 'shot.jpg')
  const res = await fetch(`${t.url}/storage/client-upload`, { method: 'POST', body: form, headers: { 'x-wx-openid': openid } })
  const body = (await res.json()) as { fileID?: string; error?: unknown }
  if (res.status !== 200 || !body.fileID) throw new Error(`upload failed: ${res.status} ${JSON.stringify(body)}`)
  return body.fileID
}

function submit(data: Record<string, unknown>, openid = USER) {
  return callAction<FeedbackOutputs['submit']>(t.url, 'feedback', 'submit', { category: 'bug', text: '保存按钮没反应', context: CONTEXT, ...data }, openid)
}

const docs = (openid?: string) => t.cloud.store.count('feedback', openid ? { openid } : {})

/** Each test starts with no feedback and no files, so "nothing left behind" is exact. */
beforeEach(() => {
  t.cloud.store.remove('feedback', {}, true)
  t.cloud.store.remove('rate_limits', {}, true)
  rmSync(t.cloud.storage.root, { recursive: true, force: true })
})

const find = (collection: string, query: Record<string, unknown> = {}) => t.cloud.store.find(collection, { query, limit: 1000 })

describe('device uploads (local cloud route)', () => {
  test('stores the file under its cloud path and answers a cloud:// file ID', async () => {
    const fileId = await upload('o-uploader', 1234, 'feedback/o-uploader/a.jpg')
    expect(fileId).toBe(`cloud://${t.cloud.env}.${t.cloud.env}-local-bucket/feedback/o-uploader/a.jpg`)
    expect(storedFiles()).toContain(path.join('feedback', 'o-uploader', 'a.jpg'))
    t.cloud.storage.remove('feedback/o-uploader/a.jpg')
  })

  test('an upload without a caller or with a bad path is refused and stores nothing', async () => {
    const before = storedFiles()
    const form = new FormData()
    form.append('cloudPath', 'feedback/x/b.jpg')
    form.append('file', new Blob([Buffer.alloc(10)]), 'b.jpg')
    const anonymous = await fetch(`${t.url}/storage/client-upload`, { method: 'POST', body: form })
    expect(anonymous.status).toBe(401)
    await expect(upload('o-uploader', 10, '../escape.jpg')).rejects.toThrow(/400/)
    expect(storedFiles()).toEqual(before)
  })
})

describe('submit', () => {
  test('stores the feedback with its screenshots, the device context and the caller from the platform', async () => {
    const images = [await upload(USER), await upload(USER, 1024 * 1024)]
    const reply = await submit({ category: 'suggestion', text: '  希望能支持夜间模式 😀  ', images, contact: ' wx: abc ', openid: 'o-forged' } as never)
    // openid is not part of the input: the strict schema refuses it, and the uploads are gone.
    expect(reply).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
    expect(storedFiles()).toEqual([])

    const again = [await upload(USER), await upload(USER, 1024 * 1024)]
    const ok = await submit({ category: 'suggestion', text: '  希望能支持夜间模式 😀  ', images: again, contact: ' wx: abc ' })
    if (!ok.ok) throw new Error(JSON.stringify(ok.error))
    const [doc] = find('feedback')
    expect(doc).toMatchObject({
      _id: ok.data.id,
      openid: USER,
      category: 'suggestion',
      text: '希望能支持夜间模式 😀',
      images: again,
      contact: 'wx: abc',
      context: CONTEXT,
      status: 'open',
    })
    expect(doc!.createdAt).toBeInstanceOf(Date)
    expect(storedFiles()).toHaveLength(2)
    // The content check saw the text (and the contact) with the caller's openid.
    const call = t.cloud.ledger.recentInvocations(1, 'feedback')[0]!
    expect(call.openapi).toEqual({ 'security.msgSecCheck': 1 })
    expect(call.openid).toBe(USER)
    // The cost of a submit: the hourly slot and the insert (storage: one temp-URL call for the sizes).
    // The user's first: the slot's conditional update finds no limit document and creates it.
    expect([call.dbTotal, call.db]).toEqual([3, { modifyDocument: 1, insertDocument: 2 }])
    expect(call.storage).toEqual({ batchGetDownloadUrl: 1 })
    // From then on: one conditional update and the insert.
    expect((await submit({ text: '第二条' })).ok).toBe(true)
    expect(t.cloud.ledger.recentInvocations(1, 'feedback')[0]!.db).toEqual({ modifyDocument: 1, insertDocument: 1 })
  })

  test('a text of exactly 500 characters (emoji counted once) is accepted', async () => {
    const text = '😀'.repeat(500)
    const reply = await submit({ text })
    expect(reply.ok).toBe(true)
    expect(find('feedback')[0]).toMatchObject({ text })
  })

  type Case = [string, () => Promise<Record<string, unknown>>, string, RegExp]
  const refusals: Case[] = [
    ['an empty text', async () => ({ text: '   ', images: [await upload(USER)] }), 'INVALID_INPUT', /./],
    ['a text over 500 characters', async () => ({ text: '长'.repeat(501), images: [await upload(USER)] }), 'INVALID_INPUT', /./],
    ['an unknown category', async () => ({ category: 'praise', images: [await upload(USER)] }), 'INVALID_INPUT', /./],
    ['more than 3 images', async () => ({ images: [await upload(USER), await upload(USER), await upload(USER), await upload(USER)] }), 'INVALID_INPUT', /./],
    ['a contact over 50 characters', async () => ({ contact: 'x'.repeat(51), images: [await upload(USER)] }), 'INVALID_INPUT', /./],
    ['a missing context', async () => ({ context: undefined, images: [await upload(USER)] }), 'INVALID_INPUT', /./],
    ['an image over 1 MB', async () => ({ images: [await upload(USER), await upload(USER, 1024 * 1024 + 1)] }), 'INVALID_INPUT', /1 MB/],
    ['an image that does not exist', async () => ({ images: [await upload(USER), `cloud://${t.cloud.env}.${t.cloud.env}-local-bucket/feedback/${USER}/missing.jpg`] }), 'INVALID_INPUT', /没有上传成功/],
    ['the same image twice', async () => {
      const id = await upload(USER)
      return { images: [id, id] }
    }, 'INVALID_INPUT', /./],
    ['a text flagged by the content check', async () => ({ text: '这里有代开发票服务', images: [await upload(USER)] }), 'CONTENT_REJECTED', /安全检查/],
    ['a contact flagged by the content check', async () => ({ contact: '加微信领红包', images: [await upload(USER)] }), 'CONTENT_REJECTED', /安全检查/],
  ]

  test.each(refusals)('%s is refused, and neither a document nor a file is left', async (_name, make, code, message) => {
    const data = await make()
    expect(storedFiles().length).toBeGreaterThan(0)
    const reply = await submit(data)
    expect(reply).toMatchObject({ ok: false, error: { code } })
    if (!reply.ok) expect(reply.error.message).toMatch(message)
    expect(docs()).toBe(0)
    expect(storedFiles()).toEqual([])
  })

  test("another user's file is refused and left alone; the caller's own upload is removed", async () => {
    const theirs = await upload('o-someone-else')
    const mine = await upload(USER)
    const reply = await submit({ images: [mine, theirs] })
    expect(reply).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', message: expect.stringMatching(/不是你上传的/) } })
    expect(docs()).toBe(0)
    expect(storedFiles()).toEqual([path.join('feedback', 'o-someone-else', path.basename(theirs))])
    t.cloud.storage.remove(`feedback/o-someone-else/${path.basename(theirs)}`)
  })

  test('a refused call naming a screenshot of stored feedback does not delete it', async () => {
    const kept = await upload(USER)
    expect((await submit({ images: [kept] })).ok).toBe(true)
    const reply = await submit({ text: '', images: [kept] })
    expect(reply).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
    expect(storedFiles()).toHaveLength(1)
  })

  test('the 6th submission within an hour is RATE_LIMITED and its uploads are removed', async () => {
    for (let i = 0; i < 5; i++) expect((await submit({ text: `第 ${i} 条` }, 'o-chatty')).ok).toBe(true)
    const image = await upload('o-chatty')
    const reply = await submit({ text: '第 6 条', images: [image] }, 'o-chatty')
    expect(reply).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED', message: expect.stringMatching(/频繁/) } })
    expect(docs('o-chatty')).toBe(5)
    expect(storedFiles()).toEqual([])
    // Other users are not limited by it.
    expect((await submit({ text: '别人的反馈' })).ok).toBe(true)
    // An hour after the oldest of the 5, the user may send one again (a rolling hour, not a clock hour).
    const limit = t.cloud.store.find('rate_limits', { query: { _id: 'feedback:o-chatty' } })[0] as { recent: { at: Date; token: string }[] }
    expect(limit.recent).toHaveLength(5)
    const recent = limit.recent.map((r, i) => ({ ...r, at: i === 4 ? new Date(Date.now() - 3601_000) : r.at }))
    t.cloud.store.modify('rate_limits', { query: { _id: 'feedback:o-chatty' }, data: { $set: { recent } }, multi: false, merge: true, upsert: false })
    expect((await submit({ text: '一小时后' }, 'o-chatty')).ok).toBe(true)
    expect(await submit({ text: '又一条' }, 'o-chatty')).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } })
    // The new slot went in front and the expired one fell off the end.
    const after = (t.cloud.store.find('rate_limits', { query: { _id: 'feedback:o-chatty' } })[0] as typeof limit).recent
    expect(after.map((r) => r.token)).toEqual([expect.any(String), ...limit.recent.slice(0, 4).map((r) => r.token)])
  })

  test('12 submissions at the same instant by one user: exactly 5 are stored, 7 are RATE_LIMITED', async () => {
    const replies = await Promise.all(Array.from({ length: 12 }, (_, i) => submit({ text: `同时第 ${i} 条` }, 'o-burst')))
    expect(replies.filter((r) => r.ok)).toHaveLength(5)
    expect(replies.filter((r) => !r.ok).map((r) => !r.ok && r.error.code)).toEqual(Array(7).fill('RATE_LIMITED'))
    expect(docs('o-burst')).toBe(5)
  })

  test('refused submissions do not count against the limit', async () => {
    for (let i = 0; i < 5; i++) expect(await submit({ text: '这里有代开发票服务' }, 'o-retry')).toMatchObject({ ok: false, error: { code: 'CONTENT_REJECTED' } })
    for (let i = 0; i < 5; i++) expect((await submit({ text: `改好的第 ${i} 条` }, 'o-retry')).ok).toBe(true)
    expect(await submit({ text: '第 6 条' }, 'o-retry')).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } })
    expect(docs('o-retry')).toBe(5)
  })

  test('without a caller the call is UNAUTHENTICATED', async () => {
    const reply = await callAction(t.url, 'feedback', 'submit', { category: 'bug', text: 'x', context: CONTEXT })
    expect(reply).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } })
  })
})

describe('discard', () => {
  test("deletes the caller's loose uploads only", async () => {
    const used = await upload(USER)
    expect((await submit({ images: [used] })).ok).toBe(true)
    const loose = await upload(USER)
    const theirs = await upload('o-other')
    const reply = await callAction<FeedbackOutputs['discard']>(t.url, 'feedback', 'discard', { images: [used, loose, theirs] }, USER)
    expect(reply).toEqual({ ok: true, data: { deleted: 1 } })
    expect(storedFiles()).toEqual([path.join('feedback', USER, path.basename(used)), path.join('feedback', 'o-other', path.basename(theirs))].sort())
    t.cloud.storage.remove(`feedback/o-other/${path.basename(theirs)}`)
  })
})

describe('mine, inbox, reply, close, stats', () => {
  async function seed(): Promise<{ bug: string; idea: string }> {
    const image = await upload(USER)
    const bug = await submit({ category: 'bug', text: '详情页图片加载不出来，一直转圈', images: [image] })
    const idea = await submit({ category: 'suggestion', text: '希望增加收藏功能' })
    await submit({ category: 'other', text: '别人的反馈' }, 'o-second')
    if (!bug.ok || !idea.ok) throw new Error('seed failed')
    return { bug: bug.data.id, idea: idea.data.id }
  }
  const outbox = () => find('_outbox', { touser: USER })
  const setQuota = (quota: number) =>
    t.cloud.store.remove('subscriptions', {}, true) +
    t.cloud.store.insert('subscriptions', [{ _id: `${USER}:feedback_reply`, openid: USER, template: 'feedback_reply', quota, updatedAt: new Date() }]).length

  test('mine lists only the caller’s feedback, newest first, with image URLs that work', async () => {
    const { bug, idea } = await seed()
    const reply = await callAction<FeedbackOutputs['mine']>(t.url, 'feedback', 'mine', {}, USER)
    if (!reply.ok) throw new Error(JSON.stringify(reply.error))
    expect(reply.data.items.map((i) => i.id)).toEqual([idea, bug])
    expect(reply.data.nextCursor).toBeNull()
    const withImage = reply.data.items[1]!
    expect(withImage).toMatchObject({ category: 'bug', status: 'open', images: [{ fileId: expect.stringMatching(/^cloud:\/\//) }] })
    expect((await fetch(withImage.images[0]!.url)).status).toBe(200)
    expect(withImage).not.toHaveProperty('openid')
  })

  test('admin actions are FORBIDDEN to other users and change nothing', async () => {
    const { bug } = await seed()
    for (const [action, data] of [['inbox', {}], ['reply', { id: bug, text: '好的' }], ['close', { id: bug }], ['stats', {}]] as const) {
      expect(await callAction(t.url, 'feedback', action, data, USER)).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
    }
    expect(find('feedback', { _id: bug })[0]).toMatchObject({ status: 'open' })
    expect(find('feedback', { _id: bug })[0]).not.toHaveProperty('reply')
  })

  test('inbox filters by status and category and pages with a cursor', async () => {
    const { bug, idea } = await seed()
    const all = await callAction<FeedbackOutputs['inbox']>(t.url, 'feedback', 'inbox', {}, ADMIN)
    if (!all.ok) throw new Error(JSON.stringify(all.error))
    expect(all.data.items).toHaveLength(3)
    expect(all.data.items.find((i) => i.id === bug)).toMatchObject({ openid: USER, context: CONTEXT })
    const bugs = await callAction<FeedbackOutputs['inbox']>(t.url, 'feedback', 'inbox', { category: 'bug' }, ADMIN)
    expect(bugs.ok && bugs.data.items.map((i) => i.id)).toEqual([bug])
    await callAction(t.url, 'feedback', 'close', { id: idea }, ADMIN)
    const closed = await callAction<FeedbackOutputs['inbox']>(t.url, 'feedback', 'inbox', { status: 'closed' }, ADMIN)
    expect(closed.ok && closed.data.items.map((i) => i.id)).toEqual([idea])
    const open = await callAction<FeedbackOutputs['inbox']>(t.url, 'feedback', 'inbox', { status: 'open', category: 'suggestion' }, ADMIN)
    expect(open.ok && open.data.items).toEqual([])
    // 25 more: two pages, no item twice.
    for (let i = 0; i < 25; i++) t.cloud.store.insert('feedback', [{ openid: 'o-many', category: 'other', text: `#${i}`, images: [], context: CONTEXT, status: 'open', createdAt: new Date(Date.now() - 1000 * i), updatedAt: new Date() }])
    const first = await callAction<FeedbackOutputs['inbox']>(t.url, 'feedback', 'inbox', {}, ADMIN)
    if (!first.ok || !first.data.nextCursor) throw new Error('expected a second page')
    const second = await callAction<FeedbackOutputs['inbox']>(t.url, 'feedback', 'inbox', { cursor: first.data.nextCursor }, ADMIN)
    if (!second.ok) throw new Error(JSON.stringify(second.error))
    const ids = [...first.data.items, ...second.data.items].map((i) => i.id)
    expect(ids).toHaveLength(28)
    expect(new Set(ids).size).toBe(28)
    expect(await callAction(t.url, 'feedback', 'inbox', { cursor: 'not-a-cursor' }, ADMIN)).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
  })

  test('a reply with quota is stored, sends the subscription message and spends the quota; a second reply sends none', async () => {
    const { bug } = await seed()
    setQuota(1)
    const reply = await callAction<FeedbackOutputs['reply']>(t.url, 'feedback', 'reply', { id: bug, text: '已修复，请更新到最新版本后再试试。感谢反馈！' }, ADMIN)
    expect(reply).toEqual({ ok: true, data: { id: bug, status: 'replied', notify: 'sent' } })
    const cost = t.cloud.ledger.recentInvocations(1, 'feedback')[0]!
    // feedback read, admin check, template ids, quota, message log reserve + result, feedback update.
    expect([cost.dbTotal, cost.db]).toEqual([7, { getDocument: 3, modifyDocument: 3, insertDocument: 1 }])
    expect(find('feedback', { _id: bug })[0]).toMatchObject({ status: 'replied', reply: { text: '已修复，请更新到最新版本后再试试。感谢反馈！', by: ADMIN, notify: 'sent' } })
    expect(find('subscriptions', { _id: `${USER}:feedback_reply` })[0]).toMatchObject({ quota: 0 })
    const [message] = outbox()
    expect(message).toMatchObject({
      templateId: 'tmpl-feedback-reply',
      page: expect.stringMatching(new RegExp(`^packages/feedback/mine/index\\?id=${bug}&msg=`)),
      data: { thing1: { value: '详情页图片加载不出来，一直转圈' }, thing2: { value: "已修复，请更新到最新版本后再试试。感谢…" }, phrase3: { value: '已回复' } },
    })
    // The user sees the reply in their list.
    const mine = await callAction<FeedbackOutputs['mine']>(t.url, 'feedback', 'mine', {}, USER)
    expect(mine.ok && mine.data.items.find((i) => i.id === bug)).toMatchObject({ status: 'replied', reply: { text: '已修复，请更新到最新版本后再试试。感谢反馈！', notify: 'sent' } })
    // Answering again (with quota) replaces the reply but notifies once per feedback.
    setQuota(1)
    const again = await callAction<FeedbackOutputs['reply']>(t.url, 'feedback', 'reply', { id: bug, text: '补充：新版本已发布。' }, ADMIN)
    expect(again).toMatchObject({ ok: true, data: { notify: 'duplicate' } })
    expect(outbox()).toHaveLength(1)
    expect(find('subscriptions', { _id: `${USER}:feedback_reply` })[0]).toMatchObject({ quota: 1 })
  })

  test('a reply without quota is stored with outcome no_quota and sends nothing', async () => {
    const { idea } = await seed()
    t.cloud.store.remove('subscriptions', {}, true)
    t.cloud.store.remove('_outbox', {}, true)
    const reply = await callAction<FeedbackOutputs['reply']>(t.url, 'feedback', 'reply', { id: idea, text: '已记录，会在下个版本考虑。' }, ADMIN)
    expect(reply).toEqual({ ok: true, data: { id: idea, status: 'replied', notify: 'no_quota' } })
    expect(find('feedback', { _id: idea })[0]).toMatchObject({ status: 'replied', reply: { notify: 'no_quota' } })
    expect(outbox()).toEqual([])
  })

  test('reply and close of an unknown id are NOT_FOUND; an empty reply is INVALID_INPUT', async () => {
    const { bug } = await seed()
    expect(await callAction(t.url, 'feedback', 'reply', { id: 'nope', text: '好' }, ADMIN)).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } })
    expect(await callAction(t.url, 'feedback', 'close', { id: 'nope' }, ADMIN)).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } })
    expect(await callAction(t.url, 'feedback', 'reply', { id: bug, text: '  ' }, ADMIN)).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
    expect(find('feedback', { _id: bug })[0]).toMatchObject({ status: 'open' })
  })

  test('close marks the feedback closed (twice is fine); stats count by status and category', async () => {
    const { bug } = await seed()
    expect(await callAction(t.url, 'feedback', 'close', { id: bug }, ADMIN)).toEqual({ ok: true, data: { id: bug, status: 'closed' } })
    expect(await callAction(t.url, 'feedback', 'close', { id: bug }, ADMIN)).toEqual({ ok: true, data: { id: bug, status: 'closed' } })
    expect(find('feedback', { _id: bug })[0]).toMatchObject({ status: 'closed', closedBy: ADMIN })
    const stats = await callAction<FeedbackOutputs['stats']>(t.url, 'feedback', 'stats', {}, ADMIN)
    expect(stats).toEqual({
      ok: true,
      data: { total: 3, byStatus: { open: 2, replied: 0, closed: 1 }, byCategory: { suggestion: 1, bug: 1, content: 0, other: 1 } },
    })
  })
})

describe('a submission that dies between its hourly slot and the insert', () => {
  // The real feedback bundle with a movable clock, and a fault: for o-crashy, the worker dies the
  // moment it sends the insert of a text containing "crash-me" (after the slot and every check).
  let rig: RiggedFunctions
  let r: TestCloud
  const CRASHY = 'o-crashy'
  const T0 = '2031-05-01T10:00:00.000Z'
  const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString()
  beforeAll(async () => {
    rig = riggedFunctions(['feedback'], {
      preload: ['clock', 'failpoint'],
      env: { TEST_FAILPOINTS: JSON.stringify([{ openid: CRASHY, match: '^(?=[\\s\\S]*database\\.insertDocument)(?=[\\s\\S]*crash-me)', mode: 'crash' }]) },
    })
    r = await startCloud({ functionsDir: rig.dir })
  })
  afterAll(async () => {
    await r?.stop()
    rig?.remove()
  })

  const send = (text: string) => callGateway<{ result?: { ok: boolean; error?: { code: string } } }>(r.url, 'feedback', { action: 'submit', data: { category: 'bug', text, context: CONTEXT } }, { openid: CRASHY })
  const stored = () => r.cloud.store.count('feedback', { openid: CRASHY })

  test('holds its slot only while the call could still be running: afterwards the user may send 5 again, not 6', async () => {
    rig.setClock(T0)
    for (let i = 0; i < 5; i++) {
      const crashed = await send(`crash-me ${i}`)
      expect(crashed.status).toBe(502)
    }
    expect(stored()).toBe(0)
    // 30 s later the calls could in principle still be running: their slots count.
    rig.setClock(at(30))
    expect((await send('半分钟后')).body.result).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } })
    // Two minutes later (well within the hour) they never stored anything: they no longer count.
    rig.setClock(at(120))
    for (let i = 0; i < 5; i++) expect([i, (await send(`两分钟后第 ${i} 条`)).body.result?.ok]).toEqual([i, true])
    expect((await send('第 6 条')).body.result).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } })
    expect(stored()).toBe(5)
    // Stored submissions keep their slots for the whole hour, dead reservations or not.
    rig.setClock(at(1800))
    expect((await send('半小时后')).body.result).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } })
    rig.setClock(at(3600 + 121))
    expect((await send('一小时后')).body.result?.ok).toBe(true)
  }, 60_000)

  test('the stored feedback carries its slot: its _id is the slot token', async () => {
    const limit = r.cloud.store.find('rate_limits', { query: { _id: `feedback:${CRASHY}` } })[0] as { recent: { token: string }[] }
    const ids = new Set((r.cloud.store.find('feedback', { query: { openid: CRASHY }, limit: 100 }) as { _id: string }[]).map((d) => d._id))
    expect(limit.recent.length).toBeGreaterThan(0)
    expect(limit.recent.every((e) => ids.has(e.token))).toBe(true)
  })
})
