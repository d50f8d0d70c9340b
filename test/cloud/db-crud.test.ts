/**
 * Database conformance, part 1: collections and errors, add, get, count and remove, driven through
 * the unmodified wx-server-sdk against the local cloud. Expected values come from WeChat's cloud
 * database documentation; where the local cloud picks a behaviour of its own, the test name says so.
 */
import { startCloud, type TestCloud, connectSdk, rejection } from '../helpers/local-cloud'

type Doc = Record<string, any>
let t: TestCloud
let cloud: typeof import('wx-server-sdk')
// The SDK's typings declare results as `Promise<X> | void | string`; tests use it untyped.
let db: any
let _: any

beforeAll(async () => {
  t = await startCloud()
  cloud = connectSdk(t.cloud)
  db = cloud.database()
  _ = db.command
  for (const name of ['items', 'batch', 'shop', 'big']) await db.createCollection(name)
})
afterAll(() => t.stop())

async function all(collection: string, where: Doc = {}): Promise<Doc[]> {
  return (await db.collection(collection).where(where).limit(1000).get()).data
}

/** What the store holds, read past the SDK (a MongoDB query, not SDK commands). */
function stored(collection: string, query: Doc): Doc[] {
  return t.cloud.store.find(collection, { query, limit: 1000 })
}

describe('collections and errors', () => {
  test('every operation on a collection that does not exist fails with DATABASE_COLLECTION_NOT_EXIST (-502005) and creates nothing', async () => {
    const ghost = db.collection('ghost')
    const calls: [string, Promise<unknown>][] = [
      ['get', ghost.get()],
      ['where.get', ghost.where({ a: 1 }).get()],
      ['doc.get', ghost.doc('x').get()],
      ['add', ghost.add({ data: { a: 1 } })],
      ['where.update', ghost.where({ a: 1 }).update({ data: { a: 2 } })],
      ['doc.update', ghost.doc('x').update({ data: { a: 2 } })],
      ['doc.set', ghost.doc('x').set({ data: { a: 2 } })],
      ['where.remove', ghost.where({ a: 1 }).remove()],
      ['doc.remove', ghost.doc('x').remove()],
      ['count', ghost.count()],
    ]
    for (const [name, call] of calls) {
      const err = await rejection(call)
      expect([name, err.errCode]).toEqual([name, -502005])
      expect(err.errMsg).toContain('ghost')
    }
    // The SDK's aggregate wrapper does not map the cloud's code to a number: errCode stays -1,
    // the cloud's code travels in `code`.
    const agg = await rejection(ghost.aggregate().match({}).end())
    expect(agg.code).toBe('DATABASE_COLLECTION_NOT_EXIST')
    expect(t.cloud.store.hasCollection('ghost')).toBe(false)
  })

  test('createCollection creates a usable collection; creating it again fails and keeps its documents', async () => {
    expect(t.cloud.store.hasCollection('fresh')).toBe(false)
    const created = await db.createCollection('fresh')
    expect(created.errMsg).toBe('createCollection:ok')
    await db.collection('fresh').add({ data: { _id: 'f1', v: 1 } })
    expect((await db.collection('fresh').doc('f1').get()).data).toEqual({ _id: 'f1', v: 1 })

    const again = await rejection(db.createCollection('fresh'))
    expect(again.errMsg).toContain('fresh')
    expect(await all('fresh')).toEqual([{ _id: 'f1', v: 1 }])
  })

  test('doc().get of a missing document throws errCode -1 by default, and returns data null with throwOnNotFound: false', async () => {
    const err = await rejection(db.collection('items').doc('no-such-doc').get())
    expect(err.errCode).toBe(-1)
    expect(err.errMsg).toContain('no-such-doc')

    const lenient: any = cloud.database({ throwOnNotFound: false } as never)
    const res = await lenient.collection('items').doc('no-such-doc').get()
    expect(res.data).toBeNull()
  })

  test('add with an _id that already exists fails with -502001 E11000 and keeps the original document', async () => {
    await db.collection('items').add({ data: { _id: 'dup', v: 'original' } })
    const err = await rejection(db.collection('items').add({ data: { _id: 'dup', v: 'second' } }))
    expect(err.errCode).toBe(-502001)
    expect(err.errMsg).toContain('E11000')
    expect(err.errMsg).toContain('dup')
    expect(stored('items', { _id: 'dup' })).toEqual([{ _id: 'dup', v: 'original' }])
  })

  test('an unknown query operator fails with -502002', async () => {
    await db.collection('items').add({ data: { _id: 'op', n: 1 } })
    const err = await rejection(db.collection('items').where({ n: { $foo: 1 } }).get())
    expect(err.errCode).toBe(-502002)
    expect(err.errMsg).toContain('$foo')
  })

  test('an unknown update operator fails with -502002 and writes nothing', async () => {
    await db.collection('items').add({ data: { _id: 'upd-op', n: 1 } })
    const err = await rejection(db.collection('items').doc('upd-op').update({ data: { $foo: { n: 2 } } }))
    expect(err.errCode).toBe(-502002)
    expect(stored('items', { _id: 'upd-op' })).toEqual([{ _id: 'upd-op', n: 1 }])
  })
})

describe('add', () => {
  test('add returns a 32-character lowercase hex _id and stores the document under it', async () => {
    const res = await db.collection('items').add({ data: { title: 'auto id', n: 7 } })
    expect(res._id).toMatch(/^[0-9a-f]{32}$/)
    expect(stored('items', { _id: res._id })).toEqual([{ _id: res._id, title: 'auto id', n: 7 }])
  })

  test('add keeps a custom _id', async () => {
    const res = await db.collection('items').add({ data: { _id: 'my-id', n: 1 } })
    expect(res._id).toBe('my-id')
    expect((await db.collection('items').doc('my-id').get()).data).toEqual({ _id: 'my-id', n: 1 })
  })

  test('a field name starting with $ (like $_key), at the top or nested, is refused with -502001 and nothing is stored; so are set and update writing one', async () => {
    const refusals: [string, Promise<unknown>][] = [
      ['add', db.collection('items').add({ data: { _id: 'dollar-top', $_key: 1 } })],
      ['add nested', db.collection('items').add({ data: { _id: 'dollar-nested', meta: { list: [{ $_key: 'x' }] } } })],
      ['add batch', db.collection('items').add({ data: [{ _id: 'dollar-ok' }, { _id: 'dollar-bad', $where: 'x' }] })],
    ]
    for (const [name, call] of refusals) {
      const err = await rejection(call)
      expect([name, err.errCode]).toEqual([name, -502001])
      expect(err.errMsg).toContain('is not valid for storage')
    }
    expect(stored('items', { _id: { $in: ['dollar-top', 'dollar-nested', 'dollar-ok', 'dollar-bad'] } })).toEqual([])

    await db.collection('items').add({ data: { _id: 'dollar-target', n: 1 } })
    expect((await rejection(db.collection('items').doc('dollar-target').set({ data: { $_key: 1 } }))).errCode).toBe(-502001)
    expect((await rejection(db.collection('items').doc('dollar-target').update({ data: { meta: { $_key: 1 } } }))).errCode).toBe(-502001)
    expect(stored('items', { _id: 'dollar-target' })).toEqual([{ _id: 'dollar-target', n: 1 }])
    // A $ inside a name or a value is fine.
    await db.collection('items').add({ data: { _id: 'dollar-inside', price$: '$5' } })
    expect(stored('items', { _id: 'dollar-inside' })).toEqual([{ _id: 'dollar-inside', price$: '$5' }])
  })

  test('add of an array inserts every document and returns all their _ids in order', async () => {
    const res = await db.collection('batch').add({ data: [{ i: 0 }, { _id: 'b-custom', i: 1 }, { i: 2 }] })
    expect(res._ids).toHaveLength(3)
    expect(res._ids[1]).toBe('b-custom')
    expect(res._ids[0]).toMatch(/^[0-9a-f]{32}$/)
    expect(new Set(res._ids).size).toBe(3)
    const docs = await all('batch', { _id: _.in(res._ids) })
    expect(docs.map((d) => [d._id, d.i]).sort((a, b) => a[1] - b[1])).toEqual(res._ids.map((id: string, i: number) => [id, i]))
  })

  test('local cloud: add of an array is atomic, one duplicate _id fails the call and none of the batch is written', async () => {
    await db.collection('batch').add({ data: { _id: 'taken', i: -1 } })
    const err = await rejection(db.collection('batch').add({ data: [{ _id: 'atomic-1', i: 1 }, { _id: 'taken', i: 2 }, { _id: 'atomic-3', i: 3 }] }))
    expect(err.errCode).toBe(-502001)
    expect(err.errMsg).toContain('E11000')
    expect(stored('batch', { _id: { $in: ['atomic-1', 'atomic-3'] } })).toEqual([])
    expect(stored('batch', { _id: 'taken' })).toEqual([{ _id: 'taken', i: -1 }])
  })

  test('Dates, nested objects, arrays and scalar types round-trip', async () => {
    const when = new Date('2024-03-05T06:07:08.009Z')
    const data = {
      _id: 'types',
      when,
      nested: { level: { deep: [1, 'two', { three: 3, at: new Date(0) }] }, empty: {} },
      list: [[1, 2], [], { k: 'v' }],
      float: 1.25,
      negative: -3,
      yes: true,
      no: false,
      nothing: null,
      text: '中文 ✓',
    }
    await db.collection('items').add({ data })
    const got = (await db.collection('items').doc('types').get()).data
    expect(got).toEqual(data)
    expect(got.when).toBeInstanceOf(Date)
    expect(got.when.getTime()).toBe(when.getTime())
    expect(got.nested.level.deep[2].at).toBeInstanceOf(Date)
    // Stored as a date, not as a string: a date range query finds it.
    expect((await db.collection('items').where({ when: _.gt(new Date('2024-03-05T00:00:00Z')).and(_.lt(new Date('2024-03-06T00:00:00Z'))) }).count()).total).toBe(1)
  })

  test('db.serverDate() is filled in by the server when the write happens, and { offset } shifts it', async () => {
    const before = Date.now()
    const res = await db.collection('items').add({ data: { at: db.serverDate(), later: db.serverDate({ offset: 3_600_000 }) } })
    const after = Date.now()
    const [doc] = stored('items', { _id: res._id })
    expect(doc!.at).toBeInstanceOf(Date)
    expect(doc!.at.getTime()).toBeGreaterThanOrEqual(before)
    expect(doc!.at.getTime()).toBeLessThanOrEqual(after)
    expect(doc!.later.getTime() - doc!.at.getTime()).toBe(3_600_000)
    expect((await db.collection('items').doc(res._id).get()).data.at).toBeInstanceOf(Date)
  })

  test('Geo.Point round-trips, and is stored as GeoJSON', async () => {
    await db.collection('items').add({ data: { _id: 'geo', loc: db.Geo.Point(113.324520, 23.099994) } })
    const { loc } = (await db.collection('items').doc('geo').get()).data
    expect(loc.longitude).toBe(113.32452)
    expect(loc.latitude).toBe(23.099994)
    expect(JSON.parse(JSON.stringify(loc))).toEqual({ type: 'Point', coordinates: [113.32452, 23.099994] })
    expect(stored('items', { _id: 'geo' })[0]!.loc).toEqual({ type: 'Point', coordinates: [113.32452, 23.099994] })
  })
})

describe('get', () => {
  const products = [
    { _id: 'p1', name: 'pen', price: 3, stock: 10, tags: ['office', 'cheap'], spec: { color: 'blue', size: 'S' }, variants: [{ color: 'blue', qty: 1 }], added: new Date('2024-01-03') },
    { _id: 'p2', name: 'book', price: 12, stock: 0, tags: ['office'], spec: { color: 'red', size: 'L' }, variants: [{ color: 'red', qty: 0 }, { color: 'blue', qty: 2 }], added: new Date('2024-01-01') },
    { _id: 'p3', name: 'mug', price: 8, stock: 4, tags: ['kitchen', 'cheap'], spec: { color: 'blue', size: 'L' }, variants: [], added: new Date('2024-01-02') },
    { _id: 'p4', name: 'lamp', price: 12, stock: 2, tags: [], spec: { color: 'white', size: 'M' }, variants: [{ color: 'white', qty: 5 }], added: new Date('2023-12-31') },
  ]
  const ids = (docs: Doc[]) => docs.map((d) => d._id)

  beforeAll(async () => {
    await db.collection('shop').add({ data: products })
  })

  test('where with several fields matches documents equal on all of them', async () => {
    expect(ids(await all('shop', { price: 12 }))).toEqual(['p2', 'p4'])
    expect(ids(await all('shop', { price: 12, stock: 2 }))).toEqual(['p4'])
    expect(await all('shop', { price: 12, stock: 3 })).toEqual([])
  })

  test('a nested object condition matches on the listed sub-fields only (it is sent as dotted paths)', async () => {
    // Not whole-object equality: spec also has `size`, and documents with other sizes still match.
    expect(ids(await all('shop', { spec: { color: 'blue' } }))).toEqual(['p1', 'p3'])
    expect(ids(await all('shop', { spec: { color: 'blue', size: 'L' } }))).toEqual(['p3'])
    expect(ids(await all('shop', { 'spec.size': 'L' }))).toEqual(['p2', 'p3'])
  })

  test('an array field matches when one of its elements equals the value', async () => {
    expect(ids(await all('shop', { tags: 'cheap' }))).toEqual(['p1', 'p3'])
    expect(ids(await all('shop', { variants: { color: 'blue' } }))).toEqual(['p1', 'p2'])
    expect(await all('shop', { tags: 'garden' })).toEqual([])
  })

  test('orderBy sorts ascending or descending, on Dates, and on several fields in order', async () => {
    const shop = db.collection('shop')
    expect(ids((await shop.orderBy('price', 'asc').orderBy('_id', 'asc').get()).data)).toEqual(['p1', 'p3', 'p2', 'p4'])
    expect(ids((await shop.orderBy('added', 'desc').get()).data)).toEqual(['p1', 'p3', 'p2', 'p4'])
    expect(ids((await shop.orderBy('added', 'asc').get()).data)).toEqual(['p4', 'p2', 'p3', 'p1'])
    // Ties on price are broken by the second key, in both directions.
    expect(ids((await shop.orderBy('price', 'desc').orderBy('stock', 'asc').get()).data)).toEqual(['p2', 'p4', 'p3', 'p1'])
    expect(ids((await shop.orderBy('price', 'desc').orderBy('stock', 'desc').get()).data)).toEqual(['p4', 'p2', 'p3', 'p1'])
  })

  test('skip and limit page through the ordered results', async () => {
    const page = (skip: number, limit: number) => db.collection('shop').orderBy('_id', 'asc').skip(skip).limit(limit).get()
    expect(ids((await page(0, 2)).data)).toEqual(['p1', 'p2'])
    expect(ids((await page(2, 2)).data)).toEqual(['p3', 'p4'])
    expect(ids((await page(3, 10)).data)).toEqual(['p4'])
    expect((await page(4, 10)).data).toEqual([])
  })

  test('field() returns only the included fields (and _id), or everything but the excluded ones', async () => {
    const included = (await db.collection('shop').where({ _id: 'p1' }).field({ name: true, 'spec.color': true }).get()).data
    expect(included).toEqual([{ _id: 'p1', name: 'pen', spec: { color: 'blue' } }])
    const excluded = (await db.collection('shop').where({ _id: 'p1' }).field({ tags: false, variants: false, spec: false, added: false }).get()).data
    expect(excluded).toEqual([{ _id: 'p1', name: 'pen', price: 3, stock: 10 }])
    const single = (await db.collection('shop').doc('p2').field({ price: true }).get()).data
    expect(single).toEqual({ _id: 'p2', price: 12 })
  })
})

describe('get limits and count', () => {
  beforeAll(async () => {
    const docs = Array.from({ length: 1200 }, (_unused, i) => ({ _id: `big-${String(i).padStart(4, '0')}`, i }))
    for (let start = 0; start < docs.length; start += 400) await db.collection('big').add({ data: docs.slice(start, start + 400) })
  })

  test('get without limit returns 100 documents', async () => {
    const { data } = await db.collection('big').get()
    expect(data).toHaveLength(100)
    expect((await db.collection('big').where({ i: _.lt(150) }).get()).data).toHaveLength(100)
  })

  test('get returns at most 1000 documents, whatever limit is asked for', async () => {
    // The SDK itself lowers limit(2000) to 1000 ...
    expect((await db.collection('big').limit(2000).get()).data).toHaveLength(1000)
    // ... so the server's own cap is checked with a raw protocol request.
    const res = await fetch(`${t.url}/admin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'database.getDocument', collectionName: 'big', queryType: 'WHERE', limit: 5000 }),
    })
    const body = (await res.json()) as { data: { list: string[] } }
    expect(body.data.list).toHaveLength(1000)
    expect(typeof body.data.list[0]).toBe('string')
    // The rest is reachable with skip.
    expect((await db.collection('big').skip(1000).limit(1000).get()).data).toHaveLength(200)
  })

  test('count counts every match, beyond the get limits, with or without where', async () => {
    expect((await db.collection('big').count()).total).toBe(1200)
    expect((await db.collection('big').where({ i: _.gte(1195) }).count()).total).toBe(5)
    expect((await db.collection('big').where({ i: -1 }).count()).total).toBe(0)
  })
})

describe('remove', () => {
  beforeAll(async () => {
    await db.createCollection('trash')
    await db.collection('trash').add({ data: [1, 2, 3, 4, 5, 6].map((n) => ({ _id: `r${n}`, n, odd: n % 2 === 1 })) })
  })

  test('doc().remove removes that document (removed 1); a missing one reports removed 0', async () => {
    const res = await db.collection('trash').doc('r6').remove()
    expect(res.stats.removed).toBe(1)
    expect(stored('trash', { _id: 'r6' })).toEqual([])
    expect(stored('trash', {})).toHaveLength(5)
    expect((await db.collection('trash').doc('r6').remove()).stats.removed).toBe(0)
  })

  test('where().remove removes every match, reports how many, and leaves the rest', async () => {
    const res = await db.collection('trash').where({ odd: true }).remove()
    expect(res.stats.removed).toBe(3)
    expect(stored('trash', {}).map((d) => d._id)).toEqual(['r2', 'r4'])
    expect((await db.collection('trash').where({ odd: true }).remove()).stats.removed).toBe(0)
  })
})
