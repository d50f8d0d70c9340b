/**
 * Round-trip counting, the starter's cost metric: every database call a function makes through the
 * real SDK is counted by kind, attributed to its invocation (gateway headers, /_/invocations), and
 * calls from scripts outside any invocation are counted under `external`.
 */
import { callGateway, FIXTURE_FUNCTIONS, startCloud, type TestCloud, useSdkAgainst } from '../helpers/local-cloud'

interface Invocation {
  requestId: string
  db: Record<string, number>
  dbTotal: number
}
interface Stats {
  functions: Record<string, { invocations: number; dbRoundTrips: number }>
  external: { db: Record<string, number>; dbTotal: number }
}

let t: TestCloud
beforeAll(async () => {
  t = await startCloud({ functionsDir: FIXTURE_FUNCTIONS })
})
afterAll(async () => {
  await t.stop()
})

let collections = 0
const freshCollection = () => `roundtrips_${++collections}`

/** The ops dbcount should make: createCollection once, then adds, gets and counts. */
function expectedOps(plan: { adds: number; gets: number; counts: number }): Record<string, number> {
  const ops: Record<string, number> = { addCollection: 1, insertDocument: plan.adds, getDocument: plan.gets, calculateDocument: plan.counts }
  return Object.fromEntries(Object.entries(ops).filter(([, n]) => n > 0))
}

function parseOps(header: string | null): Record<string, number> {
  if (!header) return {}
  return Object.fromEntries(header.split(',').map((pair) => [pair.split('=')[0]!, Number(pair.split('=')[1])]))
}

async function stats(): Promise<Stats> {
  return (await (await fetch(`${t.url}/_/stats`)).json()) as Stats
}

async function recorded(requestId: string | null): Promise<Invocation | undefined> {
  const { invocations } = (await (await fetch(`${t.url}/_/invocations?fn=dbcount`)).json()) as { invocations: Invocation[] }
  return invocations.find((r) => r.requestId === requestId)
}

test.each([
  { adds: 3, gets: 2, counts: 1 },
  { adds: 0, gets: 4, counts: 0 },
  { adds: 5, gets: 0, counts: 2 },
])('adds $adds, gets $gets, counts $counts: headers and ledger report exactly those round trips', async (plan) => {
  const reply = await callGateway<{ result: { ids: string[]; seen: number; total: number } }>(t.url, 'dbcount', { collection: freshCollection(), ...plan })
  expect(reply.status).toBe(200)
  expect(reply.body.result.ids).toHaveLength(plan.adds)
  if (plan.gets > 0) expect(reply.body.result.seen).toBe(plan.adds)
  if (plan.counts > 0) expect(reply.body.result.total).toBe(plan.adds)

  const total = 1 + plan.adds + plan.gets + plan.counts
  expect(reply.headers.get('x-db-roundtrips')).toBe(String(total))
  expect(parseOps(reply.headers.get('x-db-ops'))).toEqual(expectedOps(plan))

  const record = await recorded(reply.headers.get('x-request-id'))
  expect(record).toMatchObject({ dbTotal: total, db: expectedOps(plan) })
})

test('concurrent invocations are each charged their own calls', async () => {
  const plans = [
    { adds: 1, gets: 6, counts: 0 },
    { adds: 4, gets: 0, counts: 3 },
  ]
  const replies = await Promise.all(plans.map((plan) => callGateway(t.url, 'dbcount', { collection: freshCollection(), ...plan })))
  for (const [i, reply] of replies.entries()) {
    expect(reply.status).toBe(200)
    expect(parseOps(reply.headers.get('x-db-ops'))).toEqual(expectedOps(plans[i]!))
  }
})

test('/_/stats sums round trips per function', async () => {
  const before = (await stats()).functions.dbcount
  await callGateway(t.url, 'dbcount', { collection: freshCollection(), adds: 2, gets: 1, counts: 0 })
  const after = (await stats()).functions.dbcount
  expect(after!.invocations - before!.invocations).toBe(1)
  expect(after!.dbRoundTrips - before!.dbRoundTrips).toBe(4)
})

test('calls from a script (no invocation token) are counted under external, not charged to a function', async () => {
  useSdkAgainst(t.cloud)
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cloud = require('wx-server-sdk') as typeof import('wx-server-sdk')
  cloud.init({ env: cloud.DYNAMIC_CURRENT_ENV as never })
  const db = cloud.database()
  const name = freshCollection()
  const before = await stats()

  await db.createCollection(name)
  await db.collection(name).add({ data: { n: 1 } })
  await db.collection(name).add({ data: { n: 2 } })
  const got = (await db.collection(name).where({}).get()) as { data: unknown[] }
  expect(got.data).toHaveLength(2)

  const after = await stats()
  const delta = (op: string) => (after.external.db[op] ?? 0) - (before.external.db[op] ?? 0)
  expect(after.external.dbTotal - before.external.dbTotal).toBe(4)
  expect([delta('addCollection'), delta('insertDocument'), delta('getDocument')]).toEqual([1, 2, 1])
  expect(after.functions).toEqual(before.functions)
})
