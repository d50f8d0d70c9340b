/**
 * `npm run bench:cloud`: throughput and latency of real function calls through the local cloud's
 * gateway, the database round trips each call costs, and worker cold start vs warm invocation.
 *
 *   npm run bench:cloud -- --duration 5 --workers 4 --json
 *
 * The local cloud runs as its own process (as with `npm start`); the load comes from this one.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { ROOT } from '../paths'

interface Invocation {
  fn: string
  action?: string
  dbTotal: number
  coldStart?: boolean
  startMs?: number
  durationMs?: number
  startedAt: number
}

interface Row {
  call: string
  clients: number
  rps: number
  p50: number
  p99: number
  errors: number
  dbPerCall: number
}

async function startCloud(workers: number): Promise<{ url: string; proc: ChildProcess; dataDir: string }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bench-cloud-'))
  const proc = spawn(
    process.execPath,
    [require.resolve('tsx/cli'), 'tools/local-cloud/cli.ts', '--port', '0', '--data', dataDir, '--json', '--no-watch', '--no-timers', '--workers', String(workers)],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] },
  )
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout! })
    lines.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { event?: string; url?: string }
        if (msg.event === 'ready' && msg.url) resolve(msg.url)
      } catch {
        // not the ready line
      }
    })
    proc.once('exit', (code) => reject(new Error(`local cloud exited with code ${String(code)}`)))
  })
  return { url, proc, dataDir }
}

async function call(url: string, fn: string, event: unknown, openid: string): Promise<Response> {
  const res = await fetch(`${url}/functions/${fn}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-wx-openid': openid },
    body: JSON.stringify(event),
  })
  if (!res.ok) throw new Error(`${fn} answered ${res.status}: ${await res.text()}`)
  return res
}

async function invocations(url: string, since: number, fn: string, action: string): Promise<Invocation[]> {
  const res = await fetch(`${url}/_/invocations?fn=${fn}&limit=2000`)
  const body = (await res.json()) as { invocations: Invocation[] }
  return body.invocations.filter((i) => i.startedAt >= since && i.action === action)
}

async function load(url: string, name: string, fn: string, action: string, clients: number, duration: number, openids: string[]): Promise<Row> {
  const since = Date.now()
  let n = 0
  const result = await autocannon({
    url: `${url}/functions/${fn}`,
    connections: clients,
    duration,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (req) => ({
          ...req,
          body: JSON.stringify({ action, data: action === 'list' ? { limit: 10 } : {} }),
          headers: { ...req.headers, 'x-wx-openid': openids[n++ % openids.length]! },
        }),
      },
    ],
  })
  const calls = await invocations(url, since, fn, action)
  const db = calls.reduce((sum, i) => sum + i.dbTotal, 0)
  return {
    call: name,
    clients,
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
    dbPerCall: calls.length ? Math.round((db / calls.length) * 100) / 100 : 0,
  }
}

/** Cold start: the first call on a fresh worker process (after the previous one was recycled). */
async function coldVsWarm(url: string, samples: number): Promise<{ coldMs: number[]; startMs: number[]; warmMs: number[] }> {
  const coldMs: number[] = []
  const startMs: number[] = []
  const warmMs: number[] = []
  for (let i = 0; i < samples; i++) {
    await fetch(`${url}/_/recycle/content`, { method: 'POST' })
    const started = performance.now()
    const res = await call(url, 'content', { action: 'categories' }, 'bench-cold')
    coldMs.push(performance.now() - started)
    if (res.headers.get('x-cold-start') !== '1') throw new Error('expected a cold start after recycling')
    const [record] = await invocations(url, 0, 'content', 'categories')
    startMs.push(record?.startMs ?? 0)
    for (let j = 0; j < 5; j++) {
      const t = performance.now()
      await call(url, 'content', { action: 'categories' }, 'bench-warm')
      warmMs.push(performance.now() - t)
    }
  }
  return { coldMs, startMs, warmMs }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[Math.floor(s.length / 2)]! : 0
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '5' },
      workers: { type: 'string', default: '4' },
      clients: { type: 'string', default: '1,8,32' },
      'cold-samples': { type: 'string', default: '5' },
      json: { type: 'boolean', default: false },
    },
  })
  const duration = Number(values.duration)
  const workers = Number(values.workers)
  const levels = values.clients.split(',').map(Number)
  const { url, proc, dataDir } = await startCloud(workers)
  try {
    // 1000 returning users, so user.login measures the common path (the user exists).
    const openids = Array.from({ length: 1000 }, (_, i) => `bench-user-${i}`)
    for (let i = 0; i < openids.length; i += 50) {
      await Promise.all(openids.slice(i, i + 50).map((o) => call(url, 'user', { action: 'login' }, o)))
    }
    const rows: Row[] = []
    for (const [name, fn, action] of [
      ['content.list', 'content', 'list'],
      ['user.login', 'user', 'login'],
    ] as const) {
      await load(url, name, fn, action, Math.max(...levels), 1, openids) // warm every worker
      for (const clients of levels) rows.push(await load(url, name, fn, action, clients, duration, openids))
    }
    const cold = await coldVsWarm(url, Number(values['cold-samples']))
    const report = {
      machine: `${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'unknown cpu'}, node ${process.version}`,
      workersPerFunction: workers,
      durationS: duration,
      rows,
      coldStart: { medianMs: Math.round(median(cold.coldMs)), processStartAndLoadMedianMs: Math.round(median(cold.startMs)), samples: cold.coldMs.length },
      warm: { medianMs: Math.round(median(cold.warmMs) * 10) / 10, samples: cold.warmMs.length },
    }
    if (values.json) {
      console.log(JSON.stringify(report, null, 2))
      return
    }
    console.log(`\nLocal cloud gateway benchmark (${report.machine}; ${workers} workers per function; ${duration}s per row)\n`)
    console.log('call           clients    req/s   p50 ms   p99 ms   errors   DB round trips/call')
    for (const r of rows) {
      console.log(
        `${r.call.padEnd(14)} ${String(r.clients).padStart(7)} ${String(r.rps).padStart(8)} ${String(r.p50).padStart(8)} ${String(r.p99).padStart(8)} ${String(r.errors).padStart(8)}   ${r.dbPerCall}`,
      )
    }
    console.log(
      `\ncold start (first call on a new worker): median ${report.coldStart.medianMs} ms, of which process start + function load ${report.coldStart.processStartAndLoadMedianMs} ms (${report.coldStart.samples} samples)`,
    )
    console.log(`warm invocation (content.categories, sequential): median ${report.warm.medianMs} ms (${report.warm.samples} samples)\n`)
  } finally {
    proc.kill('SIGTERM')
    rmSync(dataDir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
