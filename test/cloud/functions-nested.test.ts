/**
 * Function-to-function calls: `cloud.callFunction` inside a function (the `caller` fixture) goes
 * through the cloud's invoke path, runs with the caller's identity, and is recorded as a child.
 */
import { INVOKE_MAX_BODY } from '../../tools/local-cloud/cloud'
import { callGateway, FIXTURE_FUNCTIONS, startCloud, type TestCloud, useSdkAgainst } from '../helpers/local-cloud'

type Wx = Record<string, string | undefined>
type CallerResult =
  | { ok: true; result: { event: Record<string, unknown>; wx: Wx; pid: number }; me: Wx }
  | { ok: false; errCode: number; errMsg: string; code?: string }
interface Invocation {
  requestId: string
  fn: string
  source: string
  openid?: string
  parentId?: string
  invokes: number
  outcome: string
}
interface Stats {
  external: { invokes: number }
}

let t: TestCloud
beforeAll(async () => {
  t = await startCloud({ functionsDir: FIXTURE_FUNCTIONS, timeoutScale: 1 }) // a child's timeout is tested
})
afterAll(async () => {
  await t.stop()
})

async function callThrough(event: unknown, init: Parameters<typeof callGateway>[3] = {}) {
  const reply = await callGateway<{ result: CallerResult; requestID: string }>(t.url, 'caller', event, init)
  expect(reply.status).toBe(200)
  return { result: reply.body.result, requestId: reply.body.requestID }
}

async function invocations(): Promise<Invocation[]> {
  return ((await (await fetch(`${t.url}/_/invocations`)).json()) as { invocations: Invocation[] }).invocations
}

test("caller gets echo's result; echo runs with the caller's identity and source wx_client,scf", async () => {
  const { result } = await callThrough(
    { target: 'echo', data: { question: 42 } },
    { openid: 'o-nested', headers: { 'x-wx-appid': 'wxnestedapp000001', 'x-wx-unionid': 'u-nested' } },
  )
  if (!result.ok) throw new Error(`caller failed: ${result.errMsg}`)
  expect(result.result.event.question).toBe(42)
  expect(result.result.wx).toMatchObject({ OPENID: 'o-nested', APPID: 'wxnestedapp000001', UNIONID: 'u-nested', SOURCE: 'wx_client,scf' })
  expect(result.result.event.userInfo).toEqual({ appId: 'wxnestedapp000001', openId: 'o-nested' })
  expect(result.me).toMatchObject({ OPENID: 'o-nested', SOURCE: 'wx_client' })
})

test('the ledger records the child invocation with parentId', async () => {
  const { requestId } = await callThrough({ target: 'echo' }, { openid: 'o-ledger' })
  const records = await invocations()
  const parent = records.find((r) => r.requestId === requestId)
  const child = records.find((r) => r.parentId === requestId)
  expect(parent).toMatchObject({ fn: 'caller', invokes: 1, source: 'wx_client', openid: 'o-ledger', outcome: 'ok' })
  expect(parent!.parentId).toBeUndefined()
  expect(child).toMatchObject({ fn: 'echo', source: 'wx_client,scf', openid: 'o-ledger', outcome: 'ok' })
})

test('calling a missing function gives an error with errCode', async () => {
  const { result, requestId } = await callThrough({ target: 'noSuchFunction' }, { openid: 'o-missing' })
  if (result.ok) throw new Error('expected an error')
  // wx-server-sdk 4.0.2 reports every failed callFunction as errCode -1 (see the report).
  expect(result.errCode).toBe(-1)
  expect(result.code).toBe('FUNCTIONS_REQUEST_FAIL')
  expect(result.errMsg).toMatch(/^callFunction:fail .*FunctionName.*noSuchFunction/)
  const child = (await invocations()).find((r) => r.parentId === requestId)
  expect(child).toMatchObject({ fn: 'noSuchFunction', outcome: 'FUNCTION_NOT_FOUND' })
})

test('a child that throws -> the caller gets functions execute fail (-504002) with the message', async () => {
  const { result } = await callThrough({ target: 'faulty', data: { mode: 'throw' } })
  if (result.ok) throw new Error('expected an error')
  expect(result.errCode).toBe(-1)
  expect(result.code).toBe('FUNCTIONS_EXECUTE_FAIL')
  expect(result.errMsg).toContain('error code -504002')
  expect(result.errMsg).toContain('boom')
})

test('a child that times out -> the caller gets the timeout (-504003), not a hang', async () => {
  const started = Date.now()
  const { result } = await callThrough({ target: 'slow', data: { ms: 1500 } })
  if (result.ok) throw new Error('expected an error')
  expect(result.code).toBe('FUNCTIONS_EXECUTE_FAIL')
  expect(result.errMsg).toContain('error code -504003')
  expect(result.errMsg).toContain('timed out after 1 seconds')
  expect(Date.now() - started).toBeLessThan(1500)
})

test('function-to-function calls take payloads over the 100 KB gateway limit, up to 6 MB', async () => {
  const big = await callThrough({ target: 'echo', padBytes: 300 * 1024 })
  expect(big.result).toMatchObject({ ok: true, result: { padLength: 300 * 1024 } })
  const tooBig = await callThrough({ target: 'echo', padBytes: INVOKE_MAX_BODY + 1 })
  expect(tooBig.result).toMatchObject({ ok: false, code: 'INVALID_PARAM' })
})

test('callFunction from a script (no invocation) works and is counted as external', async () => {
  useSdkAgainst(t.cloud)
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cloud = require('wx-server-sdk') as typeof import('wx-server-sdk')
  cloud.init({ env: cloud.DYNAMIC_CURRENT_ENV as never })
  const before = ((await (await fetch(`${t.url}/_/stats`)).json()) as Stats).external.invokes
  const res = (await cloud.callFunction({ name: 'echo', data: { from: 'script' } })) as unknown as { result: { event: { from: string }; wx: Wx } }
  expect(res.result.event.from).toBe('script')
  expect(res.result.wx.OPENID).toBeUndefined()
  const after = ((await (await fetch(`${t.url}/_/stats`)).json()) as Stats).external.invokes
  expect(after - before).toBe(1)
})
