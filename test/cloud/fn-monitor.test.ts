/**
 * The `monitor` function against a real local cloud: window statistics from arranged events,
 * incidents that alert admins once (subscription messages in `_outbox`, a webhook received by a
 * server in this test) and resolve, who may run it, concurrent runs; webhookBody's formats.
 */
import { copyFileSync, mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import type { MonitorOutputs, Transition, WindowStats } from '../../cloudfunctions/monitor/api'
import { postWebhook, webhookBody } from '../../cloudfunctions/_shared/webhook'
import { uuidv7 } from '../../miniprogram/core/uuid'
import { callAction, callGateway, startCloud, type TestCloud } from '../helpers/local-cloud'

type Run = MonitorOutputs['run']
type Doc = Record<string, unknown>

const W = 5 * 60_000
const DAY = 86_400_000
const ADMINS = ['o-admin-1', 'o-admin-2']
const ENV_ADMIN = 'o-env-admin'
const TEMPLATE = 'tmpl-monitor-alert'
const QUOTA = 20

/** "YYYY-MM-DD HH:MM" in Asia/Shanghai (UTC+8), built from the parts. */
function shanghaiMinute(ms: number): string {
  const d = new Date(ms + 8 * 3600_000)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`
}

// ---- the webhook receiver ----------------------------------------------------------------------

interface Received {
  url: string
  contentType: string | undefined
  body: Record<string, unknown>
}

function startReceiver() {
  const received: Received[] = []
  const state = { status: 200, hang: false }
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (state.hang) return
      received.push({ url: req.url ?? '', contentType: req.headers['content-type'], body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> })
      res.writeHead(state.status, { 'content-type': 'application/json' })
      res.end('{"errcode":0}')
    })
  })
  return {
    received,
    state,
    async listen(): Promise<number> {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      return (server.address() as AddressInfo).port
    },
    close(): Promise<void> {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

// ---- a cloud whose monitor has its env variables set ------------------------------------------

const TMP = path.resolve(__dirname, '../.tmp')

function monitorFolder(env: Record<string, string>): string {
  // One recursive mkdir: it recreates test/.tmp should another test file remove it meanwhile.
  const dir = path.join(TMP, `monitor-${process.pid}-${Date.now().toString(36)}`)
  mkdirSync(dir, { recursive: true })
  const src = path.resolve(__dirname, '../../cloudfunctions/monitor')
  mkdirSync(path.join(dir, 'monitor'))
  copyFileSync(path.join(src, 'index.js'), path.join(dir, 'monitor/index.js'))
  copyFileSync(path.join(src, 'package.json'), path.join(dir, 'monitor/package.json'))
  const config = JSON.parse(readFileSync(path.join(src, 'config.json'), 'utf8')) as { envVariables?: Record<string, string> }
  config.envVariables = { ...config.envVariables, ...env }
  writeFileSync(path.join(dir, 'monitor/config.json'), JSON.stringify(config))
  return dir
}

const receiver = startReceiver()
let dir: string
let t: TestCloud

beforeAll(async () => {
  const port = await receiver.listen()
  dir = monitorFolder({
    MONITOR_ERROR_RATE: '0.05',
    MONITOR_MIN_SESSIONS: '20',
    MONITOR_SLOW_RATE: '0.1',
    MONITOR_MIN_CALLS: '50',
    MONITOR_WEBHOOK_URL: `http://127.0.0.1:${port}/hook?key=test-key`,
    ADMIN_OPENIDS: ENV_ADMIN,
  })
  t = await startCloud({ functionsDir: dir, maxWorkers: 4 })
  t.cloud.store.insert('app_config', [
    { _id: 'admins', openids: ADMINS },
    { _id: 'templates', ids: { ops_alert: TEMPLATE } },
  ])
  // Each admin subscribed to alerts on the dashboard, often enough for every incident below.
  for (const admin of [...ADMINS, ENV_ADMIN]) subscribe(admin, QUOTA)
})
afterAll(async () => {
  await t?.stop()
  await receiver.close()
  rmSync(dir, { recursive: true, force: true })
  try {
    rmdirSync(TMP)
  } catch {
    // another test file still uses it
  }
})

// ---- arranging events ---------------------------------------------------------------------------

/** Window k: k windows after a complete window a day ago. */
const BASE = Math.floor(Date.now() / W) * W - DAY
const win = (k: number) => ({ from: BASE + k * W, to: BASE + (k + 1) * W })

interface Session {
  /** Event names (page_view, js_error, cloud_call_failed, ...). */
  events?: string[]
  /** cloud_calls events: calls, slow, failed. */
  calls?: [number, number, number][]
  /** Exact receivedAt offsets (from the window start) instead of spread ones. */
  at?: number
}

const PROPS: Record<string, Doc> = {
  page_view: {},
  js_error: { message: 'TypeError: x is undefined' },
  promise_rejection: { message: 'timeout' },
  page_not_found: { path: 'pages/old/index', isEntryPage: true },
  cloud_call_failed: { fn: 'content', action: 'list', code: 'INTERNAL', durationMs: 120 },
  element_tap: { element: 'home.card' },
}

let serial = 0

/** Inserts the sessions' events with receivedAt spread inside [from, from + W). */
function arrange(from: number, sessions: Session[]): void {
  const docs: Doc[] = []
  for (const s of sessions) {
    const sessionId = uuidv7()
    const anonymousId = uuidv7()
    const openid = `o-user-${serial++}`
    const items: [string, Doc][] = [
      ...(s.events ?? []).map((name): [string, Doc] => [name, PROPS[name]!]),
      ...(s.calls ?? []).map(([calls, slow, failed]): [string, Doc] => ['cloud_calls', { calls, slow, failed, totalMs: calls * 100 }]),
    ]
    for (const [name, props] of items) {
      const received = from + (s.at ?? 1000 + ((serial * 7919 + docs.length * 104_729) % (W - 2000)))
      docs.push({
        _id: uuidv7(received),
        name,
        ts: new Date(received - 800),
        day: new Date(received + 8 * 3600_000).toISOString().slice(0, 10),
        receivedAt: new Date(received),
        openid,
        anonymousId,
        sessionId,
        page: 'pages/home/index',
        props,
      })
    }
  }
  t.cloud.store.insert('events', docs)
}

/** n sessions, the first `withError` of which had a js_error. */
function sessions(n: number, withError = 0): Session[] {
  return Array.from({ length: n }, (_, i) => ({ events: i < withError ? ['page_view', 'js_error'] : ['page_view', 'element_tap'] }))
}

async function run(at: number, openid: string | undefined = ADMINS[0], cloud = t): Promise<Run> {
  const reply = await callAction<Run>(cloud.url, 'monitor', 'run', { at: new Date(at).toISOString() }, openid)
  if (!reply.ok) throw new Error(JSON.stringify(reply.error))
  return reply.data
}

const outbox = (cloud = t) => cloud.cloud.store.find('_outbox', { query: {}, limit: 1000 })
const state = (kind: string) => t.cloud.store.find('monitor_state', { query: { _id: kind } })[0]
const quota = (openid: string) => t.cloud.store.find('subscriptions', { query: { _id: `${openid}:ops_alert` } })[0]?.quota as number | undefined

/** The admin's `ops_alert` subscription with `n` accepts left, as notify.record leaves it. */
function subscribe(openid: string, n: number): void {
  const _id = `${openid}:ops_alert`
  t.cloud.store.modify('subscriptions', { query: { _id }, multi: false, merge: false, upsert: true, data: {
    _id, openid, template: 'ops_alert', quota: n,
    counts: { accept: n, reject: 0, ban: 0, filter: 0, switched_off: 0 },
    last: { outcome: 'accept', at: new Date() },
    hourly: { hour: '', n: 0 },
  } })
}

/** What was sent during `action`: new subscription messages and webhook posts. */
async function sent<T>(action: () => Promise<T>): Promise<{ result: T; messages: Doc[]; hooks: Received[] }> {
  const [messages, hooks] = [outbox().length, receiver.received.length]
  const result = await action()
  return { result, messages: outbox().slice(messages), hooks: receiver.received.slice(hooks) }
}

// ---- tests --------------------------------------------------------------------------------------

describe('window statistics', () => {
  const { from, to } = win(0)
  beforeAll(() => {
    arrange(from, [
      { events: ['js_error', 'js_error'], calls: [[10, 2, 1]] },
      { events: ['cloud_call_failed', 'page_view'] },
      { events: ['promise_rejection', 'page_view'] },
      { events: ['page_view'], calls: [[5, 0, 0]] },
      { calls: [[7, 3, 2], [3, 1, 0]] },
      { events: ['page_view'] },
      { events: ['page_view', 'page_view'] },
      { events: ['page_view'], at: 0 }, // exactly at the start: inside
    ])
    // Outside: just before the window, exactly at its end, well after.
    arrange(from, [{ events: ['js_error'], calls: [[100, 100, 100]], at: -1 }])
    arrange(from, [{ events: ['js_error', 'page_not_found'], calls: [[100, 100, 100]], at: W }])
    arrange(from, [{ events: ['js_error'], at: W + 60_000 }])
  })

  test('are computed over the events received in [from, to) only', async () => {
    const result = await run(to)
    // 8 sessions; 3 with an error event (js_error x2, cloud_call_failed, promise_rejection = 4 errors);
    // calls 10 + 5 + 7 + 3 = 25, slow 2 + 3 + 1 = 6, failed 1 + 2 = 3.
    const expected: WindowStats = {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      sessions: 8,
      sessionsWithError: 3,
      errors: 4,
      calls: 25,
      slowCalls: 6,
      failedCalls: 3,
      errorRate: 3 / 8,
      slowRate: 6 / 25,
    }
    expect(result).toEqual({ window: expected, transitions: [] })
    expect(t.cloud.store.find('monitor_windows', { query: { _id: expected.from } })[0]).toEqual({
      ...expected,
      _id: expected.from,
      from: new Date(from),
      to: new Date(to),
    })
  })

  test('`at` anywhere in the next window checks the same complete window; the window document is replaced, not duplicated', async () => {
    const result = await run(to + 2 * 60_000 + 17_000)
    expect(result.window).toMatchObject({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), sessions: 8 })
    expect(t.cloud.store.count('monitor_windows', { _id: new Date(from).toISOString() })).toBe(1)
  })

  test('a window without events has zero rates', async () => {
    const { from: emptyFrom, to: emptyTo } = win(-5)
    const result = await run(emptyTo)
    expect(result.window).toEqual({
      from: new Date(emptyFrom).toISOString(),
      to: new Date(emptyTo).toISOString(),
      sessions: 0,
      sessionsWithError: 0,
      errors: 0,
      calls: 0,
      slowCalls: 0,
      failedCalls: 0,
      errorRate: 0,
      slowRate: 0,
    })
  })

  test('a quiet run costs the admin check, one aggregation and one write', async () => {
    await run(win(-6).to)
    expect(t.cloud.ledger.recentInvocations(1, 'monitor')[0]?.db).toEqual({ getDocument: 1, aggregateDocuments: 1, modifyDocument: 1 })
  })
})

describe('error-rate alerts', () => {
  const opened = (value: number, notified = 3, unsubscribed = 0): Transition => ({ kind: 'error_rate', state: 'opened', value, threshold: 0.05, notified, unsubscribed, webhook: 'sent' })
  const resolved = (value: number): Transition => ({ kind: 'error_rate', state: 'resolved', value, threshold: 0.05, notified: 0, unsubscribed: 0, webhook: 'sent' })

  test('a bad window opens an incident: every admin gets one subscription message, the webhook one post', async () => {
    arrange(win(10).from, sessions(20, 2))
    const { result, messages, hooks } = await sent(() => run(win(10).to))
    expect(result.window).toMatchObject({ sessions: 20, sessionsWithError: 2, errorRate: 0.1 })
    expect(result.transitions).toEqual([opened(0.1)])

    expect(messages.map((m) => m.touser).sort()).toEqual([...ADMINS, ENV_ADMIN].sort())
    for (const m of messages) {
      expect(m).toMatchObject({
        templateId: TEMPLATE,
        page: expect.stringMatching(/^packages\/admin\/index\?tab=errors&msg=ops_alert%3Aerror_rate%3A/),
        data: {
          thing1: { value: '错误率10.0%超阈值' },
          time2: { value: shanghaiMinute(win(10).to) },
          character_string3: { value: '2/20' },
        },
      })
    }

    expect(hooks).toHaveLength(1)
    expect(hooks[0]).toMatchObject({ url: '/hook?key=test-key', contentType: 'application/json' })
    expect(hooks[0]!.body).toEqual({
      text: `错误率 10.0%，超过阈值 5.0%（${shanghaiMinute(win(10).from)} 起 5 分钟）`,
      kind: 'error_rate',
      state: 'opened',
      value: 0.1,
      threshold: 0.05,
      window: result.window,
    })
    expect(state('error_rate')).toMatchObject({ open: true, alerts: 1, value: 0.1, threshold: 0.05, openedAt: expect.any(Date) })
  })

  test('the same window again, or the next bad one, sends nothing more', async () => {
    arrange(win(11).from, sessions(25, 5))
    const { result, messages, hooks } = await sent(async () => [await run(win(10).to), await run(win(11).to)])
    expect(result.map((r) => r.transitions)).toEqual([[], []])
    expect(result[1]!.window.errorRate).toBe(0.2)
    expect(messages).toEqual([])
    expect(hooks).toEqual([])
    expect(state('error_rate')).toMatchObject({ open: true, alerts: 1 })
  })

  test('a good window resolves it: the webhook hears of the recovery, admins get no message', async () => {
    arrange(win(12).from, sessions(20, 0))
    const { result, messages, hooks } = await sent(() => run(win(12).to))
    expect(result.transitions).toEqual([resolved(0)])
    expect(messages).toEqual([])
    expect(hooks.map((h) => h.body)).toEqual([
      { text: '错误率已恢复：0.0%（阈值 5.0%）', kind: 'error_rate', state: 'resolved', value: 0, threshold: 0.05, window: result.window },
    ])
    expect(state('error_rate')).toMatchObject({ open: false, closedAt: expect.any(Date) })
  })

  test('a new bad window opens a new incident and alerts again', async () => {
    arrange(win(13).from, sessions(40, 3))
    const { result, messages, hooks } = await sent(() => run(win(13).to))
    expect(result.transitions).toEqual([opened(3 / 40)])
    expect(messages).toHaveLength(3)
    expect(messages[0]?.data).toMatchObject({ character_string3: { value: '3/40' }, thing1: { value: '错误率7.5%超阈值' } })
    expect(hooks).toHaveLength(1)
    expect(state('error_rate')).toMatchObject({ open: true, alerts: 2 })
  })

  test('a window with too few sessions neither resolves an open incident nor alerts', async () => {
    arrange(win(14).from, sessions(19, 0))
    arrange(win(15).from, sessions(19, 10))
    const { result, messages, hooks } = await sent(async () => [await run(win(14).to), await run(win(15).to)])
    expect(result.map((r) => r.transitions)).toEqual([[], []])
    expect(result[1]!.window).toMatchObject({ sessions: 19, sessionsWithError: 10 })
    expect([messages, hooks]).toEqual([[], []])
    expect(state('error_rate')).toMatchObject({ open: true, alerts: 2 })

    arrange(win(16).from, sessions(20, 1)) // exactly at the threshold: good
    expect((await run(win(16).to)).transitions).toEqual([resolved(0.05)])
  })

  test('below MONITOR_MIN_SESSIONS a bad rate does not alert', async () => {
    arrange(win(17).from, sessions(19, 19))
    const { result, messages, hooks } = await sent(() => run(win(17).to))
    expect(result.window.errorRate).toBe(1)
    expect(result.transitions).toEqual([])
    expect([messages, hooks]).toEqual([[], []])
    expect(state('error_rate')).toMatchObject({ open: false })
  })

  test('a webhook that fails is reported, and the incident still alerts only once', async () => {
    receiver.state.status = 500
    try {
      arrange(win(18).from, sessions(20, 4))
      const first = await sent(() => run(win(18).to))
      expect(first.result.transitions).toEqual([{ ...opened(0.2), webhook: 'failed' }])
      expect(first.messages).toHaveLength(3)
      expect(first.hooks).toHaveLength(1)
      arrange(win(19).from, sessions(20, 4))
      const again = await sent(() => run(win(19).to))
      expect(again.result.transitions).toEqual([])
      expect(again.hooks).toEqual([])
    } finally {
      receiver.state.status = 200
    }
    arrange(win(20).from, sessions(20, 0))
    expect((await run(win(20).to)).transitions).toEqual([resolved(0)])
  })

  test('a message the platform refuses for one admin does not keep the others from theirs', async () => {
    // WeChat answers 43101 for this admin (the accept was withdrawn): their quota is 0 from then on.
    t.cloud.store.insert('_openapi_faults', [{ api: 'subscribeMessage.send', touser: ADMINS[1], errcode: 43101, times: 1 }])
    try {
      await refusedOnce()
    } finally {
      subscribe(ADMINS[1]!, QUOTA)
    }
  })

  async function refusedOnce(): Promise<void> {
    arrange(win(21).from, sessions(20, 2))
    const { result, messages, hooks } = await sent(() => run(win(21).to))
    expect(result.transitions).toEqual([opened(0.1, 2)])
    expect(messages.map((m) => m.touser).sort()).toEqual([ADMINS[0], ENV_ADMIN].sort())
    expect(hooks).toHaveLength(1)
    expect(quota(ADMINS[1]!)).toBe(0)
    arrange(win(22).from, sessions(20, 0))
    expect((await run(win(22).to)).transitions).toEqual([resolved(0)])

    // Until they subscribe again, the next incident counts them as unsubscribed and spends nothing.
    const before = quota(ADMINS[0]!)!
    arrange(win(23).from, sessions(20, 2))
    const next = await sent(() => run(win(23).to))
    expect(next.result.transitions).toEqual([opened(0.1, 2, 1)])
    expect(next.messages.map((m) => m.touser).sort()).toEqual([ADMINS[0], ENV_ADMIN].sort())
    expect(quota(ADMINS[0]!)).toBe(before - 1)
    expect(quota(ADMINS[1]!)).toBe(0)
    const logs = t.cloud.store.find('message_log', { query: { openid: ADMINS[1], template: 'ops_alert' }, limit: 100 })
    expect(logs.filter((l) => l.status !== 'sent').map((l) => [l.status, l.errCode ?? l.error])).toEqual([['failed', 43101], ['refused', 'no_quota']])
    arrange(win(24).from, sessions(20, 0))
    expect((await run(win(24).to)).transitions).toEqual([resolved(0)])
  }

  test('each admin gets one message per incident, spending one accept; the log names the incident', async () => {
    const before = quota(ADMINS[0]!)!
    arrange(win(25).from, sessions(20, 2))
    const { messages } = await sent(() => run(win(25).to))
    expect(messages).toHaveLength(3)
    expect(quota(ADMINS[0]!)).toBe(before - 1)
    const reason = `ops_alert:error_rate:${new Date(win(25).from).toISOString()}:${ADMINS[0]}`
    expect(t.cloud.store.find('message_log', { query: { _id: reason } })[0]).toMatchObject({ openid: ADMINS[0], template: 'ops_alert', status: 'sent' })
    arrange(win(26).from, sessions(20, 0))
    expect((await run(win(26).to)).transitions).toEqual([resolved(0)])
  })
})

describe('slow-call alerts', () => {
  /** 20 sessions without errors, one of which made `calls` cloud calls, `slow` of them slow. */
  const withCalls = (calls: number, slow: number): Session[] => [{ events: ['page_view'], calls: [[calls - 10, slow, 0], [10, 0, 1]] }, ...sessions(19)]

  test('a slow-call rate over the threshold with enough calls opens an incident and alerts once', async () => {
    arrange(win(30).from, withCalls(60, 7))
    const { result, messages, hooks } = await sent(() => run(win(30).to))
    expect(result.window).toMatchObject({ calls: 60, slowCalls: 7, failedCalls: 1, errorRate: 0 })
    expect(result.transitions).toEqual([{ kind: 'slow_calls', state: 'opened', value: 7 / 60, threshold: 0.1, notified: 3, unsubscribed: 0, webhook: 'sent' }])
    expect(messages).toHaveLength(3)
    for (const m of messages) {
      expect(m.data).toEqual({
        thing1: { value: '慢调用率11.7%超阈值' },
        time2: { value: shanghaiMinute(win(30).to) },
        // The numbers behind the alert: slow calls of all calls (not sessions with errors).
        character_string3: { value: '7/60' },
      })
    }
    expect(hooks.map((h) => h.body)).toEqual([
      {
        text: `慢调用率 11.7%，超过阈值 10.0%（${shanghaiMinute(win(30).from)} 起 5 分钟）`,
        kind: 'slow_calls',
        state: 'opened',
        value: 7 / 60,
        threshold: 0.1,
        window: result.window,
      },
    ])

    arrange(win(31).from, withCalls(80, 20))
    const again = await sent(() => run(win(31).to))
    expect([again.result.transitions, again.messages, again.hooks]).toEqual([[], [], []])
  })

  test('a rate exactly at the threshold resolves it; too few calls neither alerts nor resolves', async () => {
    arrange(win(32).from, withCalls(60, 6))
    const { result, messages, hooks } = await sent(() => run(win(32).to))
    expect(result.transitions).toEqual([{ kind: 'slow_calls', state: 'resolved', value: 0.1, threshold: 0.1, notified: 0, unsubscribed: 0, webhook: 'sent' }])
    expect(messages).toEqual([])
    expect(hooks).toHaveLength(1)

    arrange(win(33).from, withCalls(49, 40))
    const few = await sent(() => run(win(33).to))
    expect(few.result.window).toMatchObject({ calls: 49, slowCalls: 40 })
    expect([few.result.transitions, few.messages, few.hooks]).toEqual([[], [], []])
    expect(state('slow_calls')).toMatchObject({ open: false, alerts: 1 })
  })
})

describe('who may run it', () => {
  test('the timer runs it on the last complete window', async () => {
    const before = Math.floor(Date.now() / W) * W
    const res = await fetch(`${t.url}/_/triggers/monitor/every-5-minutes`, { method: 'POST' })
    const after = Math.floor(Date.now() / W) * W
    expect(res.status).toBe(200)
    const body = (await res.json()) as { result: { ok: boolean; data: Run } }
    expect(body.result.ok).toBe(true)
    const to = Date.parse(body.result.data.window.to)
    expect([before, after]).toContain(to)
    expect(Date.parse(body.result.data.window.from)).toBe(to - W)
    expect(t.cloud.store.count('monitor_windows', { _id: body.result.data.window.from })).toBe(1)
    // No admin check on the timer's path: one aggregation, one write.
    expect(t.cloud.ledger.recentInvocations(1, 'monitor')[0]?.db).toEqual({ aggregateDocuments: 1, modifyDocument: 1 })
  })

  test.each([
    ['a normal user', 'o-user-normal'],
    ['a caller without OPENID', undefined],
  ])('%s is FORBIDDEN and nothing is computed or written', async (_who, openid) => {
    const windows = t.cloud.store.count('monitor_windows', {})
    const reply = await callGateway<{ result: unknown }>(t.url, 'monitor', { action: 'run', data: { at: new Date(win(0).to).toISOString() } }, { openid })
    expect(reply.body.result).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
    expect(reply.headers.get('x-db-ops')).toBe(openid ? 'getDocument=1' : '')
    expect(t.cloud.store.count('monitor_windows', {})).toBe(windows)
  })

  test.each([
    ['an admin listed in app_config', ADMINS[1]],
    ['an admin listed in ADMIN_OPENIDS', ENV_ADMIN],
  ])('%s may run it', async (_who, openid) => {
    const result = await run(win(0).to, openid)
    expect(result.window.sessions).toBe(8)
  })

  test('a bad `at` is INVALID_INPUT', async () => {
    expect(await callAction(t.url, 'monitor', 'run', { at: 'yesterday' }, ADMINS[0])).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
  })
})

test('concurrent runs of a bad window open one incident and alert once', async () => {
  arrange(win(40).from, sessions(20, 5))
  const alertsBefore = (state('error_rate')?.alerts as number | undefined) ?? 0
  const { result, messages, hooks } = await sent(() => Promise.all(Array.from({ length: 8 }, () => run(win(40).to))))
  expect(result.flatMap((r) => r.transitions)).toEqual([{ kind: 'error_rate', state: 'opened', value: 0.25, threshold: 0.05, notified: 3, unsubscribed: 0, webhook: 'sent' }])
  expect(messages).toHaveLength(3)
  expect(hooks).toHaveLength(1)
  expect(state('error_rate')).toMatchObject({ open: true, alerts: alertsBefore + 1 })
  expect(t.cloud.store.count('monitor_windows', { _id: new Date(win(40).from).toISOString() })).toBe(1)

  arrange(win(41).from, sessions(20, 0))
  const resolving = await Promise.all(Array.from({ length: 4 }, () => run(win(41).to)))
  expect(resolving.flatMap((r) => r.transitions).map((tr) => tr.state)).toEqual(['resolved'])
})

describe('without the ops_alert template id and MONITOR_WEBHOOK_URL (the shipped config)', () => {
  let plain: TestCloud
  beforeAll(async () => {
    plain = await startCloud()
    plain.cloud.store.insert('app_config', [{ _id: 'admins', openids: ADMINS }])
  })
  afterAll(() => plain.stop())

  test('an incident still opens once, with nobody notified and the webhook off', async () => {
    const { from, to } = win(0)
    const docs = Array.from({ length: 20 }, (_, i) => {
      const receivedAt = new Date(from + 1000 + i * 1000)
      return { _id: uuidv7(receivedAt.getTime()), name: i < 3 ? 'js_error' : 'page_view', ts: receivedAt, day: '', receivedAt, openid: `o-${i}`, anonymousId: uuidv7(), sessionId: uuidv7(), page: '', props: i < 3 ? PROPS.js_error : {} }
    })
    plain.cloud.store.insert('events', docs)
    const result = await run(to, ADMINS[0], plain)
    expect(result.transitions).toEqual([{ kind: 'error_rate', state: 'opened', value: 0.15, threshold: 0.05, notified: 0, unsubscribed: 0, webhook: 'off' }])
    expect(outbox(plain)).toEqual([])
    expect((await run(to, ADMINS[0], plain)).transitions).toEqual([])
  })
})

describe('webhookBody', () => {
  const details = { kind: 'error_rate', value: 0.1 }
  const wecom = { msgtype: 'text', text: { content: 'hi' } }
  const feishu = { msg_type: 'text', content: { text: 'hi' } }
  const generic = { text: 'hi', ...details }

  test.each([
    ['https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693axxx6-7aoc-4bc4-97a0-0ec2sifa5aaa', wecom],
    ['https://QYAPI.weixin.qq.com/cgi-bin/webhook/send?key=abc', wecom],
    ['https://qyapi.weixin.qq.com:443/cgi-bin/webhook/send?key=abc&debug=1', wecom],
    ['http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc', wecom],
    ['https://open.feishu.cn/open-apis/bot/v2/hook/0b2d1f9e-aaaa-bbbb-cccc-123456789abc', feishu],
    ['https://open.larksuite.com/open-apis/bot/v2/hook/0b2d1f9e', feishu],
    ['https://hooks.example.com/alerts', generic],
    ['https://qyapi.weixin.qq.com.example.com/cgi-bin/webhook/send?key=abc', generic],
    ['https://example.com/qyapi.weixin.qq.com/send', generic],
    ['https://notfeishu.cn/open-apis/bot/v2/hook/x', generic],
    ['https://mylarksuite.com/hook', generic],
  ])('%s', (url, body) => {
    expect(webhookBody(url, 'hi', details)).toEqual(body)
  })

  test('postWebhook posts the JSON body and returns the status; a server that does not answer times out', async () => {
    const local = startReceiver()
    const port = await local.listen()
    try {
      local.state.status = 204
      expect(await postWebhook(`http://127.0.0.1:${port}/x`, '告警', { a: 1 })).toBe(204)
      expect(local.received).toEqual([{ url: '/x', contentType: 'application/json', body: { text: '告警', a: 1 } }])
      local.state.hang = true
      await expect(postWebhook(`http://127.0.0.1:${port}/x`, 'hi', {}, 200)).rejects.toThrow(/timed out after 200 ms/)
    } finally {
      await local.close()
    }
  })
})
