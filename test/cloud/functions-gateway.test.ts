/**
 * The gateway clients call functions through (`POST /functions/<name>`): its reply contract, how it
 * refuses bad input, and the identity and environment a function sees (getWXContext, event.userInfo,
 * config.json envVariables, context). Real worker processes, the real wx-server-sdk, real HTTP.
 */
import { GATEWAY_MAX_BODY } from '../../tools/local-cloud/cloud'
import { callGateway, FIXTURE_FUNCTIONS, startCloud, type TestCloud } from '../helpers/local-cloud'

interface Echo {
  event: Record<string, unknown>
  wx: Record<string, string | undefined>
  env: { FOO?: string; TZ?: string; WX_OPENID?: string }
  context: { function_name: string; time_limit_in_ms: number }
  pid: number
}
interface Failure {
  error: { code: string; errCode?: number; message: string }
  requestID?: string
}

const ENV = 'conformance-7f3a'
const APPID = 'wx1234567890abcdef'

let t: TestCloud
beforeAll(async () => {
  t = await startCloud({ functionsDir: FIXTURE_FUNCTIONS, env: ENV, appid: APPID, timeoutScale: 1 }) // time_limit_in_ms is checked
})
afterAll(async () => {
  await t.stop()
})

async function echo(event: unknown, init: Parameters<typeof callGateway>[3] = {}): Promise<Echo> {
  const reply = await callGateway<{ result: Echo }>(t.url, 'echo', event, init)
  expect(reply.status).toBe(200)
  return reply.body.result
}

/** After a refused request the gateway must still serve a good call. */
async function expectStillServes(): Promise<void> {
  const marker = Math.random().toString(36).slice(2)
  expect((await echo({ marker })).event.marker).toBe(marker)
}

/** A JSON object body of exactly `bytes` bytes. */
function bodyOfSize(bytes: number): string {
  const body = `{"pad":"${'x'.repeat(bytes - '{"pad":""}'.length)}"}`
  expect(Buffer.byteLength(body)).toBe(bytes)
  return body
}

describe('reply contract', () => {
  test('a successful call answers 200 { result, requestID } with the cost headers', async () => {
    const reply = await callGateway<{ result: Echo; requestID: string }>(t.url, 'echo', { a: 1, nested: { b: [1, 'two'] } })
    expect(reply.status).toBe(200)
    expect(reply.headers.get('content-type')).toMatch(/^application\/json/)
    expect(Object.keys(reply.body).sort()).toEqual(['requestID', 'result'])
    expect(reply.body.result.event).toMatchObject({ a: 1, nested: { b: [1, 'two'] } })
    expect(reply.body.result.context.function_name).toBe('echo')

    const requestId = reply.headers.get('x-request-id')
    expect(requestId).toMatch(/^[0-9a-f]{32}$/)
    expect(reply.body.requestID).toBe(requestId)
    expect(reply.headers.get('x-db-roundtrips')).toBe('0')
    expect(reply.headers.get('x-db-ops')).toBe('')
    expect(Number(reply.headers.get('x-duration-ms'))).toBeGreaterThanOrEqual(0)
    expect(['0', '1']).toContain(reply.headers.get('x-cold-start'))

    const { invocations } = (await (await fetch(`${t.url}/_/invocations?fn=echo&limit=1`)).json()) as { invocations: { requestId: string; outcome: string }[] }
    expect(invocations[0]).toMatchObject({ requestId, outcome: 'ok' })
  })

  test('each call gets its own requestID', async () => {
    const [a, b] = await Promise.all([callGateway(t.url, 'echo', {}), callGateway(t.url, 'echo', {})])
    expect(a.headers.get('x-request-id')).not.toBe(b.headers.get('x-request-id'))
  })

  test('an empty body is an empty event', async () => {
    const reply = await callGateway<{ result: Echo }>(t.url, 'echo', undefined, { rawBody: '' })
    expect(reply.status).toBe(200)
    expect(Object.keys(reply.body.result.event)).toEqual(['userInfo'])
  })
})

describe('bad input', () => {
  test('malformed JSON -> 400 INVALID_JSON', async () => {
    const reply = await callGateway<Failure>(t.url, 'echo', undefined, { rawBody: '{"a": 1,' })
    expect(reply.status).toBe(400)
    expect(reply.body.error.code).toBe('INVALID_JSON')
    await expectStillServes()
  })

  test.each([
    ['an array', '[1, 2]'],
    ['a string', '"hello"'],
    ['a number', '42'],
    ['null', 'null'],
  ])('%s as the body -> 400 INVALID_EVENT', async (_what, rawBody) => {
    const reply = await callGateway<Failure>(t.url, 'echo', undefined, { rawBody })
    expect(reply.status).toBe(400)
    expect(reply.body.error.code).toBe('INVALID_EVENT')
    await expectStillServes()
  })

  test(`a body of exactly ${GATEWAY_MAX_BODY} bytes (100 KB) is accepted`, async () => {
    expect(GATEWAY_MAX_BODY).toBe(100 * 1024)
    const reply = await callGateway<{ result: Echo }>(t.url, 'echo', undefined, { rawBody: bodyOfSize(GATEWAY_MAX_BODY) })
    expect(reply.status).toBe(200)
    expect((reply.body.result.event.pad as string).length).toBe(GATEWAY_MAX_BODY - 10)
  })

  test('one byte over 100 KB -> 413 EXCEED_MAX_PAYLOAD_SIZE', async () => {
    const reply = await callGateway<Failure>(t.url, 'echo', undefined, { rawBody: bodyOfSize(GATEWAY_MAX_BODY + 1) })
    expect(reply.status).toBe(413)
    expect(reply.body.error.code).toBe('EXCEED_MAX_PAYLOAD_SIZE')
    await expectStillServes()
  })

  test('a chunked body (no content-length) over 100 KB -> 413 as well', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(16 * 1024))
    let sent = 0
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > GATEWAY_MAX_BODY) controller.close()
        else controller.enqueue(chunk)
        sent += chunk.length
      },
    })
    const res = await fetch(`${t.url}/functions/echo`, { method: 'POST', body, headers: { 'content-type': 'application/json' }, duplex: 'half' } as RequestInit)
    expect(res.status).toBe(413)
    expect(((await res.json()) as Failure).error.code).toBe('EXCEED_MAX_PAYLOAD_SIZE')
    await expectStillServes()
  })

  test('unknown function -> 404 FUNCTION_NOT_FOUND', async () => {
    const reply = await callGateway<Failure>(t.url, 'doesNotExist', {})
    expect(reply.status).toBe(404)
    expect(reply.body.error.code).toBe('FUNCTION_NOT_FOUND')
    expect(reply.body.error.message).toContain('doesNotExist')
    await expectStillServes()
  })

  test('GET -> 405', async () => {
    const res = await fetch(`${t.url}/functions/echo`)
    expect(res.status).toBe(405)
    expect(((await res.json()) as Failure).error.code).toBe('METHOD_NOT_ALLOWED')
    await expectStillServes()
  })

  test('a malformed escape in the function name -> 400, not an internal error', async () => {
    const res = await fetch(`${t.url}/functions/%E0%A4%A`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })
    expect(res.status).toBe(400)
    await expectStillServes()
  })
})

describe('identity (getWXContext) and event.userInfo', () => {
  test('x-wx-openid becomes OPENID; APPID, SOURCE and ENV come from the platform', async () => {
    const { wx } = await echo({}, { openid: 'o-alice' })
    expect(wx.OPENID).toBe('o-alice')
    expect(wx.APPID).toBe(APPID)
    expect(wx.SOURCE).toBe('wx_client')
    expect(wx.ENV).toBe(ENV)
    expect(wx.UNIONID).toBeUndefined()
  })

  test('x-wx-appid, x-wx-unionid and x-wx-source are passed on', async () => {
    const { wx, event } = await echo(
      {},
      { openid: 'o-bob', headers: { 'x-wx-appid': 'wxotherapp0000001', 'x-wx-unionid': 'u-bob', 'x-wx-source': 'wx_devtools' } },
    )
    expect(wx).toMatchObject({ OPENID: 'o-bob', APPID: 'wxotherapp0000001', UNIONID: 'u-bob', SOURCE: 'wx_devtools' })
    expect(event.userInfo).toEqual({ appId: 'wxotherapp0000001', openId: 'o-bob' })
  })

  test('a client-sent userInfo is replaced by the platform one', async () => {
    const { event, wx } = await echo({ userInfo: { openId: 'o-forged', appId: 'wxforged' }, keep: true }, { openid: 'o-carol' })
    expect(event.userInfo).toEqual({ appId: APPID, openId: 'o-carol' })
    expect(event.keep).toBe(true)
    expect(wx.OPENID).toBe('o-carol')
  })

  test('no x-wx-openid header -> no OPENID, even with a forged userInfo', async () => {
    const { event, wx } = await echo({ userInfo: { openId: 'o-forged' } })
    expect(wx.OPENID).toBeUndefined()
    expect(event.userInfo).toEqual({ appId: APPID })
  })

  test("one caller's identity does not leak into the next call on the same worker", async () => {
    const first = await echo({}, { openid: 'o-dave', headers: { 'x-wx-unionid': 'u-dave' } })
    const second = await echo({})
    expect(second.pid).toBe(first.pid)
    expect(first.wx.UNIONID).toBe('u-dave')
    expect(first.env.WX_OPENID).toBe('o-dave')
    expect(second.wx.OPENID).toBeUndefined()
    expect(second.wx.UNIONID).toBeUndefined()
    expect(second.env.WX_OPENID).toBeUndefined() // not even in process.env, for code that reads it directly
  })
})

describe('function environment', () => {
  test('config.json envVariables reach the function and it runs in UTC', async () => {
    const { env } = await echo({})
    expect(env).toMatchObject({ FOO: 'bar', TZ: 'UTC' })
  })

  test('context.time_limit_in_ms is the config.json timeout', async () => {
    expect((await echo({})).context.time_limit_in_ms).toBe(3000) // echo: the default, 3 s
    const slow = await callGateway<{ result: { timeLimitMs: number } }>(t.url, 'slow', { ms: 0 })
    expect(slow.body.result.timeLimitMs).toBe(1000) // slow: "timeout": 1
  })
})
