/**
 * Faults a fault injector finds: hostile bodies that cannot reach a worker, workers that die while
 * idle (before their exit event arrives), sends to a closed channel. Whatever happens, the worker
 * is released, the function keeps answering, and a call that never ran is run on a fresh worker.
 */
import { readFileSync } from 'node:fs'
import { callGateway, FIXTURE_FUNCTIONS, startCloud, type TestCloud } from '../helpers/local-cloud'

let t: TestCloud
beforeAll(async () => {
  // One worker per function: a worker never given back would wedge its function for good.
  t = await startCloud({ functionsDir: FIXTURE_FUNCTIONS, maxWorkers: 1 })
})
afterAll(() => t.stop())

const identity = { openid: 'o-faults', source: 'wx_client' }

async function pidOf(fn: string): Promise<number> {
  const { outcome } = await t.cloud.invoke(fn, { mode: 'pid' }, identity)
  if (!outcome.ok) throw new Error(`${fn}: ${outcome.code} ${outcome.message}`)
  return (JSON.parse(outcome.json!) as { pid: number }).pid
}

/** Waits, without yielding to the event loop, until the process is a zombie: dead, its exit not yet handled. */
function waitDeadSync(pid: number): void {
  for (;;) {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0]
    if (state === 'Z' || state === 'X') return
  }
}

describe('a body nested too deep', () => {
  test('6,000 levels in 12 KB: a typed 400, and the function still answers', async () => {
    const deep = `{"action":"x","data":${'['.repeat(6000)}${']'.repeat(6000)}}`
    expect(Buffer.byteLength(deep)).toBeLessThan(13_000)
    for (let i = 0; i < 2; i++) {
      const reply = await callGateway<{ error: { code: string } }>(t.url, 'echo', undefined, { rawBody: deep })
      expect(reply.status).toBe(400)
      expect(reply.body.error.code).toBe('EXCEED_MAX_NESTING')
    }
    expect((await callGateway(t.url, 'echo', { ok: 1 })).status).toBe(200)
  })

  test('100 levels pass; brackets inside strings do not count', async () => {
    let data: unknown = 'x'
    for (let i = 0; i < 98; i++) data = [data]
    const reply = await callGateway<{ result: { event: { data: unknown; text: string } } }>(t.url, 'echo', { data, text: '[[[[{{{{'.repeat(50) })
    expect(reply.status).toBe(200)
    expect(reply.body.result.event.data).toEqual(data)
  })

  test('an event that cannot be sent to a worker fails that call only: the worker is released', async () => {
    const { outcome } = await t.cloud.invoke('echo', { n: 1n }, identity)
    expect(outcome).toMatchObject({ ok: false, code: 'FUNCTION_ERROR', message: expect.stringMatching(/could not be sent/) })
    expect((await callGateway(t.url, 'echo', {})).status).toBe(200)
  })
})

describe('a worker that dies while idle', () => {
  test('killed just before a call is handed to it: the call runs on a fresh worker, once', async () => {
    const dead = await pidOf('faulty')
    process.kill(dead, 'SIGKILL')
    // The pool has not seen the exit yet: the call is handed to the dying worker.
    const { outcome } = await t.cloud.invoke('faulty', { mode: 'pid' }, identity)
    expect(outcome.ok).toBe(true)
    const pid = (JSON.parse((outcome as { json: string }).json) as { pid: number }).pid
    expect(pid).not.toBe(dead)
  })

  test('already dead, its exit not yet handled: the send fails (EPIPE) without taking the cloud down, and the call runs elsewhere', async () => {
    for (let round = 0; round < 3; round++) {
      const dead = await pidOf('faulty')
      process.kill(dead, 'SIGKILL')
      waitDeadSync(dead)
      const { outcome } = await t.cloud.invoke('faulty', { mode: 'pid' }, identity)
      expect(outcome.ok).toBe(true)
      expect((JSON.parse((outcome as { json: string }).json) as { pid: number }).pid).not.toBe(dead)
    }
    const health = await fetch(`${t.url}/_/health`)
    expect(health.status).toBe(200)
  })

  test('a crash during a call is still FUNCTION_CRASHED (it ran: it is not run again)', async () => {
    const reply = await callGateway<{ error: { code: string } }>(t.url, 'faulty', { mode: 'exit' })
    expect(reply.status).toBe(502)
    expect(reply.body.error.code).toBe('FUNCTION_CRASHED')
    const runs = t.cloud.ledger.recentInvocations(1, 'faulty')
    expect(runs[0]!.outcome).toBe('FUNCTION_CRASHED')
  })
})
