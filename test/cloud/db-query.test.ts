/**
 * Database conformance, part 2: every query command (db.command) and the geo queries, through the
 * unmodified wx-server-sdk against the local cloud.
 */
import { startCloud, type TestCloud, connectSdk } from '../helpers/local-cloud'

type Doc = Record<string, any>

let t: TestCloud
// The SDK's typings declare results as `Promise<X> | void | string`; tests use it untyped.
let db: any
let _: any
let $: any

const PRODUCTS = [
  { _id: 'p1', name: 'apple', price: 5, stock: 10, tags: ['fruit', 'red'], dims: { w: 1, h: 2 }, lines: [{ sku: 'a', qty: 1 }, { sku: 'b', qty: 5 }], rating: null },
  { _id: 'p2', name: 'Banana', price: 2, stock: 0, tags: ['fruit', 'yellow'], dims: { w: 2, h: 2 }, lines: [{ sku: 'a', qty: 3 }] },
  { _id: 'p3', name: 'carrot', price: 1, stock: 50, tags: ['vegetable'], dims: { w: 1, h: 5 }, lines: [] },
  { _id: 'p4', name: 'durian', price: 20, stock: 3, tags: ['fruit', 'smelly', 'yellow'], lines: [{ sku: 'c', qty: 2 }, { sku: 'a', qty: 9 }] },
]

// Inserted out of distance order, so that "nearest first" is the server's doing.
const PLACES: [string, number, number][] = [
  ['olympic-park', 116.3972, 39.9929], // ~9.4 km north of tiananmen
  ['shanghai', 121.4737, 31.2304], // ~1070 km
  ['wangfujing', 116.4109, 39.9149], // ~1.3 km
  ['tiananmen', 116.3975, 39.9087],
]

beforeAll(async () => {
  t = await startCloud()
  const cloud = connectSdk(t.cloud)
  db = cloud.database()
  _ = db.command
  $ = _.aggregate
  await db.createCollection('products')
  await db.createCollection('places')
  await db.createCollection('shapes')
  await db.collection('products').add({ data: PRODUCTS })
  await db.collection('places').add({
    data: [...PLACES.map(([_id, lng, lat]) => ({ _id, loc: db.Geo.Point(lng, lat) })), { _id: 'nowhere' }],
  })
})
afterAll(() => t.stop())

/** _ids of the products matching `where`, sorted (for commands whose order is unspecified). */
async function ids(where: unknown): Promise<string[]> {
  const { data } = await db.collection('products').where(where).get()
  return (data as Doc[]).map((d) => d._id as string).sort()
}

describe('comparison commands', () => {
  test('eq and neq', async () => {
    expect(await ids({ price: _.eq(2) })).toEqual(['p2'])
    expect(await ids({ price: _.neq(2) })).toEqual(['p1', 'p3', 'p4'])
    // neq also matches documents without the field.
    expect(await ids({ rating: _.neq(5) })).toEqual(['p1', 'p2', 'p3', 'p4'])
  })

  test('lt, lte, gt, gte', async () => {
    expect(await ids({ price: _.lt(2) })).toEqual(['p3'])
    expect(await ids({ price: _.lte(2) })).toEqual(['p2', 'p3'])
    expect(await ids({ price: _.gt(5) })).toEqual(['p4'])
    expect(await ids({ price: _.gte(5) })).toEqual(['p1', 'p4'])
  })

  test('in and nin', async () => {
    expect(await ids({ price: _.in([1, 20, 99]) })).toEqual(['p3', 'p4'])
    expect(await ids({ price: _.nin([1, 20]) })).toEqual(['p1', 'p2'])
    // On an array field, `in` matches when any element is listed.
    expect(await ids({ tags: _.in(['red', 'vegetable']) })).toEqual(['p1', 'p3'])
  })
})

describe('logical commands', () => {
  test('field-level and / or', async () => {
    expect(await ids({ price: _.gt(1).and(_.lt(20)) })).toEqual(['p1', 'p2'])
    expect(await ids({ price: _.lt(2).or(_.gt(10)) })).toEqual(['p3', 'p4'])
    expect(await ids({ price: _.or(_.eq(5), _.eq(2)) })).toEqual(['p1', 'p2'])
  })

  test('top-level _.or and _.and across fields', async () => {
    expect(await ids(_.or([{ price: 1 }, { stock: 0 }]))).toEqual(['p2', 'p3'])
    expect(await ids(_.and([{ tags: 'fruit' }, { stock: _.gt(5) }]))).toEqual(['p1'])
    expect(await ids(_.or([{ price: _.gt(10) }, { name: 'apple', stock: 10 }]))).toEqual(['p1', 'p4'])
  })

  test('nor matches documents that match none of the conditions', async () => {
    expect(await ids(_.nor([{ tags: 'yellow' }, { price: 1 }]))).toEqual(['p1'])
  })

  test('not negates a field condition (and matches documents without the field)', async () => {
    expect(await ids({ price: _.not(_.gt(2)) })).toEqual(['p2', 'p3'])
    expect(await ids({ dims: { h: _.not(_.eq(2)) } })).toEqual(['p3', 'p4'])
  })
})

describe('field and array commands', () => {
  test('exists: a null value exists, a missing field does not', async () => {
    expect(await ids({ rating: _.exists(true) })).toEqual(['p1'])
    expect(await ids({ rating: _.exists(false) })).toEqual(['p2', 'p3', 'p4'])
    expect(await ids({ dims: _.exists(false) })).toEqual(['p4'])
  })

  test('mod(divisor, remainder)', async () => {
    expect(await ids({ stock: _.mod(5, 0) })).toEqual(['p1', 'p2', 'p3'])
    expect(await ids({ stock: _.mod(5, 3) })).toEqual(['p4'])
  })

  test('all requires every listed element', async () => {
    expect(await ids({ tags: _.all(['fruit', 'yellow']) })).toEqual(['p2', 'p4'])
    expect(await ids({ tags: _.all(['fruit', 'vegetable']) })).toEqual([])
  })

  test('elemMatch requires one element to satisfy every condition at once', async () => {
    expect(await ids({ lines: _.elemMatch({ sku: 'a', qty: _.gt(2) }) })).toEqual(['p2', 'p4'])
    // Without elemMatch, the conditions may be met by different elements (p1: sku a, qty 5 on b).
    expect(await ids({ 'lines.sku': 'a', 'lines.qty': _.gt(2) })).toEqual(['p1', 'p2', 'p4'])
  })

  test('elemMatch with field conditions matches arrays of embedded documents, never arrays of plain values', async () => {
    await db.createCollection('scores')
    await db.collection('scores').add({
      data: [
        { _id: 'docs', tags: [{ value: 1 }, { value: -1 }] },
        { _id: 'plain', tags: [1, 2, 3] },
        { _id: 'mixed', tags: [5, { value: 0 }] },
        { _id: 'none', tags: [] },
      ],
    })
    const where = async (q: unknown) => ((await db.collection('scores').where(q).get()).data as Doc[]).map((d) => d._id).sort()
    expect(await where({ tags: _.elemMatch({ value: _.gt(0) }) })).toEqual(['docs'])
    // Conditions on the elements themselves still match plain values.
    expect(await where({ tags: _.elemMatch(_.gt(2)) })).toEqual(['mixed', 'plain'])
  })

  test('size matches the array length', async () => {
    expect(await ids({ tags: _.size(2) })).toEqual(['p1', 'p2'])
    expect(await ids({ lines: _.size(0) })).toEqual(['p3'])
  })

  test('expr compares fields of the same document with aggregation expressions', async () => {
    expect(await ids(_.expr($.gt(['$stock', '$price'])))).toEqual(['p1', 'p3'])
    expect(await ids(_.expr($.eq([$.multiply(['$price', 2]), '$stock'])))).toEqual(['p1'])
    expect(await ids(_.and([{ tags: 'fruit' }, _.expr($.lt(['$stock', '$price']))]))).toEqual(['p2', 'p4'])
  })
})

describe('jsonSchema', () => {
  test('jsonSchema matches the documents valid against the schema (required, bsonType, minimum, enum)', async () => {
    const schema = {
      required: ['name', 'price'],
      properties: {
        name: { bsonType: 'string' },
        price: { bsonType: ['int', 'double'], minimum: 2 },
        tags: { bsonType: 'array', items: { enum: ['fruit', 'red', 'yellow', 'smelly'] } },
      },
    }
    expect(await ids(_.jsonSchema(schema))).toEqual(['p1', 'p2', 'p4'])
    expect(await ids(_.and([_.jsonSchema({ required: ['rating'] }), { price: _.gt(1) }]))).toEqual(['p1'])
  })
})

describe('regular expressions', () => {
  test('a JavaScript RegExp literal, with and without the i flag', async () => {
    expect(await ids({ name: /^b/i })).toEqual(['p2'])
    expect(await ids({ name: /^b/ })).toEqual([])
    expect(await ids({ name: /an/ })).toEqual(['p2', 'p4'])
  })

  test('db.RegExp({ regexp, options })', async () => {
    expect(await ids({ name: db.RegExp({ regexp: '^B', options: 'i' }) })).toEqual(['p2'])
    expect(await ids({ name: db.RegExp({ regexp: '^b' }) })).toEqual([])
    expect(await ids({ name: db.RegExp({ regexp: 'RR', options: 'i' }) })).toEqual(['p3'])
  })
})

describe('geo queries', () => {
  const order = async (where: unknown): Promise<string[]> =>
    ((await db.collection('places').where(where).get()).data as Doc[]).map((d) => d._id as string)
  const near = (options: Doc) => ({ loc: _.geoNear({ geometry: db.Geo.Point(116.3975, 39.9087), ...options }) })

  test('geoNear returns the nearest first, within maxDistance and beyond minDistance (meters)', async () => {
    expect(await order(near({ maxDistance: 20_000 }))).toEqual(['tiananmen', 'wangfujing', 'olympic-park'])
    expect(await order(near({ maxDistance: 5_000 }))).toEqual(['tiananmen', 'wangfujing'])
    expect(await order(near({ minDistance: 1_000, maxDistance: 20_000 }))).toEqual(['wangfujing', 'olympic-park'])
    expect(await order(near({}))).toEqual(['tiananmen', 'wangfujing', 'olympic-park', 'shanghai'])
    const fromShanghai = await order({ loc: _.geoNear({ geometry: db.Geo.Point(121.47, 31.23) }) })
    expect(fromShanghai).toEqual(['shanghai', 'tiananmen', 'wangfujing', 'olympic-park'])
  })

  test('a geo query with the wrong kind of geometry fails with DATABASE_INVALID_OPERRATOR', async () => {
    // The SDK validates geometries itself, so the request is sent raw.
    const res = await fetch(`${t.url}/admin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        action: 'database.getDocument',
        collectionName: 'places',
        queryType: 'WHERE',
        query: JSON.stringify({ loc: { $nearSphere: { $geometry: { type: 'LineString', coordinates: [[116, 39], [117, 40]] } } } }),
      }),
    })
    expect(((await res.json()) as { code?: string }).code).toBe('DATABASE_INVALID_OPERRATOR')
  })

  test('geoWithin a Polygon', async () => {
    const { Point, LineString, Polygon } = db.Geo
    const box = Polygon([LineString([Point(116.38, 39.90), Point(116.42, 39.90), Point(116.42, 39.92), Point(116.38, 39.92), Point(116.38, 39.90)])])
    expect((await order({ loc: _.geoWithin({ geometry: box }) })).sort()).toEqual(['tiananmen', 'wangfujing'])
  })

  test('geoWithin a centerSphere [[lng, lat], radius in radians]', async () => {
    const within = async (meters: number) =>
      (await order({ loc: _.geoWithin({ centerSphere: [[116.3975, 39.9087], meters / 6378100] }) })).sort()
    expect(await within(2_000)).toEqual(['tiananmen', 'wangfujing'])
    expect(await within(10_000)).toEqual(['olympic-park', 'tiananmen', 'wangfujing'])
    expect(await within(500)).toEqual(['tiananmen'])
  })

  test('geoIntersects finds points, lines and polygons that touch the geometry', async () => {
    const { Point, LineString, Polygon } = db.Geo
    await db.collection('shapes').add({
      data: [
        { _id: 'inside-point', shape: Point(116.40, 39.91) },
        { _id: 'outside-point', shape: Point(116.50, 39.91) },
        { _id: 'crossing-road', shape: LineString([Point(116.30, 39.91), Point(116.50, 39.91)]) },
        { _id: 'far-road', shape: LineString([Point(116.30, 40.10), Point(116.50, 40.10)]) },
        { _id: 'overlapping-park', shape: Polygon([LineString([Point(116.41, 39.905), Point(116.45, 39.905), Point(116.45, 39.95), Point(116.41, 39.95), Point(116.41, 39.905)])]) },
      ],
    })
    const box = Polygon([LineString([Point(116.38, 39.90), Point(116.42, 39.90), Point(116.42, 39.92), Point(116.38, 39.92), Point(116.38, 39.90)])])
    const { data } = await db.collection('shapes').where({ shape: _.geoIntersects({ geometry: box }) }).get()
    expect((data as Doc[]).map((d) => d._id).sort()).toEqual(['crossing-road', 'inside-point', 'overlapping-park'])
  })
})
