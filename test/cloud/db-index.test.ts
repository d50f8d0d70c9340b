/**
 * Database, query planning: candidates read through a collection's declared indexes give exactly
 * what a full scan gives (MongoDB semantics stay mingo's), and the index is really used. Real
 * SQLite stores, no mocks: one with the indexes, one without (always a full scan), and mingo over
 * every document as the reference.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { Query } from 'mingo'
import { collections } from '../../cloudfunctions/_shared/collections'
import { decodeDoc, type Doc, encodeDoc } from '../../tools/local-cloud/db/codec'
import { DocumentStore, type IndexDef } from '../../tools/local-cloud/db/store'
import { prng } from '../helpers/prng'

const SEED = Number(process.env.DB_INDEX_SEED ?? 20240601)

describe('indexed reads match full scans over a randomized corpus', () => {
  const INDEXES: IndexDef[] = [
    { name: 'a_1', keys: { a: 1 } },
    { name: 'b_1_c_-1', keys: { b: 1, c: -1 } },
    { name: 'n.x_1', keys: { 'n.x': 1 } },
    { name: 'd_1__id_1', keys: { d: 1, _id: 1 } },
    { name: 'u_1', keys: { u: 1 }, unique: true },
  ]
  const random = prng(SEED)
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!
  const chance = (p: number) => random() < p

  const STRINGS = [
    '', ' ', 'a', 'A', 'z', 'Z', 'ab', 'abc', 'abc!', 'abd', 'ab"c', 'ab\\c', 'ab\\"c', "it's", 'a\u0000b', '\n', '\u007f',
    'é', 'e\u0301', '中文', '中', '😀', '😀a', '\uFF01', '\uE000', '\uD7FF', '\ud800', '10', '2', '-1', 'true', 'null', '[1]',
    '{"$date":1}', '2024-01-02', '2024-01-10', '2024-1-2',
  ]
  const NUMBERS = [
    0, -0, 1, -1, 2, 3, 10, 1.5, -1.5, 0.1, 0.30000000000000004, 1e21, -1e21, 2 ** 53, 2 ** 53 + 2, 530806677387976060, 5e-324,
    1700000000000, 1700000000123, -5, 1e300, Number.MAX_VALUE, -Number.MAX_VALUE, NaN, Infinity, -Infinity,
  ]
  const DATES = [0, -5, -62198755200000, 1700000000000, 1700000000123, 1700000000999, 253402300799999, 253402300800001, 8.64e15, -8.64e15].map(
    (ms) => new Date(ms),
  )

  function scalar(): unknown {
    const r = random()
    if (r < 0.35) return chance(0.8) ? pick(STRINGS) : pick(STRINGS) + pick(STRINGS)
    if (r < 0.65) return chance(0.8) ? pick(NUMBERS) : Math.round((random() - 0.5) * 2000) / 8
    if (r < 0.75) return chance(0.5)
    if (r < 0.82) return null
    return new Date(chance(0.5) ? pick(DATES).getTime() : 1699990000000 + Math.floor(random() * 20000000))
  }

  /** A field value: mostly scalars, sometimes arrays or embedded documents; undefined = missing. */
  function value(): unknown {
    const r = random()
    if (r < 0.1) return undefined
    if (r < 0.8) return scalar()
    if (r < 0.9) return Array.from({ length: Math.floor(random() * 3) }, () => (chance(0.15) ? [scalar()] : scalar()))
    return chance(0.5) ? {} : { x: scalar() }
  }

  function nested(): unknown {
    const r = random()
    if (r < 0.5) return { x: value() }
    if (r < 0.65) return [{ x: scalar() }, { x: scalar() }]
    if (r < 0.75) return [{ x: scalar() }, scalar()]
    if (r < 0.85) return scalar()
    if (r < 0.92) return { y: 1 }
    return undefined
  }

  const docs: Doc[] = []
  for (let i = 0; i < 400; i++) {
    const doc: Doc = { _id: `d${String(i).padStart(4, '0')}`, u: i }
    for (const field of ['a', 'b', 'c', 'd', 'e']) {
      const v = field === 'd' && chance(0.5) ? scalar() : value()
      if (v !== undefined) doc[field] = v
    }
    const n = nested()
    if (n !== undefined) doc.n = n
    docs.push(doc)
  }
  // Inserted in shuffled order, so index order and insertion order differ.
  for (let i = docs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[docs[i], docs[j]] = [docs[j]!, docs[i]!]
  }

  const indexed = new DocumentStore({ file: ':memory:', env: 'test', collections: { things: { indexes: INDEXES } } })
  const scanned = new DocumentStore({ file: ':memory:', env: 'test', collections: { things: { indexes: [] } } })
  for (let i = 0; i < docs.length; i += 100) {
    indexed.insert('things', docs.slice(i, i + 100))
    scanned.insert('things', docs.slice(i, i + 100))
  }
  // What the store holds, as mingo sees it (dates, -0 and large integers through the codec).
  const stored = docs.map((d) => decodeDoc(encodeDoc(d)))
  afterAll(() => {
    indexed.close()
    scanned.close()
  })

  function queryValue(): unknown {
    // Half the time a value some document holds, so that queries match something.
    if (chance(0.5)) {
      const doc = pick(stored)
      const v = doc[pick(['a', 'b', 'c', 'd', 'e'])]
      if (v !== undefined && (typeof v !== 'object' || v instanceof Date)) return v
    }
    return scalar()
  }

  function condition(): unknown {
    const r = random()
    if (r < 0.25) return queryValue()
    if (r < 0.35) return { $eq: queryValue() }
    if (r < 0.55) return { $in: Array.from({ length: Math.floor(random() * 4) }, queryValue) }
    if (r < 0.9) {
      const out: Record<string, unknown> = {}
      const lo = queryValue()
      // Mostly a bound of the same type on the other side, sometimes another type.
      const hi = chance(0.8) && (typeof lo === 'string' || typeof lo === 'number' || lo instanceof Date) ? sameType(lo) : queryValue()
      if (chance(0.75)) out[pick(['$gt', '$gte'])] = lo
      if (chance(0.75) || Object.keys(out).length === 0) out[pick(['$lt', '$lte'])] = hi
      return out
    }
    return pick([{ $ne: queryValue() }, { $exists: chance(0.5) }, { $nin: [queryValue()] }, { $type: 'string' }, { $regex: /^a/ }])
  }

  function sameType(v: string | number | Date): unknown {
    if (typeof v === 'string') return pick(STRINGS.filter((s) => s >= v).concat([v + '~', v + '\uFFFF', v + '😀']))
    if (typeof v === 'number') return Number.isFinite(v) ? v + Math.abs(random() * 1e6) : pick(NUMBERS)
    return new Date(v.getTime() + Math.floor(random() * 1e7))
  }

  function randomQuery(): Doc {
    const fields = ['a', 'b', 'c', 'n.x', 'd', 'e', 'u']
    const q: Doc = { [pick(fields)]: condition() }
    const r = random()
    if (r < 0.3) q[pick(fields)] = condition()
    else if (r < 0.4) q.$and = [{ [pick(fields)]: condition() }, { [pick(fields)]: condition() }]
    else if (r < 0.45) q.$or = [{ [pick(fields)]: condition() }]
    else if (r < 0.5) q.$or = [{ [pick(fields)]: condition() }, { [pick(fields)]: condition() }]
    else if (r < 0.55) q.$nor = [{ [pick(fields)]: condition() }]
    return q
  }

  const describeQuery = (q: Doc) => `${encodeDoc(q)} (DB_INDEX_SEED=${SEED})`

  test('find, count, and aggregate $match give the same documents in the same order', () => {
    let usedIndex = 0
    for (let i = 0; i < 1500; i++) {
      const q = randomQuery()
      const test = new Query(q, { idKey: '_id', useStrictMode: true })
      const expected = stored.filter((d) => test.test(d)).map((d) => d._id)
      const viaIndex = indexed.find('things', { query: q, limit: 1000 }).map((d) => d._id)
      if (indexed.plan('things', q).index) usedIndex++
      expect({ q: describeQuery(q), ids: viaIndex }).toEqual({ q: describeQuery(q), ids: expected })
      if (i % 10 === 0) {
        // The reference holds for the store itself (a full scan decodes what SQLite holds).
        const viaScan = scanned.find('things', { query: q, limit: 1000 }).map((d) => d._id)
        expect({ q: describeQuery(q), ids: viaScan }).toEqual({ q: describeQuery(q), ids: expected })
        expect({ q: describeQuery(q), n: indexed.count('things', q) }).toEqual({ q: describeQuery(q), n: expected.length })
        const agg = indexed.aggregate('things', [{ $match: q }, { $project: { _id: 1 } }, { $limit: 1000 }]).map((d) => d._id)
        expect({ q: describeQuery(q), ids: agg }).toEqual({ q: describeQuery(q), ids: expected })
      }
    }
    // Most generated queries constrain an indexed key, so the comparison above is about indexes.
    expect(usedIndex).toBeGreaterThan(900)
  })

  test('the plans seek on what the query constrains', () => {
    expect(indexed.plan('things', { a: 'abc' })).toEqual({ index: 'a_1', seek: ['a'] })
    expect(indexed.plan('things', { b: { $in: [1, 'x'] }, c: { $gt: 2 } })).toEqual({ index: 'b_1_c_-1', seek: ['b', 'c'] })
    expect(indexed.plan('things', { b: { $gte: 1 }, c: 5 })).toEqual({ index: 'b_1_c_-1', seek: ['b'] })
    // Equality over a range; a longer seek over a shorter one.
    expect(indexed.plan('things', { a: { $lt: 3 }, 'n.x': true })).toEqual({ index: 'n.x_1', seek: ['n.x'] })
    expect(indexed.plan('things', { a: 1, b: 2, c: 3 })).toEqual({ index: 'b_1_c_-1', seek: ['b', 'c'] })
    expect(indexed.plan('things', { $and: [{ e: 1 }, { d: { $gte: new Date(0) } }] })).toEqual({ index: 'd_1__id_1', seek: ['d'] })
    expect(indexed.plan('things', { _id: 'd0001', a: 1 })).toEqual({ index: '_id_', seek: ['_id'] })
    // Nothing an index can answer: a full scan.
    for (const q of [{}, { e: 1 }, { a: null }, { a: /^x/ }, { a: { $ne: 1 } }, { a: { x: 1 } }, { $or: [{ a: 1 }, { b: 2 }] }, { a: { $in: [1, null] } }]) {
      expect(indexed.plan('things', q as Doc)).toEqual({ index: null, seek: [] })
    }
  })

  test('updates and removals through an index touch the same documents as through a scan', () => {
    for (let i = 0; i < 60; i++) {
      const q = randomQuery()
      // A single-document update takes the first match in natural order in both.
      const spec = { query: q, data: { $set: { touched: i } }, multi: chance(0.7), merge: true, upsert: false }
      expect({ q: describeQuery(q), result: indexed.modify('things', spec) }).toEqual({ q: describeQuery(q), result: scanned.modify('things', spec) })
    }
    for (let i = 0; i < 20; i++) {
      const q = randomQuery()
      expect(indexed.remove('things', q, true)).toBe(scanned.remove('things', q, true))
    }
    const all = (s: DocumentStore) => s.find('things', { query: {}, limit: 1000 })
    expect(all(indexed)).toEqual(all(scanned))
  })

  test('a unique index still rejects duplicates', () => {
    expect(() => indexed.insert('things', [{ u: 'dup' }, { u: 'dup' }])).toThrow(/duplicate key/)
  })
})

describe('analytics queries read only the rows they need', () => {
  const store = new DocumentStore({ file: ':memory:', env: 'test', collections })
  const DAYS = Array.from({ length: 20 }, (_, i) => `2024-03-${String(i + 1).padStart(2, '0')}`)
  const NAMES = ['page_view', 'tap', 'share', 'checkin', 'purchase']
  const start = Date.UTC(2024, 2, 1)
  type Event = { _id: string; name: string; day: string; ts: number; receivedAt: Date; openid: string; props: { k: number } }
  const events: Event[] = []
  for (let i = 0; i < 10_000; i++) {
    // Days interleaved, so that a day's events are spread over the table.
    const day = i % DAYS.length
    events.push({
      _id: `e${String(i).padStart(5, '0')}`,
      name: NAMES[Math.floor(i / DAYS.length) % NAMES.length]!,
      day: DAYS[day]!,
      ts: start + day * 86_400_000 + i,
      receivedAt: new Date(start + day * 86_400_000 + i * 1000),
      openid: `o${i % 50}`,
      props: { k: i % 7 },
    })
  }
  for (let i = 0; i < events.length; i += 1000) store.insert('events', events.slice(i, i + 1000))
  afterAll(() => store.close())

  /** Runs fn, returning its result and how many rows it read. */
  function reading<T>(fn: () => T): { result: T; rowsRead: number } {
    const before = store.stats().rowsRead
    const result = fn()
    return { result, rowsRead: store.stats().rowsRead - before }
  }

  test('a day equality reads that day only', () => {
    const q = { day: '2024-03-07' }
    expect(store.plan('events', q)).toEqual({ index: 'day_1_name_1', seek: ['day'] })
    expect(reading(() => store.count('events', q))).toEqual({ result: 500, rowsRead: 500 })
    // Without a sort, documents still come in insertion order.
    const found = store.find('events', { query: q, limit: 1000 }).map((d) => d._id)
    expect(found).toEqual(events.filter((e) => e.day === '2024-03-07').map((e) => e._id))
  })

  test('a day range with an $in on name seeks on day and filters on name inside the index', () => {
    const q = { day: { $gte: '2024-03-03', $lte: '2024-03-05' }, name: { $in: ['tap', 'share'] } }
    expect(store.plan('events', q)).toEqual({ index: 'day_1_name_1', seek: ['day'] })
    const expected = events.filter((e) => e.day >= '2024-03-03' && e.day <= '2024-03-05' && ['tap', 'share'].includes(e.name)).length
    expect(reading(() => store.count('events', q))).toEqual({ result: expected, rowsRead: expected })
    // The SDK sends `_.gte(a).and(_.lte(b))` as a top-level $and of one bound each.
    const sdk = { name: { $in: ['tap', 'share'] }, $and: [{ day: { $gte: '2024-03-03' } }, { day: { $lte: '2024-03-05' } }] }
    expect(reading(() => store.count('events', sdk))).toEqual({ result: expected, rowsRead: expected })
    const both = { day: '2024-03-04', name: 'tap' }
    expect(store.plan('events', both)).toEqual({ index: 'day_1_name_1', seek: ['day', 'name'] })
    expect(reading(() => store.count('events', both))).toEqual({ result: 100, rowsRead: 100 })
  })

  test('an experiment rollup slice seeks on name and an OPENID range, and filters ts inside the index', () => {
    // The name index outranks day_1_name_1 only when the query has no day: a later key filtered
    // inside an index counts for it (the day-range query above must keep day_1_name_1).
    const q = { name: { $in: ['tap', 'share'] }, openid: { $gte: 'o-1', $lt: 'o-5' }, ts: { $gte: start } }
    expect(store.plan('events', q)).toEqual({ index: 'name_1_openid_1_ts_1', seek: ['name', 'openid'] })
  })

  test('a receivedAt range (Dates) and an aggregate $match use their indexes', () => {
    const from = new Date(start + 2 * 86_400_000 + 1_000_000)
    const to = new Date(start + 2 * 86_400_000 + 2_000_000)
    const q = { receivedAt: { $gte: from, $lt: to } }
    expect(store.plan('events', q)).toEqual({ index: 'receivedAt_1', seek: ['receivedAt'] })
    const expected = events.filter((e) => e.receivedAt >= from && e.receivedAt < to).length
    expect(expected).toBeGreaterThan(0)
    expect(reading(() => store.count('events', q))).toEqual({ result: expected, rowsRead: expected })
    const grouped = reading(() => store.aggregate('events', [{ $match: { day: '2024-03-02' } }, { $group: { _id: '$name', n: { $sum: 1 } } }, { $sort: { _id: 1 } }]))
    expect(grouped.rowsRead).toBe(500)
    expect(grouped.result).toEqual(NAMES.slice().sort().map((name) => ({ _id: name, n: 100 })))
    expect(reading(() => store.modify('events', { query: { day: '2024-03-02' }, data: { $set: { rolled: true } }, multi: true, merge: true, upsert: false })))
      .toEqual({ result: { updated: 500 }, rowsRead: 500 })
  })

  test('a query no index answers is a full scan', () => {
    expect(store.plan('events', { 'props.k': 1 })).toEqual({ index: null, seek: [] })
    expect(reading(() => store.count('events', { 'props.k': 1 })).rowsRead).toBe(10_000)
  })

  test('a nested $lookup reads the foreign collection once per aggregate call', () => {
    store.insert('user_days', DAYS.slice(0, 5).map((day) => ({ _id: `o1:${day}`, openid: 'o1', day })))
    store.insert('users', [{ _id: 'o1', firstSeenDay: DAYS[0] }])
    const { result, rowsRead } = reading(() =>
      store.aggregate('user_days', [
        { $match: { day: { $in: DAYS.slice(0, 3) } } },
        {
          $lookup: {
            from: 'users',
            let: { day: '$day' },
            pipeline: [{ $lookup: { from: 'user_days', localField: '_id', foreignField: 'openid', as: 'days' } }],
            as: 'users',
          },
        },
        { $limit: 10 },
      ]),
    )
    expect(result).toHaveLength(3)
    expect(result.map((d) => (d.users as Doc[])[0]!.days as Doc[]).map((days) => days.length)).toEqual([5, 5, 5])
    // 3 matched user_days, 1 user, and the 5 user_days of the inner $lookup once, not once per outer document.
    expect(rowsRead).toBe(3 + 1 + 5)
  })
})

test('a database made before typed indexes is upgraded when opened', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'db-index-'))
  const file = path.join(dir, 'db.sqlite')
  try {
    // The schema an earlier version wrote: JSON-text expression indexes only.
    const old = new Database(file)
    const indexes: IndexDef[] = [
      { name: 'day_1', keys: { day: 1 } },
      { name: 'code_1', keys: { code: 1 }, unique: true },
    ]
    old.exec(`CREATE TABLE _collections (name TEXT PRIMARY KEY, indexes TEXT NOT NULL DEFAULT '[]', created_at INTEGER NOT NULL);
      CREATE TABLE "c_old" (_id TEXT NOT NULL UNIQUE, doc TEXT NOT NULL, ver INTEGER NOT NULL DEFAULT 1);
      CREATE INDEX "ix_old_day_1" ON "c_old" (coalesce(doc -> '$."day"', 'null'));
      CREATE UNIQUE INDEX "ix_old_code_1" ON "c_old" (coalesce(doc -> '$."code"', 'null'));`)
    old.prepare('INSERT INTO _collections VALUES (?, ?, ?)').run('old', JSON.stringify(indexes), Date.now())
    const insert = old.prepare('INSERT INTO "c_old" (_id, doc) VALUES (?, ?)')
    for (let i = 0; i < 30; i++) insert.run(`r${i}`, encodeDoc({ _id: `r${i}`, day: `2024-01-${String((i % 3) + 1).padStart(2, '0')}`, code: i }))
    old.close()

    // Not in the collections given: its indexes come from what the database recorded.
    const store = new DocumentStore({ file, env: 'test', collections: {} })
    try {
      expect(store.plan('old', { day: '2024-01-02' })).toEqual({ index: 'day_1', seek: ['day'] })
      expect(store.count('old', { day: '2024-01-02' })).toBe(10)
      expect(() => store.insert('old', [{ code: 3 }])).toThrow(/duplicate key/)
    } finally {
      store.close()
    }
    const after = new Database(file, { readonly: true })
    const names = (after.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'c_old' AND sql IS NOT NULL ORDER BY name`).all() as { name: string }[]).map((r) => r.name)
    after.close()
    // The unused non-unique JSON-text index is gone, the unique one still enforces uniqueness.
    expect(names).toEqual(['ix_old_code_1', 'ixt_old_code_1', 'ixt_old_day_1'])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
