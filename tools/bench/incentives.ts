/**
 * `npm run bench:incentives`: what the points ledger costs and whether it holds under load.
 *
 *  1. cost: DB round trips per check-in, per task claim, per referral reward (and the other actions),
 *     counted by the local cloud (x-db-roundtrips), on a warm function instance (config cached);
 *  2. throughput: check-ins per second with 32 concurrent users. Every call is a NEW user's first
 *     check-in of the day (a full grant: its transaction, ledger entry and account), so the rate is
 *     that of real grants, not of cheap "already checked in" answers; a second run has 32 users
 *     tapping check-in again and again (one grant each, the rest answered idempotently);
 *  3. the invariant, verified after the runs by reading every account and ledger entry back:
 *     balance = sum(ledger), lifetime = sum(grants), entries numbered without gaps, one grant each.
 *
 *   npm run bench:incentives -- --seconds 10 --clients 32 --workers 4 --json
 *   npm run bench:incentives -- --write-docs   # also rewrites the round-trip table in docs/benchmarks.md
 */
import http from 'node:http'
import os from 'node:os'
import { parseArgs } from 'node:util'
import type { PointsAccountDoc, PointsLedgerDoc } from '../../cloudfunctions/_shared/models'
import { auditLedger } from '../../cloudfunctions/incentives/rules'
import { CloudDatabase, startCloudProcess } from '../local-cloud/client'
import { GENERATED, writeBetweenMarkers } from './docs'

interface Reply {
  ok: boolean
  data?: Record<string, unknown>
  error?: { code: string; message: string }
}

/** One call through the gateway: its result and the DB round trips the cloud counted for it. */
async function call(url: string, fn: string, action: string, data: unknown, openid: string): Promise<{ result: Reply; roundTrips: number }> {
  const res = await fetch(`${url}/functions/${fn}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-wx-openid': openid },
    body: JSON.stringify({ action, data }),
  })
  const body = (await res.json()) as { result?: Reply }
  if (res.status !== 200 || !body.result) throw new Error(`${fn}.${action}: HTTP ${res.status}`)
  return { result: body.result, roundTrips: Number(res.headers.get('x-db-roundtrips')) }
}

async function must(url: string, fn: string, action: string, data: unknown, openid: string): Promise<{ data: Record<string, unknown>; roundTrips: number }> {
  const { result, roundTrips } = await call(url, fn, action, data, openid)
  if (!result.ok) throw new Error(`${fn}.${action} as ${openid}: ${JSON.stringify(result.error)}`)
  return { data: result.data ?? {}, roundTrips }
}

// ---- 1. cost ---------------------------------------------------------------------------------

async function costRun(url: string) {
  // One worker, warmed: every measured call runs on an instance that has the config cached.
  await must(url, 'incentives', 'summary', {}, 'bench-warm')
  const rt = async (action: string, data: unknown, openid: string) => (await must(url, 'incentives', action, data, openid)).roundTrips

  await must(url, 'user', 'login', {}, 'bench-cost-a')
  const checkin = await rt('checkin', {}, 'bench-cost-a')
  const checkinAgain = await rt('checkin', {}, 'bench-cost-a')
  // What the check-in page sends: the month on screen, whose calendar comes back in the same reply.
  await must(url, 'user', 'login', {}, 'bench-cost-m')
  const checkinWithCalendar = await rt('checkin', { month: new Date(Date.now() + 288e5).toISOString().slice(0, 7) }, 'bench-cost-m')
  await must(url, 'user', 'updateProfile', { nickname: '测一测', avatarUrl: 'https://example.com/a.png' }, 'bench-cost-a')
  const claim = await rt('claimTask', { taskId: 'profile' }, 'bench-cost-a')
  const claimAgain = await rt('claimTask', { taskId: 'profile' }, 'bench-cost-a')
  const inviteFirst = await rt('invite', {}, 'bench-cost-a')
  const invite = await must(url, 'incentives', 'invite', {}, 'bench-cost-a')
  await must(url, 'user', 'login', {}, 'bench-cost-b')
  const referral = await rt('acceptInvite', { code: invite.data.code }, 'bench-cost-b')
  await must(url, 'user', 'login', {}, 'bench-cost-c')
  const referralByFirstTouch = await (async () => {
    // The first-touch path: the invitee's launch carried the code, recorded by `track`.
    const db = new CloudDatabase(url)
    await db.update('users', { _id: 'bench-cost-c' }, { firstTouch: { code: invite.data.code, inviter: 'bench-cost-a', at: new Date().toISOString(), day: '' } })
    return rt('acceptInvite', {}, 'bench-cost-c')
  })()
  return {
    checkin,
    checkinAgain,
    checkinWithCalendar,
    claimTask: claim,
    claimTaskAgain: claimAgain,
    referralReward: referral,
    referralRewardByFirstTouch: referralByFirstTouch,
    inviteFirstCall: inviteFirst,
    invite: invite.roundTrips,
    summary: await rt('summary', {}, 'bench-cost-a'),
    calendar: await rt('calendar', { month: new Date().toISOString().slice(0, 7) }, 'bench-cost-a'),
    tasks: await rt('tasks', {}, 'bench-cost-a'),
    ledger: await rt('ledger', { limit: 20 }, 'bench-cost-a'),
  }
}

// ---- 2. throughput ---------------------------------------------------------------------------

function percentile(sorted: number[], p: number): number {
  return Math.round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))] ?? 0)
}

/** `clients` concurrent callers for `seconds`; `userFor(client, n)` picks who the n-th call of a client is. */
async function checkinLoad(url: string, clients: number, seconds: number, userFor: (client: number, n: number) => string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients })
  const latencies: number[] = []
  let granted = 0
  let repeated = 0
  const failures: Record<string, number> = {}
  const post = (openid: string) =>
    new Promise<Reply>((resolve, reject) => {
      const body = JSON.stringify({ action: 'checkin', data: {} })
      const req = http.request(`${url}/functions/incentives`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-wx-openid': openid, 'content-length': Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => (res.statusCode === 200 ? resolve((JSON.parse(Buffer.concat(chunks).toString()) as { result: Reply }).result) : reject(new Error(`HTTP ${res.statusCode}`))))
      })
      req.on('error', reject)
      req.end(body)
    })
  const started = performance.now()
  const deadline = Date.now() + seconds * 1000
  await Promise.all(
    Array.from({ length: clients }, async (_unused, c) => {
      for (let n = 0; Date.now() < deadline; n++) {
        const t0 = performance.now()
        const reply = await post(userFor(c, n))
        latencies.push(performance.now() - t0)
        if (!reply.ok) failures[reply.error!.code] = (failures[reply.error!.code] ?? 0) + 1
        else if (reply.data!.alreadyCheckedIn) repeated++
        else granted++
      }
    }),
  )
  const elapsed = (performance.now() - started) / 1000
  agent.destroy()
  latencies.sort((a, b) => a - b)
  return {
    clients,
    calls: latencies.length,
    granted,
    repeated,
    failures,
    callsPerSecond: Math.round(latencies.length / elapsed),
    grantsPerSecond: Math.round(granted / elapsed),
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  }
}

// ---- 3. the invariant ------------------------------------------------------------------------

async function readAll<T extends Record<string, unknown>>(db: CloudDatabase, collection: string, query: Record<string, unknown>): Promise<T[]> {
  const docs: T[] = []
  for (let offset = 0; ; offset += 1000) {
    const page = await db.find<T>(collection, query, { offset })
    docs.push(...page)
    if (page.length < 1000) return docs
  }
}

async function verify(url: string, prefix: string) {
  const db = new CloudDatabase(url)
  const mine = { _id: { $regex: `^${prefix}` } }
  const accounts = await readAll<PointsAccountDoc & Record<string, unknown>>(db, 'points_accounts', mine)
  const entries = await readAll<PointsLedgerDoc & Record<string, unknown>>(db, 'points_ledger', { openid: { $regex: `^${prefix}` } })
  const checkins = await db.count('checkins', { openid: { $regex: `^${prefix}` } })
  return { accounts: accounts.length, ledgerEntries: entries.length, checkins, problems: auditLedger(accounts, entries) }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      clients: { type: 'string', default: '32' },
      workers: { type: 'string', default: '4' },
      json: { type: 'boolean', default: false },
      'write-docs': { type: 'boolean', default: false },
    },
  })
  const seconds = Number(values.seconds)
  const clients = Number(values.clients)
  const workers = Number(values.workers)

  const costCloud = await startCloudProcess({ workers: 1, prefix: 'bench-incentives-cost-' })
  let cost: Awaited<ReturnType<typeof costRun>>
  try {
    cost = await costRun(costCloud.url)
  } finally {
    await costCloud.stop()
  }

  const cloud = await startCloudProcess({ workers, prefix: 'bench-incentives-' })
  try {
    const fresh = await checkinLoad(cloud.url, clients, seconds, (c, n) => `fresh-${c}-${n}`)
    const freshCheck = await verify(cloud.url, 'fresh-')
    const taps = await checkinLoad(cloud.url, clients, Math.max(2, Math.round(seconds / 2)), (c) => `tap-${c}`)
    const tapsCheck = await verify(cloud.url, 'tap-')
    const report = { cores: os.cpus().length, workers, cost, fresh: { ...fresh, verified: freshCheck }, taps: { ...taps, verified: tapsCheck } }
    const sound = freshCheck.problems.length === 0 && tapsCheck.problems.length === 0 && freshCheck.ledgerEntries === fresh.granted && freshCheck.checkins === fresh.granted && tapsCheck.ledgerEntries === clients
    if (values.json) console.log(JSON.stringify(report, null, 2))
    else {
      console.log(`
Incentives benchmark (${report.cores} cores, node ${process.version}, ${workers} workers for the incentives function)

DB round trips per call (warm instance, config cached; a cold instance adds 1 to read app_config/incentives):
  check-in (a grant): ${cost.checkin}; again the same day: ${cost.checkinAgain}; with the month's calendar in the reply: ${cost.checkinWithCalendar}
  task claim (a grant): ${cost.claimTask}; again: ${cost.claimTaskAgain}
  referral reward (acceptInvite with a code, both rewarded): ${cost.referralReward}; by first touch: ${cost.referralRewardByFirstTouch}
  invite: first call ${cost.inviteFirstCall} (code registered, image made), then ${cost.invite}
  summary ${cost.summary}, calendar ${cost.calendar}, tasks ${cost.tasks}, ledger page ${cost.ledger}

check-ins, ${clients} concurrent users, each call a new user's first check-in (${seconds} s):
  ${fresh.grantsPerSecond} grants/s (${fresh.calls} calls, ${fresh.granted} granted), p50 ${fresh.p50Ms} ms, p99 ${fresh.p99Ms} ms${Object.keys(fresh.failures).length ? `, refused: ${JSON.stringify(fresh.failures)}` : ''}
  verified: ${freshCheck.accounts} accounts, ${freshCheck.ledgerEntries} ledger entries, ${freshCheck.checkins} check-ins; invariant ${freshCheck.problems.length === 0 ? 'holds' : `BROKEN: ${freshCheck.problems.slice(0, 5).join('; ')}`}

check-ins, ${clients} users tapping again and again:
  ${taps.callsPerSecond} calls/s (${taps.calls} calls: ${taps.granted} granted, ${taps.repeated} answered "already checked in"), p50 ${taps.p50Ms} ms, p99 ${taps.p99Ms} ms
  verified: ${tapsCheck.ledgerEntries} ledger entries for ${clients} users; invariant ${tapsCheck.problems.length === 0 ? 'holds' : `BROKEN: ${tapsCheck.problems.slice(0, 5).join('; ')}`}
`)
    }
    if (values['write-docs']) {
      writeBetweenMarkers('docs/benchmarks.md', 'bench:incentives', [
        GENERATED('npm run bench:incentives -- --write-docs'),
        '| call (warm instance; a cold one adds 1 for the config) | DB round trips | invocations |',
        '|---|---|---|',
        `| check-in (a grant) | **${cost.checkin}**; again the same day ${cost.checkinAgain}; with the month's calendar in the reply ${cost.checkinWithCalendar} | 1 (the calendar comes in the reply) |`,
        `| task claim (a grant) | **${cost.claimTask}**; again ${cost.claimTaskAgain} (no transaction) | 1 |`,
        `| referral reward (both rewarded in one transaction) | **${cost.referralReward}** with a code, ${cost.referralRewardByFirstTouch} by first touch | 1 |`,
        `| \`invite\` | ${cost.inviteFirstCall} the first time (code registered, mini-program code made), then ${cost.invite} | 1 |`,
        `| \`summary\` / \`calendar\` / \`tasks\` / \`ledger\` page | ${cost.summary} / ${cost.calendar} / ${cost.tasks} / ${cost.ledger} | 1 each |`,
      ].join('\n'))
      console.log('docs/benchmarks.md updated')
    }
    if (!sound) process.exitCode = 1
  } finally {
    await cloud.stop()
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
