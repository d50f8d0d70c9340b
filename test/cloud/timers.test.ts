/**
 * Timer triggers from config.json (WeChat's 7-field cron, UTC+8): fired on demand through
 * POST /_/triggers/<fn>/<trigger>, fired on schedule with `timers: true`, validated at load.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { InvocationRecord } from '../../tools/local-cloud/ledger'
import { FIXTURE_FUNCTIONS, startCloud, type TestCloud } from '../helpers/local-cloud'

interface TickResult {
  event: Record<string, unknown>
  wx: Record<string, string | undefined>
}

async function fire(t: TestCloud, fn: string, trigger: string, method = 'POST') {
  const res = await fetch(`${t.url}/_/triggers/${fn}/${trigger}`, { method })
  return { status: res.status, body: (await res.json()) as { requestID?: string; result?: TickResult; error?: { code: string } } }
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

describe('firing on demand', () => {
  let t: TestCloud
  beforeAll(async () => {
    t = await startCloud({ functionsDir: FIXTURE_FUNCTIONS })
  })
  afterAll(async () => {
    await t.stop()
  })

  test('POST /_/triggers/<fn>/<trigger> invokes it with the timer event, source wx_trigger, no OPENID', async () => {
    const before = Date.now()
    const { status, body } = await fire(t, 'tick', 'everySecond')
    const after = Date.now()
    expect(status).toBe(200)
    const { event, wx } = body.result!
    expect(Object.keys(event).sort()).toEqual(['Time', 'TriggerName', 'Type'])
    expect(event).toMatchObject({ Type: 'Timer', TriggerName: 'everySecond' })
    expect(event.Time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    // The time of the firing (whole seconds): between the request and its answer, not a distance from now.
    expect(Date.parse(event.Time as string)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000)
    expect(Date.parse(event.Time as string)).toBeLessThanOrEqual(after)
    expect(wx.SOURCE).toBe('wx_trigger')
    expect(wx.OPENID).toBeUndefined()

    const [record] = t.cloud.ledger.recentInvocations(1, 'tick')
    expect(record).toMatchObject({ requestId: body.requestID, source: 'wx_trigger', outcome: 'ok' })
    expect(record!.openid).toBeUndefined()
  })

  test.each([
    ['an unknown trigger', 'tick', 'nope'],
    ['a function without triggers', 'echo', 'everySecond'],
    ['an unknown function', 'nope', 'everySecond'],
  ])('%s -> 404 TRIGGER_NOT_FOUND', async (_what, fn, trigger) => {
    const { status, body } = await fire(t, fn, trigger)
    expect(status).toBe(404)
    expect(body.error!.code).toBe('TRIGGER_NOT_FOUND')
  })

  test('only POST fires a trigger', async () => {
    const before = t.cloud.ledger.recentInvocations(2000, 'tick').length
    expect((await fire(t, 'tick', 'everySecond', 'GET')).status).toBe(404)
    expect(t.cloud.ledger.recentInvocations(2000, 'tick').length).toBe(before)
  })
})

describe('firing on schedule', () => {
  test('with timers: true, "*/1 * * * * * *" fires every second, and stops with the cloud', async () => {
    const t = await startCloud({ functionsDir: FIXTURE_FUNCTIONS, timers: true })
    const fired = (): InvocationRecord[] => t.cloud.ledger.recentInvocations(2000, 'tick').reverse()
    let runs: InvocationRecord[] = []
    try {
      const deadline = Date.now() + 20_000 // only waits: a loaded machine may fire late
      while (fired().length < 2 && Date.now() < deadline) await sleep(25)
      runs = fired()
    } finally {
      await t.stop()
    }
    expect(runs.length).toBeGreaterThanOrEqual(2)
    for (const run of runs) expect(run).toMatchObject({ source: 'wx_trigger', outcome: 'ok' })
    // Not faster than the schedule (how late a loaded machine fires is not a test's business).
    expect(runs[1]!.startedAt - runs[0]!.startedAt).toBeGreaterThan(800)

    const afterStop = fired().length
    await sleep(1100)
    expect(fired().length).toBe(afterStop)
  })
})

describe('trigger configuration is checked when functions load', () => {
  let root: string
  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'timers-test-'))
  })
  afterEach(() => {
    rmSync(root, { recursive: true, force: true })
  })

  function functionsWithTrigger(trigger: Record<string, unknown>): string {
    const dir = path.join(root, 'functions')
    cpSync(path.join(FIXTURE_FUNCTIONS, 'tick'), path.join(dir, 'tick'), { recursive: true })
    writeFileSync(path.join(dir, 'tick/config.json'), JSON.stringify({ triggers: [{ type: 'timer', ...trigger }] }))
    return dir
  }

  /** Open file descriptors of this process that point into `dir`. */
  function openFilesUnder(dir: string): string[] {
    return readdirSync('/proc/self/fd')
      .map((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`)
        } catch {
          return ''
        }
      })
      .filter((target) => target.startsWith(dir))
  }

  test.each([
    ['a 6-field cron (WeChat needs 7)', { name: 'daily', config: '0 0 2 1 * *' }, 'triggers.0.config'],
    ['a cron with an out-of-range value', { name: 'daily', config: '61 0 2 1 * * *' }, 'triggers.0.config'],
    ['a trigger name starting with a digit', { name: '1daily', config: '0 0 2 1 * * *' }, 'triggers.0.name'],
  ])('%s fails the start, naming the field, and leaves nothing open', async (_what, trigger, field) => {
    const functionsDir = functionsWithTrigger(trigger)
    const dataDir = path.join(root, 'data')
    mkdirSync(dataDir)
    await expect(startCloud({ functionsDir, dataDir })).rejects.toThrow(new RegExp(`tick/config\\.json is invalid: ${field.replace(/\./g, '\\.')}`))
    expect(openFilesUnder(dataDir)).toEqual([])
  })

  test('a valid 7-field cron loads', async () => {
    const t = await startCloud({ functionsDir: functionsWithTrigger({ name: 'daily', config: '0 0 2 1 * * *' }), dataDir: path.join(root, 'data') })
    try {
      expect(t.cloud.functions().find((f) => f.name === 'tick')!.triggers).toEqual([{ name: 'daily', cron: '0 0 2 1 * * *' }])
    } finally {
      await t.stop()
    }
  })
})
