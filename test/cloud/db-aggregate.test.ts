/**
 * Database conformance, part 4: aggregation through `.aggregate()...end()`, with the unmodified
 * wx-server-sdk against the local cloud.
 */
import { startCloud, type TestCloud, connectSdk } from '../helpers/local-cloud'

type Doc = Record<string, any>

let t: TestCloud
// The SDK's typings declare results as `Promise<X> | void | string`; tests use it untyped.
let db: any
let _: any
let $: any

const ORDERS = [
  { _id: 'o1', customer: 'c1', status: 'paid', amount: 30, items: ['pen', 'ink'], at: new Date('2024-01-01') },
  { _id: 'o2', customer: 'c1', status: 'paid', amount: 10, items: ['pen'], at: new Date('2024-01-03') },
  { _id: 'o3', customer: 'c2', status: 'open', amount: 25, items: ['book'], at: new Date('2024-01-02') },
  { _id: 'o4', customer: 'c3', status: 'paid', amount: 5, items: [], at: new Date('2024-01-04') },
  { _id: 'o5', customer: 'c2', status: 'void', amount: 50, items: ['pen', 'book', 'ink'], at: new Date('2024-01-05') },
]
const CUSTOMERS = [
  { _id: 'c1', name: 'Ann', profile: { city: 'Shenzhen', vip: true } },
  { _id: 'c2', name: 'Bob', profile: { city: 'Beijing', vip: false } },
  { _id: 'c3', name: 'Cy', profile: { city: 'Shenzhen', vip: false } },
  { _id: 'c4', name: 'Dee', profile: { city: 'Xiamen', vip: true } },
]

beforeAll(async () => {
  t = await startCloud()
  const cloud = connectSdk(t.cloud)
  db = cloud.database()
  _ = db.command
  $ = _.aggregate
  for (const name of ['orders', 'customers', 'stores', 'thirty']) await db.createCollection(name)
  await db.collection('orders').add({ data: ORDERS })
  await db.collection('customers').add({ data: CUSTOMERS })
  await db.collection('stores').add({
    data: [
      { _id: 'far', name: 'far', loc: db.Geo.Point(116.3972, 39.9929), open: true },
      { _id: 'near', name: 'near', loc: db.Geo.Point(116.4109, 39.9149), open: true },
      { _id: 'closed', name: 'closed', loc: db.Geo.Point(116.3980, 39.9090), open: false },
      { _id: 'here', name: 'here', loc: db.Geo.Point(116.3975, 39.9087), open: true },
    ],
  })
  await db.collection('thirty').add({ data: Array.from({ length: 30 }, (_unused, i) => ({ i })) })
})
afterAll(() => t.stop())

const orders = () => db.collection('orders').aggregate()
const list = async (agg: any): Promise<Doc[]> => (await agg.end()).list

describe('stages', () => {
  test('match filters with query commands', async () => {
    const docs = await list(orders().match({ status: 'paid', amount: _.gte(10) }))
    expect(docs.map((d) => d._id)).toEqual(['o1', 'o2'])
  })

  test('group with sum, avg, min, max, push, addToSet, first and last', async () => {
    const docs = await list(
      orders()
        .sort({ at: 1 })
        .group({
          _id: '$customer',
          total: $.sum('$amount'),
          orders: $.sum(1),
          average: $.avg('$amount'),
          smallest: $.min('$amount'),
          largest: $.max('$amount'),
          amounts: $.push('$amount'),
          statuses: $.addToSet('$status'),
          first: $.first('$_id'),
          last: $.last('$_id'),
        })
        .sort({ _id: 1 }),
    )
    for (const doc of docs) doc.statuses.sort()
    expect(docs).toEqual([
      { _id: 'c1', total: 40, orders: 2, average: 20, smallest: 10, largest: 30, amounts: [30, 10], statuses: ['paid'], first: 'o1', last: 'o2' },
      { _id: 'c2', total: 75, orders: 2, average: 37.5, smallest: 25, largest: 50, amounts: [25, 50], statuses: ['open', 'void'], first: 'o3', last: 'o5' },
      { _id: 'c3', total: 5, orders: 1, average: 5, smallest: 5, largest: 5, amounts: [5], statuses: ['paid'], first: 'o4', last: 'o4' },
    ])
  })

  test('group with _id null summarizes the whole (matched) collection', async () => {
    expect(await list(orders().match({ status: 'paid' }).group({ _id: null, revenue: $.sum('$amount') }))).toEqual([{ _id: null, revenue: 45 }])
  })

  test('sort, skip and limit', async () => {
    const docs = await list(orders().sort({ amount: -1 }).skip(1).limit(2))
    expect(docs.map((d) => d._id)).toEqual(['o1', 'o3'])
    const byTwoKeys = await list(orders().sort({ status: 1, amount: 1 }).project({ _id: 1 }))
    expect(byTwoKeys.map((d) => d._id)).toEqual(['o3', 'o4', 'o2', 'o1', 'o5'])
  })

  test('project includes, excludes and computes fields', async () => {
    const docs = await list(orders().match({ _id: 'o1' }).project({ _id: 0, customer: 1, double: $.multiply(['$amount', 2]), count: $.size('$items') }))
    expect(docs).toEqual([{ customer: 'c1', double: 60, count: 2 }])
    const excluded = await list(orders().match({ _id: 'o1' }).project({ items: 0, at: 0, status: 0 }))
    expect(excluded).toEqual([{ _id: 'o1', customer: 'c1', amount: 30 }])
  })

  test('addFields adds computed fields and keeps the others', async () => {
    const docs = await list(orders().match({ _id: 'o2' }).addFields({ tripled: $.multiply(['$amount', 3]), big: $.gt(['$amount', 20]) }))
    expect(docs).toEqual([{ ...ORDERS[1], tripled: 30, big: false }])
  })

  test('unwind emits one document per array element (empty arrays emit none)', async () => {
    const docs = await list(orders().unwind('$items').project({ items: 1 }).sort({ _id: 1, items: 1 }))
    expect(docs.map((d) => `${d._id}:${d.items}`)).toEqual(['o1:ink', 'o1:pen', 'o2:pen', 'o3:book', 'o5:book', 'o5:ink', 'o5:pen'])
  })

  test('lookup with localField / foreignField joins matching documents', async () => {
    const docs = await list(
      db.collection('customers').aggregate().lookup({ from: 'orders', localField: '_id', foreignField: 'customer', as: 'orders' }).sort({ _id: 1 }),
    )
    expect(docs.map((d) => [d._id, d.orders.map((o: Doc) => o._id).sort()])).toEqual([
      ['c1', ['o1', 'o2']],
      ['c2', ['o3', 'o5']],
      ['c3', ['o4']],
      ['c4', []],
    ])
    expect(docs[0]!.orders.find((o: Doc) => o._id === 'o1')).toEqual(ORDERS[0])
  })

  test('lookup from a collection that does not exist joins nothing (MongoDB semantics)', async () => {
    const docs = await list(orders().match({ customer: 'c1' }).lookup({ from: 'no_such_collection', localField: '_id', foreignField: 'order', as: 'refunds' }))
    expect(docs.map((d) => [d._id, d.refunds])).toEqual([
      ['o1', []],
      ['o2', []],
    ])
  })

  test('lookup with let / pipeline joins by an expression', async () => {
    const docs = await list(
      db
        .collection('customers')
        .aggregate()
        .lookup({
          from: 'orders',
          let: { customerId: '$_id' },
          pipeline: $.pipeline()
            .match(_.expr($.and([$.eq(['$customer', '$$customerId']), $.eq(['$status', 'paid'])])))
            .sort({ amount: -1 })
            .project({ _id: 0, amount: 1 })
            .done(),
          as: 'paid',
        })
        .sort({ _id: 1 }),
    )
    expect(docs.map((d) => [d._id, d.paid])).toEqual([
      ['c1', [{ amount: 30 }, { amount: 10 }]],
      ['c2', []],
      ['c3', [{ amount: 5 }]],
      ['c4', []],
    ])
  })

  test('count returns the number of documents under the given name', async () => {
    expect(await list(orders().match({ status: 'paid' }).count('paidOrders'))).toEqual([{ paidOrders: 3 }])
  })

  test('sortByCount groups by a value and sorts by count, largest first', async () => {
    const docs = await list(orders().unwind('$items').sortByCount('$items'))
    expect(docs[0]).toEqual({ _id: 'pen', count: 3 })
    expect(docs.slice(1).sort((a, b) => String(a._id).localeCompare(String(b._id)))).toEqual([
      { _id: 'book', count: 2 },
      { _id: 'ink', count: 2 },
    ])
  })

  test('bucket groups into ranges, with a default bucket for the rest', async () => {
    const docs = await list(
      orders().bucket({ groupBy: '$amount', boundaries: [0, 20, 40], default: 'large', output: { count: $.sum(1), ids: $.push('$_id') } }),
    )
    for (const doc of docs) doc.ids.sort()
    expect(docs).toEqual([
      { _id: 0, count: 2, ids: ['o2', 'o4'] },
      { _id: 20, count: 2, ids: ['o1', 'o3'] },
      { _id: 'large', count: 1, ids: ['o5'] },
    ])
  })

  test('replaceRoot promotes an embedded document to the top level', async () => {
    const docs = await list(db.collection('customers').aggregate().match({ 'profile.vip': true }).replaceRoot({ newRoot: '$profile' }))
    expect(docs).toEqual([{ city: 'Shenzhen', vip: true }, { city: 'Xiamen', vip: true }])
  })

  test('sample picks the given number of distinct documents at random', async () => {
    const two = await list(orders().sample({ size: 2 }))
    expect(two).toHaveLength(2)
    expect(two[0]!._id).not.toBe(two[1]!._id)
    for (const doc of two) expect(ORDERS).toContainEqual(doc)
    // Asking for every document returns each once, never one twice.
    for (let i = 0; i < 5; i++) {
      const every = await list(orders().sample({ size: 5 }))
      expect(every.map((d) => d._id).sort()).toEqual(['o1', 'o2', 'o3', 'o4', 'o5'])
    }
    const picks = new Set<string>()
    for (let i = 0; i < 20; i++) picks.add((await list(orders().sample({ size: 1 })))[0]!._id)
    expect(picks.size).toBeGreaterThan(1)
  })

  test('geoNear (first stage) returns the nearest first with the distance in distanceField, honouring query and maxDistance', async () => {
    const docs = await list(
      db
        .collection('stores')
        .aggregate()
        .geoNear({ near: db.Geo.Point(116.3975, 39.9087), spherical: true, distanceField: 'distance', maxDistance: 5_000, query: { open: true } })
        .project({ distance: 1 }),
    )
    expect(docs.map((d) => d._id)).toEqual(['here', 'near'])
    expect(docs[0]!.distance).toBe(0)
    expect(docs[1]!.distance).toBeGreaterThan(1_300)
    expect(docs[1]!.distance).toBeLessThan(1_400)

    const all = await list(db.collection('stores').aggregate().geoNear({ near: db.Geo.Point(116.3975, 39.9087), spherical: true, distanceField: 'd' }))
    expect(all.map((d) => d._id)).toEqual(['here', 'closed', 'near', 'far'])
    expect(all.map((d) => d.d)).toEqual([...all.map((d) => d.d)].sort((a, b) => a - b))
  })

  test('geoNear anywhere but the first stage is refused', async () => {
    await expect(
      db.collection('stores').aggregate().match({ open: true }).geoNear({ near: db.Geo.Point(116.3975, 39.9087), spherical: true, distanceField: 'd' }).end(),
    ).rejects.toMatchObject({ errMsg: expect.stringContaining('first stage') })
  })
})

describe('expression operators the cloud documents', () => {
  beforeAll(async () => {
    await db.createCollection('dates')
    await db.createCollection('students')
    await db.collection('dates').add({
      data: [
        { _id: 'doc', date: new Date('2019-05-14T09:38:51.686Z') },
        { _id: 'new-year', date: new Date('2016-01-01T00:00:00Z') },
        { _id: 'first-monday', date: new Date('2016-01-04T00:00:00Z') },
        { _id: 'sunday', date: new Date('1998-11-01T00:00:00Z') },
      ],
    })
    await db.collection('students').add({
      data: [
        { _id: 1, birthday: '1999/12/12', firstName: 'Yuanxin' },
        { _id: 2, birthday: '1998/11/11', firstName: 'Weijia' },
        { _id: 3, birthday: '1997/10/10', firstName: 'Chengxi' },
      ],
    })
  })

  test('week counts Sunday-started weeks, days before the first Sunday being week 0 (strftime %U)', async () => {
    const docs = await list(db.collection('dates').aggregate().project({ week: $.week('$date') }).sort({ _id: 1 }))
    expect(Object.fromEntries(docs.map((d) => [d._id, d.week]))).toEqual({ doc: 19, 'new-year': 0, 'first-monday': 1, sunday: 44 })
    const zoned = await list(db.collection('dates').aggregate().match({ _id: 'sunday' }).project({ week: $.week({ date: '$date', timezone: '-0500' }) }))
    expect(zoned[0]!.week).toBe(43)
  })

  test('substr and substrBytes: a negative length takes the rest of the string, a negative start gives ""', async () => {
    const docs = await list(
      db
        .collection('students')
        .aggregate()
        .sort({ _id: 1 })
        .project({
          _id: 0,
          year: $.substrBytes(['$birthday', 0, 4]),
          month: $.substrBytes(['$birthday', 5, 2]),
          day: $.substrBytes(['$birthday', 8, -1]),
          rest: $.substr(['$firstName', 1, -1]),
          none: $.substr(['$firstName', -1, 2]),
        }),
    )
    expect(docs).toEqual([
      { year: '1999', month: '12', day: '12', rest: 'uanxin', none: '' },
      { year: '1998', month: '11', day: '11', rest: 'eijia', none: '' },
      { year: '1997', month: '10', day: '10', rest: 'hengxi', none: '' },
    ])
  })

  test('indexOfCP finds a substring by code point, from an optional start to an optional end; -1 when absent', async () => {
    const docs = await list(
      db
        .collection('students')
        .aggregate()
        .match({ _id: 1 })
        .project({
          _id: 0,
          n: $.indexOfCP(['$firstName', 'n']),
          fromFour: $.indexOfCP(['$firstName', 'n', 4]),
          within: $.indexOfCP(['$firstName', 'x', 0, 3]),
          missing: $.indexOfCP(['$firstName', 'q']),
          cjk: $.indexOfCP(['冬至快乐，冬', '快乐']),
        }),
    )
    // Yuanxin: the first n is at 3, the next from 4 on at 6; x (4) lies past the end (3).
    expect(docs).toEqual([{ n: 3, fromFour: 6, within: -1, missing: -1, cjk: 2 }])
  })

  test('geoNear with distanceMultiplier scales the distance (meters x 0.001 = km)', async () => {
    const docs = await list(
      db.collection('stores').aggregate().geoNear({ near: db.Geo.Point(116.3975, 39.9087), spherical: true, distanceField: 'km', distanceMultiplier: 0.001, query: { _id: 'near' } }),
    )
    expect(docs[0]!.km).toBeGreaterThan(1.3)
    expect(docs[0]!.km).toBeLessThan(1.4)
  })

  test('geoNear accepts near as { longitude, latitude }, as older SDKs send it, with distanceMultiplier', async () => {
    const res = await fetch(`${t.url}/admin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        action: 'database.aggregateDocuments',
        collectionName: 'stores',
        stages: [
          { stageKey: '$geoNear', stageValue: JSON.stringify({ near: { longitude: 116.3975, latitude: 39.9087 }, spherical: true, distanceField: 'km', distanceMultiplier: 0.001 }) },
          { stageKey: '$limit', stageValue: '2' },
        ],
      }),
    })
    const body = (await res.json()) as { data?: { list: string[] }; code?: string }
    expect(body.code).toBeUndefined()
    const docs = body.data!.list.map((item) => JSON.parse(item) as Doc)
    expect(docs.map((d) => d._id)).toEqual(['here', 'closed'])
    expect(docs[0]!.km).toBe(0)
    expect(docs[1]!.km).toBeLessThan(0.1)
  })
})

describe('result size', () => {
  test('local cloud: a pipeline without a limit stage returns at most 20 documents; limit raises it', async () => {
    const thirty = () => db.collection('thirty').aggregate()
    expect(await list(thirty().match({}))).toHaveLength(20)
    expect(await list(thirty().match({ i: _.gte(5) }).sort({ i: 1 }))).toHaveLength(20)
    expect(await list(thirty().match({}).limit(30))).toHaveLength(30)
    expect(await list(thirty().sort({ i: -1 }).limit(25))).toHaveLength(25)
    expect(await list(thirty().group({ _id: null, n: $.sum(1) }))).toEqual([{ _id: null, n: 30 }])
  })
})
