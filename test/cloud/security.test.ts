/**
 * The local cloud's security model, tried as an attacker would: a caller claiming to be the timer,
 * cross-site requests (text/plain and form posts, foreign Origin, a foreign Host through DNS
 * rebinding), and, off loopback, callers without the access token.
 */
import { existsSync, readFileSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { lanAddresses } from '../../tools/local-cloud/access'
import { startCloudProcess } from '../../tools/local-cloud/client'
import { callGateway, FIXTURE_FUNCTIONS, startCloud, type TestCloud } from '../helpers/local-cloud'

interface Raw {
  status: number
  body: { error?: { code: string }; [key: string]: unknown }
}

/** One HTTP request with exactly these headers (fetch would not let a test set Host). */
function raw(url: string, method: string, pathname: string, headers: Record<string, string>, body?: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(pathname, url), { method, headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let parsed: Raw['body'] = {}
        try {
          parsed = JSON.parse(text) as Raw['body']
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, body: parsed })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

describe('only the scheduler marks a call as a timer', () => {
  let t: TestCloud
  beforeAll(async () => {
    t = await startCloud()
  })
  afterAll(() => t.stop())

  test('x-wx-source: wx_trigger (alone, chained, with or without an openid) is refused for every timer function, and nothing runs', async () => {
    const timers = t.cloud.functions().filter((f) => f.triggers.length > 0)
    expect(timers.map((f) => f.name).sort()).toEqual(['analytics', 'experiments', 'monitor', 'notify'])
    const before = t.cloud.ledger.recentInvocations(2000).length
    for (const fn of timers) {
      for (const trigger of fn.triggers) {
        for (const source of ['wx_trigger', 'wx_client,wx_trigger']) {
          for (const openid of [undefined, 'o-attacker']) {
            const event = { Type: 'Timer', TriggerName: trigger.name, Time: '2031-01-01T00:00:00Z' }
            const reply = await callGateway<{ error: { code: string } }>(t.url, fn.name, event, { openid, headers: { 'x-wx-source': source } })
            expect([fn.name, reply.status, reply.body.error.code]).toEqual([fn.name, 403, 'SOURCE_NOT_ALLOWED'])
          }
        }
      }
    }
    // Admin-or-timer actions called as a client (no admin): refused by the function itself.
    expect((await callGateway<{ result: { ok: boolean; error: { code: string } } }>(t.url, 'monitor', { action: 'run', data: {} }, { openid: 'o-attacker' })).body.result).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
    expect(t.cloud.ledger.recentInvocations(2000).length).toBe(before + 1)
  })

  test('unknown sources are refused too; the client sources pass', async () => {
    expect((await callGateway<{ error: { code: string } }>(t.url, 'content', { action: 'list', data: {} }, { headers: { 'x-wx-source': 'wx_admin' } })).status).toBe(403)
    for (const source of ['wx_client', 'wx_devtools', 'wx_http']) {
      expect((await callGateway(t.url, 'content', { action: 'list', data: {} }, { headers: { 'x-wx-source': source } })).status).toBe(200)
    }
  })

  test('the scheduler (and a test through fireTrigger, at a chosen instant) runs a timer with source wx_trigger', async () => {
    const { outcome, record } = await t.cloud.fireTrigger('monitor', 'every-5-minutes', new Date('2031-01-01T00:05:00Z'))
    expect(outcome.ok).toBe(true)
    expect(record.source).toBe('wx_trigger')
  })
})

describe('no cross-site requests, on every route', () => {
  let t: TestCloud
  let host: string
  beforeAll(async () => {
    t = await startCloud({ functionsDir: FIXTURE_FUNCTIONS })
    host = new URL(t.url).host
  })
  afterAll(() => t.stop())

  const insert = JSON.stringify({ action: 'database.insertDocument', collectionName: 'users', data: [JSON.stringify({ _id: 'o-csrf', admin: true })] })

  test('a text/plain POST to /admin (what a web page can send without a preflight) is 415 and writes nothing', async () => {
    const reply = await raw(t.url, 'POST', '/admin', { host, 'content-type': 'text/plain' }, insert)
    expect([reply.status, reply.body.error?.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE'])
    expect(t.cloud.store.count('users', { _id: 'o-csrf' })).toBe(0)
    // The same body as JSON is the SDK's own protocol.
    expect((await raw(t.url, 'POST', '/admin', { host, 'content-type': 'application/json' }, insert)).status).toBe(200)
    expect(t.cloud.store.count('users', { _id: 'o-csrf' })).toBe(1)
  })

  test('form and text/plain posts to the gateway and the trigger route are 415, and run nothing', async () => {
    const before = t.cloud.ledger.recentInvocations(2000).length
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x']) {
      expect((await raw(t.url, 'POST', '/functions/echo', { host, 'content-type': type }, '{"a":1}')).status).toBe(415)
      expect((await raw(t.url, 'POST', '/_/triggers/tick/everySecond', { host, 'content-type': type }, 'a=1')).status).toBe(415)
    }
    // A body without any content type is not JSON either.
    expect((await raw(t.url, 'POST', '/functions/echo', { host }, '{"a":1}')).status).toBe(415)
    expect(t.cloud.ledger.recentInvocations(2000).length).toBe(before)
  })

  test('a foreign Origin is refused on every route; this machine\'s own origins pass', async () => {
    const routes: [string, string, Record<string, string>, string?][] = [
      ['GET', '/_/invocations', {}],
      ['GET', '/_/stats', {}],
      ['GET', '/_/health', {}],
      ['POST', '/functions/echo', { 'content-type': 'application/json' }, '{}'],
      ['POST', '/admin', { 'content-type': 'application/json' }, insert],
      ['POST', '/_/triggers/tick/everySecond', {}],
      ['POST', '/storage/client-upload', { 'x-wx-openid': 'o-a', 'content-type': 'multipart/form-data; boundary=x' }, '--x--'],
    ]
    for (const origin of ['https://evil.example', 'null', `http://evil.example:${new URL(t.url).port}`]) {
      for (const [method, pathname, headers, body] of routes) {
        const reply = await raw(t.url, method, pathname, { host, origin, ...headers }, body)
        expect([pathname, origin, reply.status, reply.body.error?.code]).toEqual([pathname, origin, 403, 'ORIGIN_NOT_ALLOWED'])
      }
    }
    for (const origin of [`http://${host}`, `http://localhost:${new URL(t.url).port}`, 'https://servicewechat.com']) {
      expect((await raw(t.url, 'GET', '/_/health', { host, origin })).status).toBe(200)
    }
  })

  test('a foreign Host (DNS rebinding) is refused: the invocations list with every openid stays unread', async () => {
    await callGateway(t.url, 'echo', {}, { openid: 'o-secret' })
    for (const foreign of ['evil.example', `rebind.evil.example:${new URL(t.url).port}`]) {
      const reply = await raw(t.url, 'GET', '/_/invocations', { host: foreign })
      expect([foreign, reply.status, reply.body.error?.code]).toEqual([foreign, 403, 'HOST_NOT_ALLOWED'])
      expect(JSON.stringify(reply.body)).not.toContain('o-secret')
    }
    for (const own of [host, `localhost:${new URL(t.url).port}`]) expect((await raw(t.url, 'GET', '/_/invocations', { host: own })).status).toBe(200)
  })
})

describe('off loopback: a token printed at start', () => {
  let t: TestCloud
  let lan: string
  beforeAll(async () => {
    const address = lanAddresses().find((a) => !a.includes(':'))
    if (!address) throw new Error('this test needs a non-loopback IPv4 interface to reach the local cloud from "another machine"')
    t = await startCloud({ functionsDir: FIXTURE_FUNCTIONS, host: '0.0.0.0' })
    lan = address
  })
  afterAll(() => t.stop())

  test('the URL is the LAN address (not 0.0.0.0), and the token is kept in the data directory', () => {
    expect(new URL(t.url).hostname).toBe(lan)
    const token = t.cloud.accessToken
    expect(token).toMatch(/^[A-Za-z0-9_-]{24}$/)
    const file = path.join(t.dataDir, 'access-token')
    expect(existsSync(file) && readFileSync(file, 'utf8').trim()).toBe(token)
  })

  test('from the network: 401 without the token, on reads and writes alike; with it, served', async () => {
    const host = new URL(t.url).host
    const token = t.cloud.accessToken!
    const noToken = [
      await raw(t.url, 'GET', '/_/invocations', { host }),
      await raw(t.url, 'POST', '/functions/echo', { host, 'content-type': 'application/json', 'x-wx-openid': 'o-phone' }, '{}'),
      await raw(t.url, 'POST', '/admin', { host, 'content-type': 'application/json' }, JSON.stringify({ action: 'database.calculateDocument', collectionName: 'users', query: '{}' })),
      await raw(t.url, 'POST', '/_/triggers/tick/everySecond', { host }),
      await raw(t.url, 'GET', '/_/invocations', { host, 'x-local-cloud-token': `${token.slice(0, -1)}x` }),
    ]
    expect(noToken.map((r) => [r.status, r.body.error?.code])).toEqual(Array(5).fill([401, 'TOKEN_REQUIRED']))
    const call = await raw(t.url, 'POST', '/functions/echo', { host, 'content-type': 'application/json', 'x-wx-openid': 'o-phone', 'x-local-cloud-token': token }, '{}')
    expect(call.status).toBe(200)
    expect((await raw(t.url, 'GET', '/_/invocations', { host, 'x-local-cloud-token': token })).status).toBe(200)
  })

  test('on this machine (loopback) no token is needed, and functions reach the SDK endpoint over loopback', async () => {
    const local = `http://127.0.0.1:${t.cloud.port}`
    const reply = await callGateway<{ result: { ids: string[]; total: number } }>(local, 'dbcount', { collection: 'lan_check', adds: 2, counts: 1 }, { openid: 'o-dev' })
    expect(reply.status).toBe(200)
    expect(reply.body.result.total).toBe(2)
  })

  test('a signed temporary URL works from the network without the token (an <image> sends no headers)', async () => {
    t.cloud.storage.ensureDir('feedback/o-a/x.png')
    require('node:fs').writeFileSync(t.cloud.storage.diskPath('feedback/o-a/x.png'), 'png')
    const url = new URL(t.cloud.storage.tempUrl('feedback/o-a/x.png'))
    expect(url.hostname).toBe(lan)
    const res = await raw(url.origin, 'GET', `${url.pathname}${url.search}`, { host: url.host })
    expect(res.status).toBe(200)
  })
})

test('npm start -- --host 0.0.0.0 warns loudly, with the LAN address and the token', async () => {
  const lan = await startCloudProcess({ host: '0.0.0.0', prefix: 'local-cloud-lan-' })
  try {
    expect(new URL(lan.url).hostname).not.toBe('0.0.0.0')
    expect(lan.accessToken).toMatch(/^[A-Za-z0-9_-]{24}$/)
    const warning = lan.stderr()
    expect(warning).toContain('every device on your network can reach it')
    expect(warning).toContain(`access token (header x-local-cloud-token): ${lan.accessToken}`)
    expect(warning).toContain(`LAN address: ${lan.url}`)
  } finally {
    await lan.stop()
  }
}, 120_000)
