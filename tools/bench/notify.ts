/**
 * `npm run bench:notify`: what subscription messages cost on the local cloud.
 *
 *  1. one send (notify.send, an admin test send): DB round trips, on a warm instance;
 *  2. the daily reminder for N subscribed users (default 10,000; a fifth of them checked in today,
 *     so they get nothing): sends per second, DB round trips in all and per send, runs until done
 *     (each run stops at its time budget and the next resumes), then a rerun that must send nothing.
 *
 *   npx tsx tools/bench/notify.ts -- --users 10000 --json
 */
import { parseArgs } from 'node:util'
import { CloudDatabase, startCloudProcess } from '../local-cloud/client'

const ADMIN = 'bench-notify-admin'
const DAY = '2031-06-01'

async function call(url: string, fn: string, action: string, data: unknown, openid: string) {
  const res = await fetch(`${url}/functions/${fn}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-wx-openid': openid },
    body: JSON.stringify({ action, data }),
  })
  const body = (await res.json()) as { result?: { ok: boolean; data?: any; error?: unknown } }
  if (!body.result?.ok) throw new Error(`${fn}.${action}: ${JSON.stringify(body.result?.error ?? res.status)}`)
  return { data: body.result.data, roundTrips: Number(res.headers.get('x-db-roundtrips')) }
}

async function main() {
  const { values } = parseArgs({ options: { users: { type: 'string', default: '10000' }, json: { type: 'boolean', default: false } }, allowPositionals: true })
  const users = Number(values.users)
  const cloud = await startCloudProcess({ workers: 2, prefix: 'bench-notify-' })
  try {
    const db = new CloudDatabase(cloud.url)
    await db.insert('app_config', [
      { _id: 'admins', openids: [ADMIN] },
      { _id: 'templates', ids: { checkin_reminder: 'TPL_REMIND', feedback_reply: 'TPL_FEEDBACK' } },
    ])

    // 1. one send, warm (the template ids cached by the first call).
    const reply = { thing1: '闪退', thing2: '已修复', phrase3: '已回复', time4: '2031-06-01 10:00' }
    for (const openid of ['bench-one-a', 'bench-one-b']) await call(cloud.url, 'notify', 'record', { outcomes: { feedback_reply: 'accept' } }, openid)
    await call(cloud.url, 'notify', 'send', { openid: 'bench-one-a', template: 'feedback_reply', data: reply }, ADMIN)
    await call(cloud.url, 'notify', 'send', { openid: 'bench-one-a', template: 'feedback_reply', data: reply }, ADMIN) // warm the other worker too
    const single = await call(cloud.url, 'notify', 'send', { openid: 'bench-one-b', template: 'feedback_reply', data: reply }, ADMIN)
    const noQuota = await call(cloud.url, 'notify', 'send', { openid: 'bench-one-b', template: 'feedback_reply', data: reply }, ADMIN)
    const isAdminReads = 1 // notify.send reads app_config/admins first (the admin check), not part of a send

    // 2. N subscribed users, written straight into the database.
    const now = new Date()
    const subs = Array.from({ length: users }, (_, i) => {
      const openid = `bench-u${String(i).padStart(6, '0')}`
      return {
        _id: `${openid}:checkin_reminder`,
        openid,
        template: 'checkin_reminder',
        quota: 1,
        counts: { accept: 1, reject: 0, ban: 0, filter: 0, switched_off: 0 },
        last: { outcome: 'accept', at: now },
        hourly: { hour: '', n: 0 },
        updatedAt: now,
      }
    })
    const checkedIn = subs.filter((_, i) => i % 5 === 0).map((s) => ({
      _id: s.openid,
      openid: s.openid,
      balance: 5,
      lifetime: 5,
      entries: 1,
      checkin: { lastDay: DAY, streak: 1, best: 1, lastReward: 5 },
      makeups: { month: '', count: 0 },
      invites: { rewarded: 0, day: '', today: 0 },
      updatedAt: now,
    }))
    for (let i = 0; i < subs.length; i += 1000) await db.insert('subscriptions', subs.slice(i, i + 1000))
    for (let i = 0; i < checkedIn.length; i += 1000) await db.insert('points_accounts', checkedIn.slice(i, i + 1000))

    const started = Date.now()
    let runs = 0
    let roundTrips = 0
    let sent = 0
    let done = false
    while (!done) {
      const run = await call(cloud.url, 'notify', 'remind', { day: DAY, budgetMs: 20_000 }, ADMIN)
      runs++
      roundTrips += run.roundTrips
      sent += run.data.sent
      done = run.data.done
    }
    const seconds = (Date.now() - started) / 1000
    const rerun = await call(cloud.url, 'notify', 'remind', { day: DAY }, ADMIN)
    const outbox = await db.count('_outbox', { templateId: 'TPL_REMIND' })

    const result = {
      singleSend: { dbRoundTrips: single.roundTrips - isAdminReads, status: single.data.status },
      noQuotaSend: { dbRoundTrips: noQuota.roundTrips - isAdminReads, status: noQuota.data.status },
      reminder: {
        users,
        checkedInToday: checkedIn.length,
        sent,
        delivered: outbox,
        runs,
        seconds: Number(seconds.toFixed(2)),
        sendsPerSecond: Math.round(sent / seconds),
        dbRoundTrips: roundTrips,
        dbRoundTripsPerSend: Number((roundTrips / Math.max(1, sent)).toFixed(3)),
        rerun: { sent: rerun.data.sent, dbRoundTrips: rerun.roundTrips },
      },
    }
    if (values.json) console.log(JSON.stringify(result, null, 2))
    else {
      console.log(`one send: ${result.singleSend.dbRoundTrips} DB round trips (${result.singleSend.status}); refused for no quota: ${result.noQuotaSend.dbRoundTrips}`)
      const r = result.reminder
      console.log(`daily reminder: ${r.users} subscribed, ${r.checkedInToday} checked in today -> ${r.sent} sent (${r.delivered} in the outbox) in ${r.seconds} s over ${r.runs} run(s): ${r.sendsPerSecond} sends/s`)
      console.log(`  DB round trips: ${r.dbRoundTrips} in all, ${r.dbRoundTripsPerSend} per send; a rerun sends ${r.rerun.sent} with ${r.rerun.dbRoundTrips} round trips`)
    }
  } finally {
    await cloud.stop()
  }
  process.exit(0)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
