/**
 * Worker pools: one invocation at a time per worker, concurrency = number of workers, cold and warm
 * starts, and a worker that throws, crashes or times out is replaced by a new process.
 */
import { callGateway, FIXTURE_FUNCTIONS, startCloud, type TestCloud } from '../helpers/local-cloud'

interface Failure {
  error: { code: string; errCode: number; message: string }
  requestID: string
}
interface Invocation {
  requestId: string
  fn: string
  outcome: string
  coldStart?: boolean
  startMs?: number
  durationMs: number
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return true
}

async function invocations(t: TestCloud, fn: string): Promise<Invocation[]> {
  const res = await fetch(`${t.url}/_/invocations?fn=${fn}`)
  return ((await res.json()) as { invocations: Invocation[] }).invocations
}

async function pidOf(t: TestCloud, fn: string): Promise<number> {
  const reply = await callGateway<{ result: { pid: number } }>(t.url, fn, { ms: 0 })
  expect(reply.status).toBe(200)
  return reply.body.result.pid
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now()
  const value = await work()
  return { value, ms: performance.now() - started }
}

describe('concurrency', () => {
  let one: TestCloud
  let two: TestCloud
  beforeAll(async () => {
    ;[one, two] = await Promise.all([
      startCloud({ functionsDir: FIXTURE_FUNCTIONS, maxWorkers: 1 }),
      startCloud({ functionsDir: FIXTURE_FUNCTIONS, maxWorkers: 2 }),
    ])
  })
  afterAll(async () => {
    await Promise.all([one.stop(), two.stop()])
  })

  const twoSlowCalls = (t: TestCloud) =>
    timed(() => Promise.all([0, 1].map(() => callGateway<{ result: { pid: number; startedAt: number; endedAt: number } }>(t.url, 'slow', { ms: 300 }))))

  test('maxWorkers 1: two concurrent 300 ms calls run one after the other in the same worker', async () => {
    await pidOf(one, 'slow') // warm
    const { value: replies, ms } = await twoSlowCalls(one)
    expect(replies.map((r) => r.status)).toEqual([200, 200])
    expect(ms).toBeGreaterThanOrEqual(600)
    expect(replies[0]!.body.result.pid).toBe(replies[1]!.body.result.pid)
  })

  test('maxWorkers 2: two concurrent 300 ms calls overlap, in two workers', async () => {
    await Promise.all([pidOf(two, 'slow'), pidOf(two, 'slow')]) // warm both workers
    const { value: replies } = await twoSlowCalls(two)
    expect(replies.map((r) => r.status)).toEqual([200, 200])
    // Each ran while the other was running (as the functions saw it), not a total time.
    const [a, b] = replies.map((r) => r.body.result)
    expect(a!.startedAt).toBeLessThan(b!.endedAt)
    expect(b!.startedAt).toBeLessThan(a!.endedAt)
    expect(replies[0]!.body.result.pid).not.toBe(replies[1]!.body.result.pid)
    expect(replies.map((r) => r.headers.get('x-cold-start'))).toEqual(['0', '0'])
  })

  test('a call queued behind a crashing one runs in a fresh worker', async () => {
    const warm = await pidOf(one, 'faulty')
    const crashing = callGateway<Failure>(one.url, 'faulty', { mode: 'exit' })
    await new Promise((resolve) => setTimeout(resolve, 30))
    const queued = callGateway<{ result: { pid: number } }>(one.url, 'faulty', { mode: 'pid' })
    const [crash, next] = await Promise.all([crashing, queued])
    expect(crash.status).toBe(502)
    expect(next.status).toBe(200)
    expect(next.body.result.pid).not.toBe(warm)
    expect(next.headers.get('x-cold-start')).toBe('1')
  })
})

describe('cold and warm starts', () => {
  let t: TestCloud
  beforeAll(async () => {
    t = await startCloud({ functionsDir: FIXTURE_FUNCTIONS, maxWorkers: 1, idleTimeoutMs: 300 })
  })
  afterAll(async () => {
    await t.stop()
  })

  test('the first call is a cold start, the next ones are warm (header and ledger)', async () => {
    const first = await callGateway(t.url, 'echo', {})
    const second = await callGateway(t.url, 'echo', {})
    expect(first.headers.get('x-cold-start')).toBe('1')
    expect(second.headers.get('x-cold-start')).toBe('0')

    const [secondRecord, firstRecord] = await invocations(t, 'echo')
    expect(firstRecord).toMatchObject({ requestId: first.headers.get('x-request-id'), coldStart: true })
    expect(firstRecord!.startMs).toBeGreaterThan(0)
    expect(firstRecord!.durationMs).toBeGreaterThanOrEqual(firstRecord!.startMs!)
    expect(secondRecord).toMatchObject({ requestId: second.headers.get('x-request-id'), coldStart: false })
    expect(secondRecord!.startMs).toBeUndefined()

    const stats = (await (await fetch(`${t.url}/_/stats`)).json()) as { functions: Record<string, { invocations: number; coldStarts: number }> }
    expect(stats.functions.echo).toMatchObject({ invocations: 2, coldStarts: 1 })
  })

  test('an idle worker is retired after idleTimeoutMs: the next call is cold again', async () => {
    const warm = await pidOf(t, 'slow')
    expect(await waitUntil(() => !isAlive(warm), 10_000)).toBe(true)
    const reply = await callGateway<{ result: { pid: number } }>(t.url, 'slow', { ms: 0 })
    expect(reply.headers.get('x-cold-start')).toBe('1')
    expect(reply.body.result.pid).not.toBe(warm)
  })

  test('POST /_/recycle/<fn> replaces the workers: the next call is cold, in a new process', async () => {
    const before = await callGateway<{ result: { pid: number } }>(t.url, 'echo', {})
    const recycled = await fetch(`${t.url}/_/recycle/echo`, { method: 'POST' })
    expect(recycled.status).toBe(200)
    const after = await callGateway<{ result: { pid: number } }>(t.url, 'echo', {})
    expect(after.headers.get('x-cold-start')).toBe('1')
    expect(after.body.result.pid).not.toBe(before.body.result.pid)
    expect((await fetch(`${t.url}/_/recycle/nope`, { method: 'POST' })).status).toBe(404)
  })
})

describe('failures', () => {
  let t: TestCloud
  beforeAll(async () => {
    t = await startCloud({ functionsDir: FIXTURE_FUNCTIONS, timeoutScale: 1 }) // the timeout is tested
  })
  afterAll(async () => {
    await t.stop()
  })

  test('a function that throws -> 500 FUNCTION_ERROR; the next call runs in a new process', async () => {
    const before = await pidOf(t, 'faulty')
    const reply = await callGateway<Failure>(t.url, 'faulty', { mode: 'throw' })
    expect(reply.status).toBe(500)
    expect(reply.body.error).toMatchObject({ code: 'FUNCTION_ERROR', errCode: -504002, message: 'boom' })
    expect(reply.body.requestID).toBe(reply.headers.get('x-request-id'))
    expect(await waitUntil(() => !isAlive(before), 10_000)).toBe(true)

    const after = await callGateway<{ result: { pid: number } }>(t.url, 'faulty', { mode: 'pid' })
    expect(after.status).toBe(200)
    expect(after.body.result.pid).not.toBe(before)
    expect((await invocations(t, 'faulty')).map((r) => r.outcome).slice(0, 2)).toEqual(['ok', 'FUNCTION_ERROR'])
  })

  test('a thrown non-Error (an SDK-style { errCode, errMsg }) is reported with both', async () => {
    const reply = await callGateway<Failure>(t.url, 'faulty', { mode: 'throw-object' })
    expect(reply.status).toBe(500)
    expect(reply.body.error.code).toBe('FUNCTION_ERROR')
    expect(reply.body.error.message).toBe('errCode: -502005 collection not exists')
  })

  test('process.exit during a call -> 502 FUNCTION_CRASHED; the next call is fine', async () => {
    const before = await pidOf(t, 'faulty')
    const reply = await callGateway<Failure>(t.url, 'faulty', { mode: 'exit' })
    expect(reply.status).toBe(502)
    expect(reply.body.error.code).toBe('FUNCTION_CRASHED')
    expect(reply.body.error.message).toContain('code 3')
    expect(await pidOf(t, 'faulty')).not.toBe(before)
  })

  test('a call over the timeout -> 504 FUNCTION_TIMEOUT at the timeout, and the worker is replaced', async () => {
    const before = await pidOf(t, 'slow')
    const { value: reply, ms } = await timed(() => callGateway<Failure>(t.url, 'slow', { ms: 1500 }))
    expect(reply.status).toBe(504)
    expect(reply.body.error).toMatchObject({ code: 'FUNCTION_TIMEOUT', errCode: -504003, message: 'Invoking task timed out after 1 seconds' })
    // At the timeout: not before it, and the 1500 ms call never answered (a 504, not its result).
    expect(ms).toBeGreaterThanOrEqual(1000)
    expect(await waitUntil(() => !isAlive(before), 10_000)).toBe(true)
    expect(await pidOf(t, 'slow')).not.toBe(before)
  })

  test('a result that cannot be serialized (circular) -> FUNCTION_ERROR', async () => {
    const reply = await callGateway<Failure>(t.url, 'faulty', { mode: 'circular' })
    expect(reply.status).toBe(500)
    expect(reply.body.error.code).toBe('FUNCTION_ERROR')
    expect(reply.body.error.message).toMatch(/circular/i)
    expect((await callGateway(t.url, 'faulty', { mode: 'pid' })).status).toBe(200)
  })

  test('a function that fails at load -> FUNCTION_LOAD_ERROR every time; other functions are unaffected', async () => {
    for (let i = 0; i < 2; i++) {
      const reply = await callGateway<Failure>(t.url, 'broken', {})
      expect(reply.status).toBe(500)
      expect(reply.body.error.code).toBe('FUNCTION_LOAD_ERROR')
      expect(reply.body.error.message).toBe('broken at load time')
      expect(reply.headers.get('x-cold-start')).toBe('1')
    }
    expect((await callGateway(t.url, 'echo', {})).status).toBe(200)
  })
})
