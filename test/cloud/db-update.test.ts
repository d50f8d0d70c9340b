/**
 * Database conformance, part 3: update commands, set, and concurrent updates, through the
 * unmodified wx-server-sdk against the local cloud.
 */
import { startCloud, type TestCloud, connectSdk, rejection } from '../helpers/local-cloud'

type Doc = Record<string, any>
let t: TestCloud
// The SDK's typings declare results as `Promise<X> | void | string`; tests use it untyped.
let db: any
let _: any
let seq = 0

beforeAll(async () => {
  t = await startCloud()
  const cloud = connectSdk(t.cloud)
  db = cloud.database()
  _ = db.command
  await db.createCollection('docs')
})
afterAll(() => t.stop())

/** Adds a fresh document and returns its _id. */
async function seed(data: Doc): Promise<string> {
  const _id = `d${++seq}`
  await db.collection('docs').add({ data: { _id, ...data } })
  return _id
}

/** Updates one document; returns stats.updated and the document as stored afterwards. */
async function update(id: string, data: Doc): Promise<{ updated: number; doc: Doc }> {
  const res = await db.collection('docs').doc(id).update({ data })
  return { updated: res.stats.updated, doc: (await db.collection('docs').doc(id).get()).data }
}

describe('field update commands', () => {
  test('set replaces the whole field value, even with an object', async () => {
    const id = await seed({ o: { p: 1, q: 2 }, keep: true })
    expect(await update(id, { o: _.set({ p: 9 }) })).toEqual({ updated: 1, doc: { _id: id, o: { p: 9 }, keep: true } })
  })

  test('a plain nested object merges into the document by dotted paths', async () => {
    const id = await seed({ o: { p: 1, q: 2, deep: { a: 1 } }, keep: true })
    const { doc } = await update(id, { o: { p: 9, deep: { b: 2 }, added: 'x' } })
    expect(doc).toEqual({ _id: id, o: { p: 9, q: 2, deep: { a: 1, b: 2 }, added: 'x' }, keep: true })
  })

  test('remove deletes the field', async () => {
    const id = await seed({ a: 1, b: 2, o: { x: 1, y: 2 } })
    const { doc } = await update(id, { a: _.remove(), o: { x: _.remove() } })
    expect(doc).toEqual({ _id: id, b: 2, o: { y: 2 } })
  })

  test('inc adds (negative amounts too) and creates a missing field', async () => {
    const id = await seed({ n: 10, f: 1.5 })
    expect((await update(id, { n: _.inc(5), f: _.inc(-0.5), fresh: _.inc(3) })).doc).toEqual({ _id: id, n: 15, f: 1, fresh: 3 })
    expect((await update(id, { n: _.inc(-20) })).doc.n).toBe(-5)
  })

  test('mul multiplies, and sets a missing field to 0', async () => {
    const id = await seed({ n: 4 })
    expect((await update(id, { n: _.mul(2.5), missing: _.mul(7) })).doc).toEqual({ _id: id, n: 10, missing: 0 })
  })

  test('min and max change the field only past the bound; unchanged means stats.updated 0', async () => {
    const id = await seed({ low: 5, high: 5 })
    expect(await update(id, { low: _.min(3), high: _.max(8) })).toEqual({ updated: 1, doc: { _id: id, low: 3, high: 8 } })
    expect(await update(id, { low: _.min(4), high: _.max(7) })).toEqual({ updated: 0, doc: { _id: id, low: 3, high: 8 } })
    const dates = await seed({ at: new Date('2024-01-01') })
    expect((await update(dates, { at: _.max(new Date('2025-01-01')) })).doc.at).toEqual(new Date('2025-01-01'))
  })

  test('rename moves the value to the new field name', async () => {
    const id = await seed({ old: 'v', other: 1 })
    expect((await update(id, { old: _.rename('renamed') })).doc).toEqual({ _id: id, renamed: 'v', other: 1 })
  })

  test('stats.updated is 0 when the update changes nothing', async () => {
    const id = await seed({ a: 1, o: { b: 2 } })
    expect((await update(id, { a: 1, o: { b: 2 } })).updated).toBe(0)
    expect((await update(id, { a: _.set(1) })).updated).toBe(0)
    expect((await update(id, { a: 2 })).updated).toBe(1)
    expect((await db.collection('docs').doc('no-such-doc').update({ data: { a: 1 } })).stats.updated).toBe(0)
  })

  test('inc on a non-number fails with -502001 and writes nothing', async () => {
    const id = await seed({ n: 'text', m: 1 })
    const err = await rejection(db.collection('docs').doc(id).update({ data: { n: _.inc(1), m: _.inc(1) } }))
    expect(err.errCode).toBe(-502001)
    expect((await db.collection('docs').doc(id).get()).data).toEqual({ _id: id, n: 'text', m: 1 })
  })
})

describe('array update commands', () => {
  test('push appends one value, or each element of an array', async () => {
    const id = await seed({ a: [1] })
    expect((await update(id, { a: _.push(2) })).doc.a).toEqual([1, 2])
    expect((await update(id, { a: _.push([3, 4]) })).doc.a).toEqual([1, 2, 3, 4])
    expect((await update(id, { fresh: _.push(['x']) })).doc.fresh).toEqual(['x'])
  })

  test('push with { each, position, sort, slice }', async () => {
    const id = await seed({ a: [5, 1, 4] })
    expect((await update(id, { a: _.push({ each: [9], position: 1 }) })).doc.a).toEqual([5, 9, 1, 4])
    // Insert, then sort, then keep the first 3.
    expect((await update(id, { a: _.push({ each: [3, 7], sort: 1, slice: 3 }) })).doc.a).toEqual([1, 3, 4])
    expect((await update(id, { a: _.push({ each: [0], sort: -1, slice: -2 }) })).doc.a).toEqual([1, 0])
  })

  test('pop removes the last element, shift the first, unshift prepends', async () => {
    const id = await seed({ a: [1, 2, 3, 4] })
    expect((await update(id, { a: _.pop() })).doc.a).toEqual([1, 2, 3])
    expect((await update(id, { a: _.shift() })).doc.a).toEqual([2, 3])
    expect((await update(id, { a: _.unshift([0, 1]) })).doc.a).toEqual([0, 1, 2, 3])
  })

  test('pull removes every element equal to a value or matching a condition', async () => {
    const id = await seed({ a: [1, 2, 3, 2, 5], objs: [{ k: 1 }, { k: 2 }, { k: 3 }] })
    expect((await update(id, { a: _.pull(2) })).doc.a).toEqual([1, 3, 5])
    expect((await update(id, { a: _.pull(_.gt(2)) })).doc.a).toEqual([1])
    expect((await update(id, { objs: _.pull({ k: _.gte(2) }) })).doc.objs).toEqual([{ k: 1 }])
  })

  test('pullAll removes every listed value', async () => {
    const id = await seed({ a: ['x', 'y', 'z', 'x'] })
    expect((await update(id, { a: _.pullAll(['x', 'z']) })).doc.a).toEqual(['y'])
  })

  test('addToSet adds a value only if absent, and several with { each }', async () => {
    const id = await seed({ tags: ['a', 'b'] })
    expect(await update(id, { tags: _.addToSet('a') })).toEqual({ updated: 0, doc: { _id: id, tags: ['a', 'b'] } })
    expect((await update(id, { tags: _.addToSet('c') })).doc.tags).toEqual(['a', 'b', 'c'])
    // The documented form `{ each: [...] }` adds the elements, not the object itself ...
    expect((await update(id, { tags: _.addToSet({ each: ['b', 'd', 'e'] }) })).doc.tags).toEqual(['a', 'b', 'c', 'd', 'e'])
    // ... and so does `{ $each }`, the form used in the documentation's example.
    expect((await update(id, { tags: _.addToSet({ $each: ['e', 'f'] }) })).doc.tags).toEqual(['a', 'b', 'c', 'd', 'e', 'f'])
  })

  test('an array command on a field that is not an array fails with -502001 and writes nothing', async () => {
    const id = await seed({ a: 5, b: [1] })
    const err = await rejection(db.collection('docs').doc(id).update({ data: { a: _.push(6), b: _.push(2) } }))
    expect(err.errCode).toBe(-502001)
    expect((await db.collection('docs').doc(id).get()).data).toEqual({ _id: id, a: 5, b: [1] })
  })
})

describe('where().update, doc().set and special values', () => {
  test('where().update updates every match and counts only the documents it changed', async () => {
    const group = `g${++seq}`
    const ids = [await seed({ group, n: 1 }), await seed({ group, n: 2 }), await seed({ group, n: 3, done: true }), await seed({ group: 'other', n: 1 })]
    const res = await db.collection('docs').where({ group }).update({ data: { done: true } })
    expect(res.stats.updated).toBe(2)
    const { data } = await db.collection('docs').where({ _id: _.in(ids) }).orderBy('_id', 'asc').get()
    expect((data as Doc[]).map((d) => d.done ?? false)).toEqual([true, true, true, false])
  })

  test('local cloud: a where().update that fails on one document writes none of them', async () => {
    const group = `g${++seq}`
    const ids = [await seed({ group, n: 1 }), await seed({ group, n: 'two' }), await seed({ group, n: 3 })]
    const err = await rejection(db.collection('docs').where({ group }).update({ data: { n: _.inc(10) } }))
    expect(err.errCode).toBe(-502001)
    const { data } = await db.collection('docs').where({ _id: _.in(ids) }).orderBy('_id', 'asc').get()
    expect((data as Doc[]).map((d) => d.n)).toEqual([1, 'two', 3])
  })

  test('doc().set replaces the whole document (other fields are gone)', async () => {
    const id = await seed({ a: 1, b: { c: 2 }, list: [1] })
    const res = await db.collection('docs').doc(id).set({ data: { b: { d: 3 }, z: 'new' } })
    expect(res.stats).toEqual({ updated: 1, created: 0 })
    expect((await db.collection('docs').doc(id).get()).data).toEqual({ _id: id, b: { d: 3 }, z: 'new' })
  })

  test('doc().set creates a missing document (stats.created 1)', async () => {
    const id = `set-new-${++seq}`
    const res = await db.collection('docs').doc(id).set({ data: { fresh: true } })
    expect(res.stats).toEqual({ updated: 0, created: 1 })
    expect(res._id).toBe(id)
    expect((await db.collection('docs').doc(id).get()).data).toEqual({ _id: id, fresh: true })
  })

  test('serverDate() inside an update is filled in by the server, offset included', async () => {
    const id = await seed({ n: 1 })
    const before = Date.now()
    const { doc } = await update(id, { at: db.serverDate(), o: { soon: db.serverDate({ offset: -60_000 }) } })
    const after = Date.now()
    expect(doc.at).toBeInstanceOf(Date)
    expect(doc.at.getTime()).toBeGreaterThanOrEqual(before)
    expect(doc.at.getTime()).toBeLessThanOrEqual(after)
    expect(doc.o.soon.getTime()).toBe(doc.at.getTime() - 60_000)
  })

  test('updating _id is refused: by the SDK, and by the server when a request asks for it anyway', async () => {
    const id = await seed({ n: 1 })
    const sdk = await rejection(db.collection('docs').doc(id).update({ data: { _id: 'moved' } }))
    expect(sdk.errCode).toBe(-501007)

    const res = await fetch(`${t.url}/admin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        action: 'database.modifyDocument',
        collectionName: 'docs',
        query: JSON.stringify({ _id: id }),
        data: JSON.stringify({ $set: { _id: 'moved', n: 2 } }),
        multi: false,
        merge: true,
      }),
    })
    const body = (await res.json()) as { code?: string }
    expect(body.code).toBe('DATABASE_REQUEST_FAILED')
    expect((await db.collection('docs').doc(id).get()).data).toEqual({ _id: id, n: 1 })
    expect((await db.collection('docs').where({ _id: 'moved' }).count()).total).toBe(0)
  })
})

// updateAndReturn (database.modifyAndReturnDoc) is exposed by @cloudbase/node-sdk only (wx-server-sdk
// 4.0.2 has no such method): "更新一条文档并返回更新后的文档".
describe('updateAndReturn (@cloudbase/node-sdk)', () => {
  let nodeDb: any
  beforeAll(() => {
    const tcb = require('@cloudbase/node-sdk')
    nodeDb = tcb.init({ env: tcb.SYMBOL_CURRENT_ENV }).database()
  })

  test('updates the first match and returns the document as updated, even when the update moves it out of the filter', async () => {
    const id = await seed({ state: 'queued', n: 1 })
    const other = await seed({ state: 'queued', n: 2 })
    const res = await nodeDb.collection('docs').where({ _id: id, state: 'queued' }).updateAndReturn({ state: 'taken', n: nodeDb.command.inc(10) })
    expect(res.updated).toBe(1)
    expect(res.doc).toEqual({ _id: id, state: 'taken', n: 11 })
    expect((await db.collection('docs').doc(id).get()).data).toEqual({ _id: id, state: 'taken', n: 11 })
    expect((await db.collection('docs').doc(other).get()).data).toEqual({ _id: other, state: 'queued', n: 2 })
  })

  test('counts updated: 1 and returns the document when the new values equal the old', async () => {
    const id = await seed({ state: 'same' })
    const res = await nodeDb.collection('docs').where({ _id: id }).updateAndReturn({ state: 'same' })
    expect(res.updated).toBe(1)
    expect(res.doc).toEqual({ _id: id, state: 'same' })
  })

  test('no match: updated 0 and doc null, and nothing is written', async () => {
    const res = await nodeDb.collection('docs').where({ state: 'no-such-state' }).updateAndReturn({ state: 'x' })
    expect(res.updated).toBe(0)
    expect(res.doc).toBeNull()
    expect((await db.collection('docs').where({ state: 'x' }).count()).total).toBe(0)
  })
})

describe('concurrency without transactions', () => {
  test('200 concurrent _.inc(1) on one document lose no update', async () => {
    const id = await seed({ n: 0 })
    const results = await Promise.all(Array.from({ length: 200 }, () => db.collection('docs').doc(id).update({ data: { n: _.inc(1) } })))
    expect(results.every((r: Doc) => r.stats.updated === 1)).toBe(true)
    expect((await db.collection('docs').doc(id).get()).data.n).toBe(200)
  })
})
