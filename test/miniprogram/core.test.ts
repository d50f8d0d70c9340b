/**
 * The client core (miniprogram/core): the cloud client's transports, errors and retries, the typed
 * api, the storage cache, the local openid, the shared session and the display formats. Modules are
 * loaded fresh per test against a fake `wx`; calls go over real HTTP, to small servers that count
 * attempts or to a real local cloud.
 */
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { startCloudProcess, type CloudProcess } from './harness/cloud'
import { callFunction, deadUrl, hangingServer } from './harness/net'
import { createWx, type FakeWx, installCloud } from './harness/wx'

type CloudModule = typeof import('../../miniprogram/core/cloud')
type ApiModule = typeof import('../../miniprogram/core/api')
type CacheModule = typeof import('../../miniprogram/core/cache')
type SessionModule = typeof import('../../miniprogram/core/session')
type FormatModule = typeof import('../../miniprogram/core/format')

interface Core {
  fake: FakeWx
  cloud: CloudModule
  api: ApiModule['api']
  cache: CacheModule
  session: SessionModule
}

/** Fresh modules bound to a fake `wx` (its storage survives a reload when passed again). */
function load(url: string, fake: FakeWx = createWx()): Core {
  jest.resetModules()
  ;(globalThis as Record<string, unknown>).wx = fake.wx
  const cloud = require('../../miniprogram/core/cloud') as CloudModule
  cloud.configureCloud({ mode: 'local', localCloudUrl: url, retryBaseMs: 1, timeoutMs: 30_000 })
  return {
    fake,
    cloud,
    api: (require('../../miniprogram/core/api') as ApiModule).api,
    cache: require('../../miniprogram/core/cache') as CacheModule,
    session: require('../../miniprogram/core/session') as SessionModule,
  }
}

interface Hit {
  path: string
  body: any
  headers: http.IncomingHttpHeaders
  at: number
}
type Reply = { status?: number; body: unknown } | 'hang' | 'drop'

const result = (value: unknown): Reply => ({ body: { result: value, requestID: 'test' } })
const ok = (data: unknown) => result({ ok: true, data })
const fail = (code: string, message = `${code} from the function`) => result({ ok: false, error: { code, message } })

/** A gateway stand-in: answers each request with `reply(hit, index)` and records every attempt. */
async function gateway(reply: (hit: Hit, index: number) => Reply): Promise<{ url: string; hits: Hit[]; close(): Promise<void> }> {
  const hits: Hit[] = []
  const sockets = new Set<Socket>()
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const hit: Hit = { path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null'), headers: req.headers, at: Date.now() }
      hits.push(hit)
      const answer = reply(hit, hits.length - 1)
      if (answer === 'hang') return
      if (answer === 'drop') {
        req.socket.destroy()
        return
      }
      const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body)
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' })
      res.end(text)
    })
  })
  server.on('connection', (socket) => sockets.add(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resolve())
    })
  servers.push({ close })
  return { url: `http://127.0.0.1:${port}`, hits, close }
}

const servers: { close(): Promise<void> }[] = []
let cloud: CloudProcess

beforeAll(async () => {
  cloud = await startCloudProcess()
}, 90_000)
afterEach(async () => {
  jest.restoreAllMocks()
  await Promise.all(servers.splice(0).map((s) => s.close()))
})
afterAll(() => cloud?.stop())

/** The rejection of `promise`, which must reject. */
async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

describe('call()', () => {
  test('posts { action, data } to the function with the local openid and unwraps { ok, data }', async () => {
    const server = await gateway(() => ok({ items: [{ id: 'a' }], nextCursor: null }))
    const { cloud: client, fake } = load(server.url)
    await expect(client.call('content', 'list', { limit: 3 })).resolves.toEqual({ items: [{ id: 'a' }], nextCursor: null })
    expect(server.hits).toHaveLength(1)
    expect(server.hits[0]).toMatchObject({ path: '/functions/content', body: { action: 'list', data: { limit: 3 } } })
    expect(server.hits[0]!.headers['x-wx-openid']).toBe(fake.storage.get('local-cloud:openid'))
    expect(server.hits[0]!.headers['x-wx-openid']).toMatch(/^dev-[a-z0-9]{12}$/)
  })

  test('the local cloud access token from the config goes with every call and upload (none when unset)', async () => {
    const server = await gateway(() => ok({}))
    const { cloud: client, fake } = load(server.url)
    const uploads: { header?: Record<string, string> }[] = []
    Object.assign(fake.wx, { uploadFile: (options: { header?: Record<string, string>; fail?: (e: { errMsg: string }) => void }) => {
      uploads.push(options)
      options.fail?.({ errMsg: 'uploadFile:fail test' })
    } })
    const storage = require('../../miniprogram/core/storage') as typeof import('../../miniprogram/core/storage')
    await client.call('content', 'list', {})
    await storage.uploadFile('feedback/x/a.jpg', '/tmp/a.jpg').catch(() => undefined)
    client.configureCloud({ localCloudToken: 'lan-token-123' })
    await client.call('content', 'list', {})
    await storage.uploadFile('feedback/x/b.jpg', '/tmp/b.jpg').catch(() => undefined)
    expect(server.hits.map((h) => h.headers['x-local-cloud-token'])).toEqual([undefined, 'lan-token-123'])
    expect(uploads.map((u) => u.header?.['x-local-cloud-token'])).toEqual([undefined, 'lan-token-123'])
    expect(uploads.every((u) => /^dev-/.test(u.header?.['x-wx-openid'] ?? ''))).toBe(true)
    await server.close()
  })

  test("a function's typed error becomes a CloudError with its code and message, and is not retried", async () => {
    const server = await gateway(() => fail('NOT_FOUND', '这篇指南不存在或已下线。'))
    const { cloud: client } = load(server.url)
    const err = await rejection(client.call('content', 'detail', { id: 'gone' }, { retries: 3 }))
    expect(err).toBeInstanceOf(client.CloudError)
    expect(err).toMatchObject({ code: 'NOT_FOUND', message: '这篇指南不存在或已下线。', retriable: false })
    expect(server.hits).toHaveLength(1)
  })

  test.each<[string, Reply, string]>([
    ['HTTP 500', { status: 500, body: { error: { code: 'FUNCTION_ERROR', message: 'boom' } } }, 'FUNCTION_FAILED'],
    ['HTTP 504 (the function timed out)', { status: 504, body: { error: { code: 'FUNCTION_TIMEOUT', message: 'slow' } } }, 'TIMEOUT'],
    ['a dropped connection', 'drop', 'NETWORK'],
    ['no answer within timeoutMs', 'hang', 'TIMEOUT'],
    ['an INTERNAL error from the function', fail('INTERNAL'), 'INTERNAL'],
  ])('%s is retried `retries` times, then thrown', async (_what, reply, code) => {
    const server = await gateway(() => reply)
    const { cloud: client } = load(server.url)
    const err = await rejection(client.call('content', 'categories', {}, { retries: 2, timeoutMs: 150 }))
    expect(err).toMatchObject({ code, retriable: true })
    expect(server.hits).toHaveLength(3)
  })

  test('a retriable failure followed by success returns the data', async () => {
    const server = await gateway((_hit, i) => (i < 2 ? { status: 500, body: {} } : ok({ items: [] })))
    const { cloud: client } = load(server.url)
    await expect(client.call('content', 'categories', {}, { retries: 2 })).resolves.toEqual({ items: [] })
    expect(server.hits).toHaveLength(3)
  })

  test('`retries: 0` and no options mean exactly one attempt', async () => {
    const server = await gateway(() => ({ status: 500, body: {} }))
    const { cloud: client } = load(server.url)
    expect(await rejection(client.call('content', 'categories', {}, { retries: 0 }))).toMatchObject({ code: 'FUNCTION_FAILED' })
    expect(server.hits).toHaveLength(1)
    expect(await rejection(client.call('content', 'categories', {}))).toMatchObject({ code: 'FUNCTION_FAILED' })
    expect(server.hits).toHaveLength(2)
  })

  test.each<[string, Reply, string]>([
    ['HTTP 400', { status: 400, body: { error: { code: 'INVALID_EVENT', message: 'bad event' } } }, 'FUNCTION_FAILED'],
    ['a result that is not a Result', result('nope'), 'BAD_RESPONSE'],
    ['a failure without its error', result({ ok: false }), 'BAD_RESPONSE'],
    ['a 200 that is not the gateway\'s reply', { body: 'hello' }, 'FUNCTION_FAILED'],
  ])('%s is not retried', async (_what, reply, code) => {
    const server = await gateway(() => reply)
    const { cloud: client } = load(server.url)
    expect(await rejection(client.call('content', 'categories', {}, { retries: 2 }))).toMatchObject({ code, retriable: false })
    expect(server.hits).toHaveLength(1)
  })

  test('retries back off exponentially from retryBaseMs', async () => {
    const server = await gateway(() => ({ status: 503, body: {} }))
    const { cloud: client } = load(server.url)
    client.localOpenid()
    jest.spyOn(Math, 'random').mockReturnValue(1) // the top of the jitter range
    client.configureCloud({ retryBaseMs: 60 })
    await rejection(client.call('content', 'categories', {}, { retries: 2 }))
    const [a, b, c] = server.hits.map((h) => h.at)
    expect(b! - a!).toBeGreaterThanOrEqual(58)
    expect(c! - b!).toBeGreaterThanOrEqual(118)
  })

  test('a wait is random within [0, base * 2^attempt] and capped at 5 s', async () => {
    const server = await gateway(() => ({ status: 500, body: {} }))
    const { cloud: client } = load(server.url)
    client.localOpenid()
    client.configureCloud({ retryBaseMs: 3000 })
    const waits: number[] = []
    const realSetTimeout = globalThis.setTimeout
    jest.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      waits.push(ms ?? 0)
      return realSetTimeout(fn, 0)
    }) as unknown as typeof setTimeout)
    jest.spyOn(Math, 'random').mockReturnValue(1)
    await rejection(client.call('content', 'categories', {}, { retries: 3 }))
    expect(waits).toEqual([3000, 5000, 5000])

    waits.length = 0
    jest.spyOn(Math, 'random').mockReturnValue(0.5)
    await rejection(client.call('content', 'categories', {}, { retries: 1 }))
    expect(waits).toEqual([1500])
  })
})

describe('cloud mode', () => {
  test('calls go through wx.cloud.callFunction with { name, data: { action, data } }, identity from the platform', async () => {
    const core = load(await deadUrl())
    const record = installCloud(core.fake, cloud.url, 'cloud-user')
    core.cloud.configureCloud({ mode: 'cloud' })
    const list = await core.api.content.list({ limit: 3 })
    expect(record.calls).toEqual([{ name: 'content', data: { action: 'list', data: { limit: 3 } } }])
    expect(list).toEqual((await callFunction(cloud.url, 'content', 'list', { limit: 3 }, 'someone')).data)
    expect(list.items).toHaveLength(3)
    expect(core.fake.log.requests.map((r) => r.header['x-wx-openid'])).toEqual(['cloud-user'])
    expect(core.fake.storage.has('local-cloud:openid')).toBe(false)

    const err = await rejection(core.api.content.detail({ id: 'no-such-guide' }))
    expect(err).toMatchObject({ code: 'NOT_FOUND', retriable: false })
    expect(core.cloud.describeError(err)).toBe('内容不存在或已下线')
    expect(record.calls).toHaveLength(2)
  })

  test('initCloud() calls wx.cloud.init with the env id in cloud mode, and not in local mode', () => {
    const core = load(cloud.url)
    const record = installCloud(core.fake, cloud.url, 'cloud-user')
    core.cloud.initCloud()
    expect(record.inits).toEqual([])
    core.cloud.configureCloud({ mode: 'cloud', cloudEnv: 'prod-1a2b3c' })
    core.cloud.initCloud()
    expect(record.inits).toEqual([{ env: 'prod-1a2b3c', traceUser: true }])
  })

  test('a release build uses wx.cloud even when configured for the local cloud', async () => {
    const local = await gateway(() => ok({ items: [] }))
    const core = load(local.url)
    const record = installCloud(core.fake, cloud.url, 'cloud-user')
    core.fake.envVersion = 'release'
    expect(core.cloud.cloudMode()).toBe('cloud')
    core.cloud.initCloud()
    expect(record.inits).toHaveLength(1)
    const { items } = await core.api.content.categories()
    expect(items.length).toBeGreaterThan(0)
    expect(record.calls).toEqual([{ name: 'content', data: { action: 'categories', data: {} } }])
    expect(local.hits).toHaveLength(0)

    core.fake.envVersion = 'trial'
    expect(core.cloud.cloudMode()).toBe('local')
  })

  test.each<[string, { errCode?: number; errMsg: string }, string]>([
    ['a function timeout (-504003)', { errCode: -504003, errMsg: 'cloud.callFunction:fail Invoking task timed out after 3 seconds' }, 'TIMEOUT'],
    ['a network failure', { errMsg: 'cloud.callFunction:fail request:fail' }, 'NETWORK'],
    ['a function that threw (-504002)', { errCode: -504002, errMsg: 'cloud.callFunction:fail -504002 functions execute fail' }, 'FUNCTION_FAILED'],
  ])('wx.cloud.callFunction failing with %s is a retriable %s', async (_what, failure, code) => {
    const core = load(cloud.url)
    let calls = 0
    ;(core.fake.wx as unknown as { cloud: unknown }).cloud = {
      init: () => undefined,
      callFunction: (options: { fail: (err: unknown) => void }) => {
        calls++
        options.fail(failure)
      },
    }
    core.cloud.configureCloud({ mode: 'cloud' })
    expect(await rejection(core.cloud.call('content', 'categories', {}, { retries: 1 }))).toMatchObject({ code, retriable: true })
    expect(calls).toBe(2)
  })

  test('a callFunction that never answers times out, and is retried', async () => {
    const server = await hangingServer()
    servers.push(server)
    const core = load(cloud.url)
    const record = installCloud(core.fake, server.url, 'cloud-user')
    core.cloud.configureCloud({ mode: 'cloud', timeoutMs: 100 })
    expect(await rejection(core.api.content.categories())).toMatchObject({ code: 'TIMEOUT' })
    expect(record.calls).toHaveLength(3)
  })
})

describe('api', () => {
  test.each<[string, number, (api: Core['api']) => Promise<unknown>]>([
    ['content.list', 3, (api) => api.content.list({ limit: 10 })],
    ['content.categories', 3, (api) => api.content.categories()],
    ['user.login', 3, (api) => api.user.login()],
    ['content.detail (counts a view: a lost reply must not count it twice)', 1, (api) => api.content.detail({ id: 'kitchen-grease-cleaning' })],
  ])('%s makes %d attempt(s) on a retriable failure', async (_name, attempts, run) => {
    const server = await gateway(() => ({ status: 502, body: {} }))
    const { api } = load(server.url)
    await rejection(run(api))
    expect(server.hits).toHaveLength(attempts)
  })
})

describe('cache', () => {
  interface Box {
    n: number
  }
  const isBox = (data: unknown): data is Box => typeof (data as Box | null)?.n === 'number'
  const policy = { freshMs: 60_000, staleMs: 3_600_000, isValid: isBox }
  const KEY = 'cache:box'

  function setup(age: number | null) {
    const core = load(cloud.url)
    if (age !== null) core.fake.storage.set(KEY, { v: 1, t: Date.now() - age, d: { n: 1 } })
    return core
  }

  test('a fresh hit is served from storage without a fetch', async () => {
    const { cache } = setup(1000)
    const fetch = jest.fn(async () => ({ n: 2 }))
    const onFresh = jest.fn()
    await expect(cache.swr('box', policy, fetch, onFresh)).resolves.toEqual({ data: { n: 1 }, fromCache: true })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(fetch).not.toHaveBeenCalled()
    expect(onFresh).not.toHaveBeenCalled()
  })

  test('a stale hit returns the cached data, then onFresh receives the fetched data, which is saved', async () => {
    const { cache, fake } = setup(120_000)
    let resolve!: (box: Box) => void
    const fetch = jest.fn(() => new Promise<Box>((r) => (resolve = r)))
    const onFresh = jest.fn()
    await expect(cache.swr('box', policy, fetch, onFresh)).resolves.toEqual({ data: { n: 1 }, fromCache: true })
    expect(fetch).toHaveBeenCalledTimes(1)
    expect(onFresh).not.toHaveBeenCalled()
    const answeredAt = Date.now()
    resolve({ n: 2 })
    await new Promise((done) => setTimeout(done, 0))
    expect(onFresh.mock.calls).toEqual([[{ n: 2 }]])
    const saved = fake.storage.get(KEY) as { v: number; t: number; d: Box }
    expect(saved.d).toEqual({ n: 2 })
    expect(saved.t).toBeGreaterThanOrEqual(answeredAt) // saved when the fresh data came, not with the old time
  })

  test('an expired entry is fetched first', async () => {
    const { cache, fake } = setup(2 * 3_600_000)
    const onFresh = jest.fn()
    await expect(cache.swr('box', policy, async () => ({ n: 3 }), onFresh)).resolves.toEqual({ data: { n: 3 }, fromCache: false })
    expect(onFresh).not.toHaveBeenCalled()
    expect((fake.storage.get(KEY) as { d: Box }).d).toEqual({ n: 3 })
  })

  test('no entry: fetched and saved', async () => {
    const { cache, fake } = setup(null)
    await expect(cache.swr('box', policy, async () => ({ n: 4 }))).resolves.toEqual({ data: { n: 4 }, fromCache: false })
    expect(fake.storage.get(KEY)).toMatchObject({ v: 1, d: { n: 4 } })
  })

  test.each<[string, unknown]>([
    ['a string', 'corrupted'],
    ['a number', 42],
    ['another version', { v: 2, t: Date.now(), d: { n: 1 } }],
    ['no time', { v: 1, d: { n: 1 } }],
    ['data failing the shape check', { v: 1, t: Date.now(), d: { n: '1' } }],
    ['a save time an hour in the future (the clock was wrong)', { v: 1, t: Date.now() + 3600_000, d: { n: 1 } }],
  ])('an entry holding %s is removed and never returned', async (_what, entry) => {
    const { cache, fake } = setup(null)
    fake.storage.set(KEY, entry)
    expect(cache.readCache('box', isBox)).toBeNull()
    expect(fake.storage.has(KEY)).toBe(false)

    fake.storage.set(KEY, entry)
    await expect(cache.swr('box', policy, async () => ({ n: 5 }))).resolves.toEqual({ data: { n: 5 }, fromCache: false })
    expect(fake.storage.get(KEY)).toMatchObject({ v: 1, d: { n: 5 } })
  })

  test('a failing background refresh keeps the cached data', async () => {
    const { cache, fake } = setup(120_000)
    const before = fake.storage.get(KEY)
    let reject!: (err: Error) => void
    const fetch = jest.fn(() => new Promise<Box>((_r, j) => (reject = j)))
    const onFresh = jest.fn()
    await expect(cache.swr('box', policy, fetch, onFresh)).resolves.toEqual({ data: { n: 1 }, fromCache: true })
    reject(new Error('offline'))
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(onFresh).not.toHaveBeenCalled()
    expect(fake.storage.get(KEY)).toEqual(before)
    expect(cache.readCache('box', isBox)?.data).toEqual({ n: 1 })
  })

  test('a storage that cannot be written does not break a read', async () => {
    const { cache, fake } = setup(null)
    fake.wx.setStorageSync = () => {
      throw new Error('storage full')
    }
    await expect(cache.swr('box', policy, async () => ({ n: 6 }))).resolves.toEqual({ data: { n: 6 }, fromCache: false })
  })
})

describe('localOpenid()', () => {
  test('is stable across calls and restarts, and differs between devices', () => {
    const { cloud: client, fake } = load(cloud.url)
    const openid = client.localOpenid()
    expect(openid).toMatch(/^dev-[a-z0-9]{12}$/)
    expect(client.localOpenid()).toBe(openid)
    expect(fake.storage.get('local-cloud:openid')).toBe(openid)
    expect(load(cloud.url, fake).cloud.localOpenid()).toBe(openid)
    expect(load(cloud.url).cloud.localOpenid()).not.toBe(openid)
  })

  test.each<[string, unknown]>([
    ['a number', 123456789012],
    ['too short', 'dev-abc'],
    ['upper case', 'dev-ABCDEFGHIJKL'],
    ['trailing space', 'dev-abcdefghijkl '],
    ['an object', { openid: 'dev-abcdefghijkl' }],
  ])('replaces %s in storage with a valid one', (_what, stored) => {
    const fake = createWx()
    fake.storage.set('local-cloud:openid', stored)
    const openid = load(cloud.url, fake).cloud.localOpenid()
    expect(openid).toMatch(/^dev-[a-z0-9]{12}$/)
    expect(fake.storage.get('local-cloud:openid')).toBe(openid)
  })
})

describe('session', () => {
  test('concurrent currentUser() calls share one login call', async () => {
    const { session, cloud: client, fake } = load(cloud.url)
    const users = await Promise.all([session.currentUser(), session.currentUser(), session.currentUser()])
    expect(fake.log.requests.map((r) => (r.data as { action: string }).action)).toEqual(['login'])
    expect(users[0]!.openid).toBe(client.localOpenid())
    expect(users[1]).toBe(users[0])
    expect(users[2]).toBe(users[0])
    await session.currentUser()
    expect(fake.log.requests).toHaveLength(1)
  })

  test('a failed login is shared by its callers and retried by the next caller', async () => {
    const dead = await deadUrl()
    const { session, cloud: client, fake } = load(dead)
    const [a, b] = await Promise.all([rejection(session.currentUser()), rejection(session.currentUser())])
    expect(a).toMatchObject({ code: 'NETWORK' })
    expect(b).toBe(a)
    expect(fake.log.requests.filter((r) => r.url.startsWith(dead))).toHaveLength(3) // one login, two retries

    client.configureCloud({ localCloudUrl: cloud.url })
    const user = await session.currentUser()
    expect(user.openid).toBe(client.localOpenid())
    expect(fake.log.requests.filter((r) => r.url.startsWith(cloud.url))).toHaveLength(1)
  })
})

describe('format', () => {
  const format = () => require('../../miniprogram/core/format') as FormatModule

  test.each([
    [0, '0'],
    [987, '987'],
    [9999, '9999'],
    [10000, '1万'],
    [12345, '1.2万'],
    [99999, '9.9万'],
    [100000, '10万'],
    [1234567, '123.4万'],
  ])('formatCount(%d) is %s', (n, text) => {
    expect(format().formatCount(n)).toBe(text)
  })

  test.each([
    ['2026-11-23T16:00:00Z', '2026年11月24日'], // midnight in Shanghai
    ['2026-11-23T16:30:00.000Z', '2026年11月24日'],
    ['2026-11-23T15:59:59Z', '2026年11月23日'],
    ['2026-12-31T16:05:00Z', '2027年1月1日'],
    ['2026-09-01T08:00:00+08:00', '2026年9月1日'],
    ['not a date', ''],
  ])('formatDay(%s) is %s', (iso, day) => {
    expect(format().formatDay(iso)).toBe(day)
  })

  test.each([
    ['2026-11-24', '2026年11月24日'],
    ['2027-01-01', '2027年1月1日'],
    ['2026-1-1', ''],
    ['', ''],
  ])('formatCalendarDay(%s) is %s', (day, text) => {
    expect(format().formatCalendarDay(day)).toBe(text)
  })
})

describe('describeError', () => {
  test.each<{ code: string; what: string; reply: Reply | 'dead'; sentence: string }>([
    { code: 'NETWORK', what: 'nothing listens', reply: 'dead', sentence: '网络不太给力，请检查网络后重试' },
    { code: 'NETWORK', what: 'the connection drops', reply: 'drop', sentence: '网络不太给力，请检查网络后重试' },
    { code: 'TIMEOUT', what: 'no answer', reply: 'hang', sentence: '请求超时了，请稍后重试' },
    { code: 'FUNCTION_FAILED', what: 'HTTP 500', reply: { status: 500, body: {} }, sentence: '服务开小差了，请稍后重试' },
    { code: 'BAD_RESPONSE', what: 'a null result', reply: result(null), sentence: '服务开小差了，请稍后重试' },
    { code: 'RATE_LIMITED', what: 'the function says so', reply: fail('RATE_LIMITED'), sentence: '操作太频繁了，请稍后再试' },
    { code: 'UNAUTHENTICATED', what: 'the function says so', reply: fail('UNAUTHENTICATED'), sentence: '请先登录后再试' },
  ])('$code ($what): $sentence', async ({ code, reply, sentence }) => {
    const url = reply === 'dead' ? await deadUrl() : (await gateway(() => reply)).url
    const { cloud: client } = load(url)
    const err = await rejection(client.call('content', 'categories', {}, { timeoutMs: 100 }))
    expect(err).toMatchObject({ code })
    expect(client.describeError(err)).toBe(sentence)
  })

  test("CONTENT_REJECTED shows the function's own message", async () => {
    const { cloud: client, api } = load(cloud.url)
    await api.user.login()
    const err = await rejection(api.user.updateProfile({ nickname: '违禁测试词' }))
    expect(err).toMatchObject({ code: 'CONTENT_REJECTED' })
    const direct = await callFunction(cloud.url, 'user', 'updateProfile', { nickname: '违禁测试词' }, client.localOpenid())
    expect(direct.error.code).toBe('CONTENT_REJECTED')
    expect(client.describeError(err)).toBe(direct.error.message)
  })
})
