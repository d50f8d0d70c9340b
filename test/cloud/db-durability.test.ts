/**
 * Database conformance, part 6: what the SDK wrote survives closing the local cloud and starting a
 * new one on the same data directory.
 */
import { rmSync } from 'node:fs'
import { startCloud, useSdkAgainst, type TestCloud, connectSdk } from '../helpers/local-cloud'

let first: TestCloud
let second: TestCloud | undefined
let firstClosed = false
// The SDK's typings declare results as `Promise<X> | void | string`; tests use it untyped.
let db: any
let _: any

beforeAll(async () => {
  first = await startCloud()
  const cloud = connectSdk(first.cloud)
  db = cloud.database()
  _ = db.command
})
afterAll(async () => {
  if (!firstClosed) await first.cloud.close()
  await second?.cloud.close()
  rmSync(first.dataDir, { recursive: true, force: true })
})

test('documents, updates, removals, collections and committed transactions survive a restart', async () => {
  await db.createCollection('notes')
  const added = await db.collection('notes').add({ data: { title: 'kept', at: new Date('2024-05-06T07:08:09Z'), loc: db.Geo.Point(113.3, 23.1), tags: ['a'] } })
  await db.collection('notes').add({ data: [{ _id: 'counter', n: 0 }, { _id: 'doomed', n: 1 }, { _id: 'replaced', old: true }] })
  await Promise.all(Array.from({ length: 10 }, () => db.collection('notes').doc('counter').update({ data: { n: _.inc(1) } })))
  await db.collection('notes').doc(added._id).update({ data: { tags: _.push('b') } })
  await db.collection('notes').doc('doomed').remove()
  await db.collection('notes').doc('replaced').set({ data: { fresh: true } })
  await db.runTransaction(async (tx: any) => {
    await tx.collection('notes').doc('counter').update({ data: { n: _.inc(100) } })
    await tx.collection('notes').add({ data: { _id: 'from-transaction' } })
  })
  const abandoned = await db.startTransaction()
  await abandoned.collection('notes').doc('counter').update({ data: { n: -1 } })

  await first.cloud.close()
  firstClosed = true
  second = await startCloud({ dataDir: first.dataDir })
  useSdkAgainst(second.cloud)

  expect(second.cloud.store.hasCollection('notes')).toBe(true)
  const { data } = await db.collection('notes').orderBy('_id', 'asc').get()
  const byId = Object.fromEntries((data as Record<string, any>[]).map((d) => [d._id, d]))
  expect(Object.keys(byId).sort()).toEqual([added._id, 'counter', 'from-transaction', 'replaced'].sort())
  expect(byId.counter).toEqual({ _id: 'counter', n: 110 })
  expect(byId.replaced).toEqual({ _id: 'replaced', fresh: true })
  expect(byId['from-transaction']).toEqual({ _id: 'from-transaction' })
  const note = byId[added._id]!
  expect(note.title).toBe('kept')
  expect(note.tags).toEqual(['a', 'b'])
  expect(note.at).toBeInstanceOf(Date)
  expect(note.at.toISOString()).toBe('2024-05-06T07:08:09.000Z')
  expect(JSON.parse(JSON.stringify(note.loc))).toEqual({ type: 'Point', coordinates: [113.3, 23.1] })
  // Still a geo point to the database, not just a look-alike object.
  const near = await db.collection('notes').where({ loc: _.geoNear({ geometry: db.Geo.Point(113.3, 23.1), maxDistance: 10 }) }).get()
  expect(near.data.map((d: { _id: string }) => d._id)).toEqual([added._id])
  // The new cloud keeps writing to the same data.
  await db.collection('notes').doc('counter').update({ data: { n: _.inc(1) } })
  expect(second.cloud.store.find('notes', { query: { _id: 'counter' } })).toEqual([{ _id: 'counter', n: 111 }])
})
