/**
 * The local console's JSON API (tools/local-cloud/console/server.ts) against a real local cloud:
 * documents read and written through the store the SDK uses (EJSON dates kept), config documents
 * checked by the functions' own schemas before saving, timers run now, the outbox rendered as a
 * service notification, export and import, and the CSRF rules (no state change on GET, JSON only,
 * same origin, loopback Host).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { callAction, startCloud, type TestCloud } from '../helpers/local-cloud'

type Json = Record<string, any>

let t: TestCloud
let scratch: string
beforeAll(async () => {
  t = await startCloud()
  // Before any call: the functions keep the template ids for 30 s.
  t.cloud.store.insert('app_config', [{ _id: 'templates', ids: { feedback_reply: 'TPL_FEEDBACK' } }])
  scratch = mkdtempSync(path.join(os.tmpdir(), 'console-api-'))
})
afterAll(async () => {
  await t.stop()
  rmSync(scratch, { recursive: true, force: true })
})

async function api(method: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${t.url}/console/api/${route}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as Json }
}

describe('database', () => {
  test('collections list every manifest collection with its count and indexes', async () => {
    t.cloud.store.insert('guides', [{ _id: 'g-1', title: '一', views: 3 }])
    const { status, body } = await api('GET', 'collections')
    expect(status).toBe(200)
    const guides = body.collections.find((c: Json) => c.name === 'guides')
    expect(guides).toMatchObject({ count: 1, inManifest: true })
    const users = body.collections.find((c: Json) => c.name === 'users')
    expect(users.indexes.length).toBeGreaterThan(0)
  })

  test('a document added with an EJSON date is stored as a Date, queried with where and order, edited and deleted', async () => {
    const added = await api('POST', 'documents/users', { doc: { _id: 'o-console-1', nickname: '小明', firstSeenAt: { $date: '2026-11-01T00:00:00.000Z' }, points: 5 } })
    expect(added.status).toBe(201)
    expect(t.cloud.store.find('users', { query: { _id: 'o-console-1' } })[0]!.firstSeenAt).toEqual(new Date('2026-11-01T00:00:00.000Z'))
    await api('POST', 'documents/users', { doc: { _id: 'o-console-2', nickname: '小红', points: 9 } })

    const found = await api('POST', 'collections/users/query', { where: { points: { $gte: 5 } }, order: { points: -1 } })
    expect(found.body.total).toBe(2)
    expect(found.body.docs.map((d: Json) => d._id)).toEqual(['o-console-2', 'o-console-1'])
    expect(found.body.docs[1].firstSeenAt).toEqual({ $date: '2026-11-01T00:00:00Z' })

    const edited = await api('PUT', 'documents/users/o-console-1', { doc: { ...found.body.docs[1], nickname: '小明明' } })
    expect(edited.status).toBe(200)
    expect(edited.body.updated).toBe(1)
    const stored = t.cloud.store.find('users', { query: { _id: 'o-console-1' } })[0]!
    expect(stored.nickname).toBe('小明明')
    expect(stored.firstSeenAt).toBeInstanceOf(Date)

    expect((await api('DELETE', 'documents/users/o-console-2', {})).body).toEqual({ deleted: 1 })
    expect(t.cloud.store.count('users', { _id: 'o-console-2' })).toBe(0)
    expect((await api('DELETE', 'documents/users/o-console-2', {})).status).toBe(404)
  })

  test('a duplicate insert fails as through the SDK (E11000) and changes nothing', async () => {
    const again = await api('POST', 'documents/guides', { doc: { _id: 'g-1', title: '二' } })
    expect(again.status).toBe(409)
    expect(again.body.error.message).toMatch(/E11000/)
    expect(t.cloud.store.find('guides', { query: { _id: 'g-1' } })[0]!.title).toBe('一')
  })

  test('an unknown collection is 404 and a bad where is 400', async () => {
    expect((await api('POST', 'collections/nope/query', {})).status).toBe(404)
    expect((await api('POST', 'collections/users/query', { where: { points: { $nope: 1 } } })).status).toBe(400)
  })
})

describe('config editors', () => {
  test('an invalid funnel is refused with the typed issue of funnelsConfigSchema, and nothing is saved', async () => {
    const bad = { _id: 'funnels', funnels: [{ id: 'f1', name: '只有一步', steps: [{ event: 'page_view', label: '首页' }] }] }
    const checked = await api('POST', 'config/app_config/validate', { doc: bad })
    expect(checked.body.valid).toBe(false)
    expect(checked.body.issues).toContainEqual({ path: 'funnels.0.steps', message: 'a funnel needs at least 2 steps' })
    const saved = await api('PUT', 'documents/app_config/funnels', { doc: bad })
    expect(saved.status).toBe(422)
    expect(saved.body.error.code).toBe('INVALID_CONFIG')
    expect(saved.body.error.issues).toContainEqual({ path: 'funnels.0.steps', message: 'a funnel needs at least 2 steps' })
    expect(t.cloud.store.count('app_config', { _id: 'funnels' })).toBe(0)
  })

  test('saving the admins document makes an openid admin for analytics.access at once', async () => {
    expect(await callAction(t.url, 'analytics', 'access', {}, 'o-new-admin')).toEqual({ ok: true, data: { admin: false } })
    const saved = await api('PUT', 'documents/app_config/admins', { doc: { openids: ['o-new-admin'] } })
    expect(saved.status).toBe(200)
    expect(saved.body.created).toBe(true)
    expect(await callAction(t.url, 'analytics', 'access', {}, 'o-new-admin')).toEqual({ ok: true, data: { admin: true } })
    const list = await api('GET', 'config')
    const admins = list.body.appConfig.find((c: Json) => c.id === 'admins')
    expect(admins).toMatchObject({ stored: true, issues: [], pickup: expect.stringContaining('at once') })
  })

  test('an experiment document is checked with configDocSchema', async () => {
    const checked = await api('POST', 'config/experiments/validate', { doc: { _id: 'Bad Key', kind: 'flag' } })
    expect(checked.body.valid).toBe(false)
    expect(checked.body.issues.map((i: Json) => i.path)).toContain('_id')
  })
})

describe('timers, invocations, messages', () => {
  test('run now fires the trigger; its invocation and last result are listed', async () => {
    const run = await api('POST', 'timers/notify/daily-reminder', {})
    expect(run.status).toBe(200)
    expect(run.body.run.outcome).toBe('ok')
    const timers = await api('GET', 'timers')
    const reminder = timers.body.timers.find((x: Json) => x.fn === 'notify' && x.name === 'daily-reminder')
    expect(reminder.last.requestId).toBe(run.body.run.requestId)
    expect(Date.parse(reminder.nextRun)).toBeGreaterThan(Date.now())
    const { body } = await api('GET', 'invocations?fn=notify')
    expect(body.invocations[0]).toMatchObject({ requestId: run.body.run.requestId, source: 'wx_trigger', outcome: 'ok' })
    expect(typeof body.invocations[0].dbTotal).toBe('number')
  })

  test('a sent subscription message is shown with its template title, field labels, page, log and quota', async () => {
    await callAction(t.url, 'notify', 'record', { outcomes: { feedback_reply: 'accept' } }, 'o-reader')
    const sent = await callAction<Json>(t.url, 'notify', 'send', {
      openid: 'o-reader',
      template: 'feedback_reply',
      data: { thing1: '小程序闪退', thing2: '已修复', phrase3: '已回复', time4: '2026-11-24 10:05' },
    }, 'o-new-admin')
    expect(sent).toMatchObject({ ok: true, data: { status: 'sent' } })
    const { body } = await api('GET', 'messages')
    const message = body.messages.find((m: Json) => m.touser === 'o-reader')
    expect(message).toMatchObject({ template: 'feedback_reply', title: '反馈处理结果通知', page: 'packages/feedback/mine/index' })
    expect(message.fields[0]).toEqual({ key: 'thing1', label: '反馈内容', value: '小程序闪退' })
    expect(message.log.status).toBe('sent')
    expect(message.quota.quota).toBe(0)
  })
})

describe('storage and data', () => {
  test('files are listed with a preview URL and deleted', async () => {
    const { writeFileSync, mkdirSync } = await import('node:fs')
    mkdirSync(path.join(t.cloud.storage.root, 'qrcodes'), { recursive: true })
    writeFileSync(path.join(t.cloud.storage.root, 'qrcodes', 'a.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]))
    const { body } = await api('GET', 'storage')
    const file = body.files.find((f: Json) => f.path === 'qrcodes/a.png')
    expect(file).toMatchObject({ folder: 'qrcodes', size: 4, contentType: 'image/png' })
    const bytes = await fetch(file.url)
    expect(bytes.status).toBe(200)
    expect((await api('DELETE', 'storage?path=qrcodes%2Fa.png', {})).body).toEqual({ deleted: 'qrcodes/a.png' })
    expect(t.cloud.storage.exists('qrcodes/a.png')).toBe(false)
  })

  test('an export never replaces a folder that is not an export', async () => {
    const { mkdirSync, writeFileSync, readFileSync } = await import('node:fs')
    const dir = path.join(scratch, 'project-folder')
    mkdirSync(dir)
    writeFileSync(path.join(dir, 'notes.md'), 'keep me')
    const refused = await api('POST', 'export', { dir })
    expect(refused.status).toBe(409)
    expect(refused.body.error.code).toBe('EXPORT_REFUSED')
    expect(readFileSync(path.join(dir, 'notes.md'), 'utf8')).toBe('keep me')
  })

  test('an export re-imported into a new local cloud has the same documents (dates too) and files', async () => {
    t.cloud.storage.ensureDir('feedback/x.txt')
    const { writeFileSync } = await import('node:fs')
    writeFileSync(t.cloud.storage.diskPath('feedback/x.txt'), 'hello')
    const dir = path.join(scratch, 'export-1')
    const exported = await api('POST', 'export', { dir })
    expect(exported.status).toBe(200)
    expect(exported.body.files).toBe(1)
    const other = await startCloud({ importDir: dir })
    try {
      for (const name of ['users', 'app_config', 'message_log', '_outbox']) {
        expect(other.cloud.store.find(name, { query: {}, limit: 1000 })).toEqual(t.cloud.store.find(name, { query: {}, limit: 1000 }))
      }
      expect(other.cloud.store.find('users', { query: { _id: 'o-console-1' } })[0]!.firstSeenAt).toBeInstanceOf(Date)
      expect(other.cloud.storage.exists('feedback/x.txt')).toBe(true)
    } finally {
      await other.stop()
    }
  })
})

describe('security', () => {
  test('a write that is not JSON is refused (415) and changes nothing', async () => {
    const res = await fetch(`${t.url}/console/api/documents/users/o-form`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: '{"doc":{}}' })
    expect(res.status).toBe(415)
    expect(t.cloud.store.count('users', { _id: 'o-form' })).toBe(0)
  })

  test('a write from another origin is refused (403) by the check every route shares', async () => {
    const res = await api('PUT', 'documents/users/o-evil', { doc: {} }, { origin: 'http://evil.example' })
    expect(res.status).toBe(403)
    expect(res.body.error.code).toBe('ORIGIN_NOT_ALLOWED')
    expect(t.cloud.store.count('users', { _id: 'o-evil' })).toBe(0)
  })

  test('a write from the console page itself is accepted', async () => {
    const res = await api('PUT', 'documents/users/o-same', { doc: { nickname: 'x' } }, { origin: t.url })
    expect(res.status).toBe(200)
  })

  test('GET never changes state: a timer or a delete over GET is not a route', async () => {
    expect((await api('GET', 'timers/notify/daily-reminder')).status).toBe(404)
    expect((await api('GET', 'documents/users/o-same')).status).toBe(404)
    expect(t.cloud.store.count('users', { _id: 'o-same' })).toBe(1)
  })

  test('a Host that is not loopback (DNS rebinding) is refused', async () => {
    const { request } = await import('node:http')
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${t.url}/console/api/collections`, { headers: { host: 'evil.example' } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.end()
    })
    expect(status).toBe(403)
  })
})
