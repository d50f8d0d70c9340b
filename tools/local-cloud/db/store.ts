/**
 * The local cloud's database: documents in SQLite (durable on disk, one table per collection,
 * unique indexes enforced by SQLite itself), MongoDB query, update and aggregation semantics from
 * mingo, and transactions with optimistic concurrency control.
 *
 * Every public method runs synchronously (better-sqlite3 is synchronous), so each request is atomic
 * with respect to every other: a `_.inc` never loses an update, a multi-document write either
 * happens whole or not at all.
 */
import { randomBytes, randomInt } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { Aggregator } from 'mingo/aggregator'
import { Query } from 'mingo/query'
import type { Options as MingoOptions } from 'mingo/types'
import { update as applyUpdate } from 'mingo/updater'
import { cloneDoc, decodeDoc, type Doc, encodeDoc } from './codec'
import { collectionNotExist, DbError, duplicateKey, transactionConflict, transactionNotExist } from './errors'
import { type GeoNearStage, geoNearStage, nearSortOf, sortByDistance } from './geo'
import { cloudQueryOptions } from './operators'
import { type IndexDef, indexSqlName, jsonPath, planQuery, typedIndexSql } from './planner'

export type { IndexDef } from './planner'

export interface StoreOptions {
  /** SQLite file, or ':memory:'. */
  file: string
  /** Environment id, used in error messages as the database name. */
  env: string
  /** Collections to create (idempotently) with their indexes. */
  collections: Readonly<Record<string, { indexes: readonly IndexDef[] }>>
}

export type SortSpec = Record<string, 1 | -1>

export interface FindSpec {
  query: Doc
  order?: SortSpec
  offset?: number
  limit?: number
  projection?: Doc
}

export interface ModifySpec {
  query: Doc
  /** Update operators (merge) or a replacement document (merge = false). */
  data: Doc
  multi: boolean
  merge: boolean
  upsert: boolean
}

/** Server-side `get` limits of the cloud database: 100 by default, 1000 at most. */
export const DEFAULT_LIMIT = 100
export const MAX_LIMIT = 1000
/** Aggregations without a $limit stage return at most 20 results, as on the cloud. */
export const AGGREGATE_DEFAULT_LIMIT = 20
/** A transaction left open longer than this is aborted (its function most likely died). */
export const TRANSACTION_TTL_MS = 30_000

const COLLECTION_NAME = /^[A-Za-z0-9_-]{1,64}$/
/** Documents read per statement when candidates come from an index. */
const READ_BATCH = 200

interface Row {
  rowid: number
  _id: string
  doc: string
  ver: number
}

interface PendingWrite {
  collection: string
  id: string
  /** null = delete */
  doc: Doc | null
}

/** A document as a transaction's snapshot holds it: null and version 0 when it did not exist. */
interface Snapshot {
  doc: Doc | null
  ver: number
}

interface Transaction {
  id: string
  startedAt: number
  /** key -> the document as of the transaction's start (filled when read, or when changed since) */
  snapshot: Map<string, Snapshot>
  writes: Map<string, PendingWrite>
}

function newId(): string {
  // Cloud document ids are 32 lowercase hex characters.
  return randomBytes(16).toString('hex')
}

function keyOf(id: unknown): string {
  if (typeof id === 'string' && id.length > 0) return id
  if (typeof id === 'number' && Number.isFinite(id)) return String(id)
  throw new DbError('INVALID_PARAM', '_id must be a non-empty string or a number')
}

function txKey(collection: string, id: string): string {
  return `${collection}\u0000${id}`
}

function table(collection: string): string {
  return `"c_${collection}"`
}

/** The _ids a query asks for by equality or $in on _id, or null. */
function idsOf(query: Doc): (string | number)[] | null {
  const id = query._id
  if (typeof id === 'string' || typeof id === 'number') return [id]
  if (typeof id !== 'object' || id === null || Array.isArray(id) || id instanceof RegExp) return null
  const cond = id as Record<string, unknown>
  const keys = Object.keys(cond)
  if (keys.length === 1 && keys[0] === '$eq' && (typeof cond.$eq === 'string' || typeof cond.$eq === 'number')) return [cond.$eq]
  if (keys.length === 1 && keys[0] === '$in' && Array.isArray(cond.$in) && cond.$in.every((v) => typeof v === 'string' || typeof v === 'number')) {
    return cond.$in as (string | number)[]
  }
  return null
}

function isOperatorDoc(data: Doc): boolean {
  const keys = Object.keys(data)
  return keys.length > 0 && keys.every((k) => k.startsWith('$'))
}

function sameDoc(a: Doc, b: Doc): boolean {
  return encodeDoc(a) === encodeDoc(b)
}

/**
 * SQLite expression for one key of a unique index: the field's JSON text, missing treated as null
 * like MongoDB. (Queries use the typed expressions of planner.ts; this one only enforces uniqueness.)
 */
function keyExpr(field: string): string {
  return `coalesce(doc -> '${jsonPath(field.split('.')).replace(/'/g, "''")}', 'null')`
}

/** The value a document has at a dotted path, undefined when missing. */
function valueAt(doc: Doc, field: string): unknown {
  let cur: unknown = doc
  for (const part of field.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined
    cur = (cur as Record<string, unknown>)[part]
  }
  return cur
}

function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (value instanceof Date) return 'date'
  return typeof value
}

const NUMERIC_UPDATES = new Set(['$inc', '$mul'])
const ARRAY_UPDATES = new Set(['$push', '$addToSet', '$pop', '$pull', '$pullAll'])

/**
 * mingo silently skips `$inc` on a string or `$push` on a number; MongoDB, and so the cloud, fails
 * the update instead.
 */
function checkOperandTypes(doc: Doc, update: Doc): void {
  for (const [op, fields] of Object.entries(update)) {
    const numeric = NUMERIC_UPDATES.has(op)
    if (!numeric && !ARRAY_UPDATES.has(op)) continue
    for (const field of Object.keys(fields as Doc)) {
      if (field.includes('$')) continue // positional paths ($, $[], $[id]) are left to mingo
      const value = valueAt(doc, field)
      if (value === undefined || (numeric ? typeof value === 'number' : Array.isArray(value))) continue
      throw new DbError(
        'DATABASE_REQUEST_FAILED',
        `Cannot apply ${op} to the field '${field}' of type ${typeName(value)}: it must be ${numeric ? 'a number' : 'an array'} (document _id ${JSON.stringify(doc._id)})`,
      )
    }
  }
}

/**
 * Field names starting with `$` are refused in stored documents, at any depth, as MongoDB before 5.0
 * refuses them ("not valid for storage"); see docs/local-cloud.md for why the local cloud follows it.
 */
function checkFieldNames(doc: Doc): void {
  const walk = (value: unknown, path: string): void => {
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, `${path}.${i}`))
      return
    }
    if (typeof value !== 'object' || value === null || value instanceof Date || value instanceof RegExp) return
    for (const [key, item] of Object.entries(value)) {
      const at = path ? `${path}.${key}` : key
      if (key.startsWith('$')) {
        throw new DbError('DATABASE_REQUEST_FAILED', `[FailedOperation] The dollar ($) prefixed field '${key}' in '${at}' is not valid for storage.`)
      }
      walk(item, at)
    }
  }
  walk(doc, '')
}

/** `$sample`: `size` distinct documents at random (mingo's draws with replacement, repeating some). */
function sample(docs: Doc[], spec: unknown): Doc[] {
  const size = (spec as { size?: unknown } | null)?.size
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1) {
    throw new DbError('DATABASE_INVALID_OPERRATOR', '$sample needs { size: a positive integer }')
  }
  const pool = [...docs]
  const n = Math.min(size, pool.length)
  for (let i = 0; i < n; i++) {
    const j = randomInt(i, pool.length)
    ;[pool[i], pool[j]] = [pool[j]!, pool[i]!]
  }
  return pool.slice(0, n)
}

/**
 * Not `instanceof Error`: better-sqlite3's native binding keeps the error class of the first realm
 * that loaded it, so under jest its errors are not instances of this realm's Error.
 */
function messageOf(err: unknown): string {
  const message = (err as { message?: unknown } | null)?.message
  return typeof message === 'string' ? message : String(err)
}

function mingoError(err: unknown): DbError {
  if (err instanceof DbError) return err
  const message = messageOf(err)
  if (/operator|unknown|not supported|invalid/i.test(message)) {
    return new DbError('DATABASE_INVALID_OPERRATOR', message)
  }
  return new DbError('DATABASE_REQUEST_FAILED', message)
}

export class DocumentStore {
  readonly env: string
  private readonly sql: Database.Database
  private readonly indexes = new Map<string, IndexDef[]>()
  private readonly transactions = new Map<string, Transaction>()
  /** Transaction locks: document key -> the open transaction that wrote it. */
  private readonly locks = new Map<string, string>()
  private readonly mingoOptions: Partial<MingoOptions>
  private readonly counters = { rowsRead: 0 }
  /**
   * Prepared statements by SQL text. Preparing is not free: a write compiles the typed key
   * expressions of every index of its table (about 0.1 ms for `events`), and so does an indexed read.
   */
  private readonly statements = new Map<string, Database.Statement>()

  constructor(options: StoreOptions) {
    this.env = options.env
    if (options.file !== ':memory:') mkdirSync(path.dirname(options.file), { recursive: true })
    this.sql = new Database(options.file)
    this.sql.pragma('journal_mode = WAL')
    this.sql.pragma('synchronous = NORMAL')
    this.sql.exec(`CREATE TABLE IF NOT EXISTS _collections (
      name TEXT PRIMARY KEY, indexes TEXT NOT NULL DEFAULT '[]', created_at INTEGER NOT NULL)`)
    for (const row of this.sql.prepare('SELECT name, indexes FROM _collections').all() as { name: string; indexes: string }[]) {
      this.indexes.set(row.name, JSON.parse(row.indexes) as IndexDef[])
    }
    for (const [name, spec] of Object.entries(options.collections)) this.createCollection(name, spec.indexes)
    // Collections made at run time keep their indexes: bring those up to date too (see ensureIndex).
    for (const name of [...this.indexes.keys()]) {
      if (!Object.prototype.hasOwnProperty.call(options.collections, name)) this.createCollection(name)
    }
    this.mingoOptions = {
      ...cloudQueryOptions(),
      // Like MongoDB, a $lookup from a collection that does not exist joins nothing.
      collectionResolver: (name: string) => (this.hasCollection(name) ? this.allDocs(name) : []),
    }
  }

  close(): void {
    // Fold the write-ahead log back into the database, so a stopped cloud leaves one file, not a large -wal.
    if (this.sql.open) this.sql.pragma('wal_checkpoint(TRUNCATE)')
    this.sql.close()
  }

  listCollections(): string[] {
    return [...this.indexes.keys()].sort()
  }

  /** A collection's indexes (the manifest's, and any made at run time). */
  indexesOf(name: string): IndexDef[] {
    this.requireCollection(name)
    return [...(this.indexes.get(name) ?? [])]
  }

  /** Every document of a collection in its stored form (relaxed EJSON text), in insertion order: what an export writes. */
  storedDocuments(name: string): string[] {
    this.requireCollection(name)
    return (this.sql.prepare(`SELECT doc FROM ${table(name)} ORDER BY rowid`).all() as Pick<Row, 'doc'>[]).map((r) => r.doc)
  }

  /** Replaces every document of a collection in one transaction (an import): all or nothing. */
  replaceAll(name: string, docs: Doc[]): number {
    this.requireCollection(name)
    const run = this.sql.transaction(() => {
      this.sql.exec(`DELETE FROM ${table(name)}`)
      for (const doc of docs) {
        keyOf(doc._id)
        this.writeRow(name, doc, undefined)
      }
      return docs.length
    })
    return run()
  }

  hasCollection(name: string): boolean {
    return this.indexes.has(name)
  }

  /** Creates the collection if needed and (re)creates its indexes. Idempotent. */
  createCollection(name: string, indexes: readonly IndexDef[] = []): void {
    if (!COLLECTION_NAME.test(name)) {
      throw new DbError('INVALID_PARAM', `Invalid collection name "${name}": use letters, digits, _ and -`)
    }
    const create = this.sql.transaction(() => {
      this.sql.exec(`CREATE TABLE IF NOT EXISTS ${table(name)} (
        _id TEXT NOT NULL UNIQUE, doc TEXT NOT NULL, ver INTEGER NOT NULL DEFAULT 1)`)
      const previous = this.indexes.get(name) ?? []
      const merged = [...previous.filter((p) => !indexes.some((i) => i.name === p.name)), ...indexes]
      for (const index of merged) {
        const sqlName = indexSqlName('ix', name, index)
        if (index.unique) {
          const exprs = Object.keys(index.keys).filter((f) => f !== '_id').map(keyExpr)
          if (Object.keys(index.keys).includes('_id')) exprs.push('_id')
          this.sql.exec(`CREATE UNIQUE INDEX IF NOT EXISTS ${sqlName} ON ${table(name)} (${exprs.join(', ')})`)
        } else {
          // Databases made before the typed indexes have a JSON-text one that no query can use.
          this.sql.exec(`DROP INDEX IF EXISTS ${sqlName}`)
        }
        this.ensureIndex(indexSqlName('ixt', name, index), typedIndexSql(name, index, table(name)))
      }
      this.sql
        .prepare(`INSERT INTO _collections (name, indexes, created_at) VALUES (?, ?, ?)
          ON CONFLICT(name) DO UPDATE SET indexes = excluded.indexes`)
        .run(name, JSON.stringify(merged), Date.now())
      this.indexes.set(name, merged)
    })
    create()
  }

  /** Creates an index, or recreates it when an older version of this code made it differently. */
  private ensureIndex(sqlName: string, createSql: string): void {
    const existing = this.sql
      .prepare(`SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?`)
      .get(sqlName.slice(1, -1)) as { sql: string } | undefined
    if (existing?.sql === createSql) return
    if (existing) this.sql.exec(`DROP INDEX ${sqlName}`)
    this.sql.exec(createSql)
  }

  private statement(text: string): Database.Statement {
    let statement = this.statements.get(text)
    // A statement still iterating (a read not yet finished) cannot be run again: prepare another.
    if (!statement || statement.busy) {
      statement = this.sql.prepare(text)
      if (this.statements.size >= 200) this.statements.delete(this.statements.keys().next().value!)
      this.statements.set(text, statement)
    }
    return statement
  }

  private requireCollection(name: string): void {
    if (!this.indexes.has(name)) throw collectionNotExist(this.env, name)
  }

  // ---- reading -------------------------------------------------------------------------------

  private row(collection: string, id: string): Row | undefined {
    return this.statement(`SELECT rowid, _id, doc, ver FROM ${table(collection)} WHERE _id = ?`).get(id) as Row | undefined
  }

  /** All documents of a collection in insertion order (used by $lookup and full scans). */
  private allDocs(collection: string): Doc[] {
    this.requireCollection(collection)
    const rows = this.sql.prepare(`SELECT doc FROM ${table(collection)} ORDER BY rowid`).all() as Pick<Row, 'doc'>[]
    this.counters.rowsRead += rows.length
    return rows.map((r) => decodeDoc(r.doc))
  }

  /**
   * Documents that may match `query` (a superset: mingo filters them), in natural (insertion)
   * order. Equality or $in on _id is answered from the primary key, a constrained index key from
   * that index (see planner.ts); anything else is a full scan.
   */
  private *candidates(collection: string, query: Doc): Generator<Row> {
    const ids = idsOf(query)
    if (ids) {
      const seen = new Set<string>()
      const rows: Row[] = []
      for (const one of ids) {
        const key = String(one)
        if (seen.has(key)) continue
        seen.add(key)
        const row = this.row(collection, key)
        if (row) rows.push(row)
      }
      rows.sort((a, b) => a.rowid - b.rowid) // natural (insertion) order, as a scan would return
      this.counters.rowsRead += rows.length
      yield* rows
      return
    }
    const plan = planQuery(this.indexes.get(collection) ?? [], query)
    if (!plan) {
      for (const row of this.sql.prepare(`SELECT rowid, _id, doc, ver FROM ${table(collection)} ORDER BY rowid`).iterate() as Iterable<Row>) {
        this.counters.rowsRead++
        yield row
      }
      return
    }
    // Row ids from the index alone, sorted into natural order, then the documents in batches: a
    // find with a limit reads no more than it returns, and nothing sorts whole documents.
    const from = `${table(collection)} INDEXED BY ${indexSqlName('ixt', collection, plan.index)}`
    const selects = plan.parts.map((p) => `SELECT rowid FROM ${from} WHERE ${p.where}`)
    const rowids = this.statement(selects.join(' UNION ALL ')).pluck().all(...plan.parts.flatMap((p) => p.params)) as number[]
    rowids.sort((a, b) => a - b)
    const batch = this.statement(`SELECT rowid, _id, doc, ver FROM ${table(collection)} WHERE rowid IN (SELECT value FROM json_each(?)) ORDER BY rowid`)
    for (let at = 0; at < rowids.length; at += READ_BATCH) {
      const rows = batch.all(JSON.stringify(rowids.slice(at, at + READ_BATCH))) as Row[]
      this.counters.rowsRead += rows.length
      yield* rows
    }
  }

  /**
   * How `query`'s candidates would be read: the declared index name, `_id_` for the primary key,
   * or null for a full scan (for tests and diagnostics, like MongoDB's explain).
   */
  plan(collection: string, query: Doc): { index: string | null; seek: string[] } {
    this.requireCollection(collection)
    if (idsOf(query)) return { index: '_id_', seek: ['_id'] }
    const plan = planQuery(this.indexes.get(collection) ?? [], query)
    return plan ? { index: plan.index.name, seek: plan.seek } : { index: null, seek: [] }
  }

  /** Counters since the store opened: rows read from collection tables (candidates and joins). */
  stats(): { rowsRead: number } {
    return { ...this.counters }
  }

  private compile(query: Doc): Query {
    try {
      return new Query(query, this.mingoOptions)
    } catch (err) {
      throw mingoError(err)
    }
  }

  private matching(collection: string, query: Doc): Generator<{ row: Row; doc: Doc }> {
    this.requireCollection(collection)
    const test = this.compile(query)
    const self = this
    return (function* () {
      for (const row of self.candidates(collection, query)) {
        const doc = decodeDoc(row.doc)
        let ok: boolean
        try {
          ok = test.test(doc)
        } catch (err) {
          throw mingoError(err)
        }
        if (ok) yield { row, doc }
      }
    })()
  }

  find(collection: string, spec: FindSpec): Doc[] {
    const limit = Math.min(spec.limit && spec.limit > 0 ? spec.limit : DEFAULT_LIMIT, MAX_LIMIT)
    const offset = spec.offset && spec.offset > 0 ? spec.offset : 0
    const hasOrder = spec.order && Object.keys(spec.order).length > 0
    const near = nearSortOf(spec.query)
    let docs: Doc[]
    if (near && !hasOrder) {
      // geoNear returns the nearest first.
      docs = sortByDistance([...this.matching(collection, spec.query)].map((m) => m.doc), near).slice(offset, offset + limit)
    } else if (!hasOrder) {
      docs = []
      let skipped = 0
      for (const { doc } of this.matching(collection, spec.query)) {
        if (skipped < offset) {
          skipped++
          continue
        }
        docs.push(doc)
        if (docs.length >= limit) break
      }
    } else {
      docs = [...this.matching(collection, spec.query)].map((m) => m.doc)
      docs = this.pipeline(docs, [{ $sort: spec.order }, { $skip: offset }, { $limit: limit }])
    }
    if (spec.projection && Object.keys(spec.projection).length > 0) {
      docs = this.pipeline(docs, [{ $project: spec.projection }])
    }
    return docs
  }

  count(collection: string, query: Doc): number {
    let n = 0
    for (const _ of this.matching(collection, query)) n++
    return n
  }

  private pipeline(docs: Doc[], stages: Doc[], options = this.mingoOptions): Doc[] {
    const at = stages.findIndex((stage) => '$sample' in stage)
    if (at >= 0) {
      return this.pipeline(sample(this.pipeline(docs, stages.slice(0, at), options), stages[at]!.$sample), stages.slice(at + 1), options)
    }
    try {
      return new Aggregator(stages, options).run(docs) as Doc[]
    } catch (err) {
      throw mingoError(err)
    }
  }

  aggregate(collection: string, stages: Doc[]): Doc[] {
    this.requireCollection(collection)
    for (const stage of stages) {
      const keys = Object.keys(stage)
      if (keys.length !== 1 || !keys[0]!.startsWith('$')) {
        throw new DbError('DATABASE_INVALID_OPERRATOR', `Invalid pipeline stage ${JSON.stringify(keys)}`)
      }
    }
    // mingo resolves a $lookup's collection each time the stage runs, and a $lookup inside another
    // $lookup's pipeline runs once per outer document: read each collection once per call instead.
    const read = new Map<string, Doc[]>()
    const options: Partial<MingoOptions> = {
      ...this.mingoOptions,
      collectionResolver: (name: string) => {
        let docs = read.get(name)
        if (!docs) read.set(name, (docs = this.hasCollection(name) ? this.allDocs(name) : []))
        return docs
      },
    }
    const hasLimit = stages.some((s) => '$limit' in s)
    const pipeline = hasLimit ? stages : [...stages, { $limit: AGGREGATE_DEFAULT_LIMIT }]
    const first = stages[0]
    if (first && '$geoNear' in first) {
      // Like MongoDB, $geoNear may only be the first stage; mingo lacks it, so it runs here.
      const spec = first.$geoNear as GeoNearStage
      const test = this.compile(spec.query ?? {})
      const near = geoNearStage(this.allDocs(collection), spec, (doc) => test.test(doc))
      return this.pipeline(near, pipeline.slice(1), options)
    }
    if (pipeline.slice(1).some((s) => '$geoNear' in s)) {
      throw new DbError('DATABASE_REQUEST_FAILED', '$geoNear is only valid as the first stage in a pipeline')
    }
    // A leading $match filters while reading (and uses the primary key for _id).
    const source =
      first && '$match' in first
        ? [...this.matching(collection, first.$match as Doc)].map((m) => m.doc)
        : this.allDocs(collection)
    return this.pipeline(source, first && '$match' in first ? pipeline.slice(1) : pipeline, options)
  }

  // ---- writing -------------------------------------------------------------------------------

  private uniqueViolation(collection: string, doc: Doc, err: unknown): DbError | null {
    const message = messageOf(err)
    if (!/UNIQUE constraint failed/.test(message)) return null
    if (/\._id$/.test(message) || message.includes(`c_${collection}._id`)) {
      return duplicateKey(this.env, collection, '_id_', `{ _id: ${JSON.stringify(doc._id)} }`)
    }
    const index = (this.indexes.get(collection) ?? []).find((i) =>
      message.includes(`ix_${collection}_${i.name.replace(/[^A-Za-z0-9_-]/g, '_')}`),
    )
    const fields = index ? Object.keys(index.keys) : []
    const key = fields.map((f) => `${f}: ${JSON.stringify(valueAt(doc, f) ?? null)}`).join(', ')
    return duplicateKey(this.env, collection, index?.name ?? 'unique', `{ ${key} }`)
  }

  private writeRow(collection: string, doc: Doc, existing: Row | undefined): void {
    const id = keyOf(doc._id)
    checkFieldNames(doc)
    if (this.transactions.size > 0) this.keepSnapshots(collection, id, this.row(collection, id))
    try {
      if (existing) {
        this.statement(`UPDATE ${table(collection)} SET doc = ?, ver = ver + 1 WHERE _id = ?`).run(encodeDoc(doc), id)
      } else {
        this.statement(`INSERT INTO ${table(collection)} (_id, doc, ver) VALUES (?, ?, 1)`).run(id, encodeDoc(doc))
      }
    } catch (err) {
      throw this.uniqueViolation(collection, doc, err) ?? err
    }
  }

  private deleteRow(collection: string, id: string): number {
    if (this.transactions.size > 0) this.keepSnapshots(collection, id, this.row(collection, id))
    return this.statement(`DELETE FROM ${table(collection)} WHERE _id = ?`).run(id).changes
  }

  /** Inserts all documents or none. Returns their ids. */
  insert(collection: string, docs: Doc[]): string[] {
    this.requireCollection(collection)
    const run = this.sql.transaction(() =>
      docs.map((input) => {
        const doc: Doc = { _id: input._id ?? newId(), ...input }
        keyOf(doc._id)
        this.writeRow(collection, doc, undefined)
        return String(doc._id)
      }),
    )
    return run()
  }

  /** Applies an update or replacement to one or all matches; with upsert, inserts when none match. */
  modify(collection: string, spec: ModifySpec): { updated: number; upsertedId?: string } {
    this.requireCollection(collection)
    if (spec.merge && !isOperatorDoc(spec.data)) {
      throw new DbError('DATABASE_REQUEST_FAILED', 'Update data must only contain update operators ($set, $inc, ...)')
    }
    const run = this.sql.transaction(() => {
      let updated = 0
      let matched = 0
      for (const { row, doc } of [...this.matching(collection, spec.query)]) {
        matched++
        const next = this.applyTo(doc, spec)
        if (!sameDoc(doc, next)) {
          this.writeRow(collection, next, row)
          updated++
        }
        if (!spec.multi) break
      }
      if (matched === 0 && spec.upsert) {
        const seed: Doc = {}
        for (const [k, v] of Object.entries(spec.query)) {
          if (!k.startsWith('$') && (typeof v !== 'object' || v === null || v instanceof Date)) seed[k] = v
        }
        const base: Doc = spec.merge ? seed : { ...spec.data }
        const next = spec.merge ? this.applyTo(base, spec) : base
        next._id = seed._id ?? next._id ?? newId()
        this.writeRow(collection, next, undefined)
        return { updated: 0, upsertedId: String(next._id) }
      }
      return { updated }
    })
    return run()
  }

  /**
   * `updateAndReturn`: updates the first match and returns it as updated, or null when nothing
   * matches. `updated` counts the match (1 even when the values were already those), as the cloud
   * reports it for this call.
   */
  modifyAndReturn(collection: string, query: Doc, data: Doc): { updated: number; doc: Doc | null } {
    this.requireCollection(collection)
    if (!isOperatorDoc(data)) {
      throw new DbError('DATABASE_REQUEST_FAILED', 'Update data must only contain update operators ($set, $inc, ...)')
    }
    const run = this.sql.transaction(() => {
      let first: { row: Row; doc: Doc } | undefined
      for (const match of this.matching(collection, query)) {
        first = match
        break // closes the read before writing
      }
      if (!first) return { updated: 0, doc: null }
      const next = this.applyTo(first.doc, { data, merge: true })
      if (!sameDoc(first.doc, next)) this.writeRow(collection, next, first.row)
      return { updated: 1, doc: next }
    })
    return run()
  }

  private applyTo(doc: Doc, spec: Pick<ModifySpec, 'data' | 'merge'>): Doc {
    if (!spec.merge) {
      if ('_id' in spec.data && spec.data._id !== doc._id) {
        throw new DbError('DATABASE_REQUEST_FAILED', "Performing an update on the path '_id' would modify the immutable field '_id'")
      }
      return { ...cloneDoc(spec.data), _id: doc._id }
    }
    checkOperandTypes(doc, spec.data)
    const next = cloneDoc(doc)
    try {
      applyUpdate(next, cloneDoc(spec.data) as never, undefined, undefined, { queryOptions: this.mingoOptions })
    } catch (err) {
      throw mingoError(err)
    }
    if (next._id !== doc._id && doc._id !== undefined) {
      throw new DbError('DATABASE_REQUEST_FAILED', "Performing an update on the path '_id' would modify the immutable field '_id'")
    }
    return next
  }

  remove(collection: string, query: Doc, multi: boolean): number {
    this.requireCollection(collection)
    const run = this.sql.transaction(() => {
      let deleted = 0
      for (const { row } of [...this.matching(collection, query)]) {
        deleted += this.deleteRow(collection, row._id)
        if (!multi) break
      }
      return deleted
    })
    return run()
  }

  // ---- transactions --------------------------------------------------------------------------
  // Snapshot isolation, as WeChat documents its cloud database transactions (数据库事务, 快照隔离):
  // reads see the documents as they were when the transaction started (plus its own writes); a
  // write buffers the new document and takes the document's transaction lock, and a write by
  // another open transaction to a locked document fails at once with DATABASE_TRANSACTION_CONFLICT,
  // as does a write to a document changed since the snapshot. The commit applies every write in one
  // SQLite transaction. A transaction that conflicts is over (its locks are released); committing,
  // aborting or expiring ends it too, and using it then answers DATABASE_TRANSACTION_FAIL.
  //
  // Snapshots are copy-on-write: nothing is copied when a transaction starts; before any committed
  // change to a document, each open transaction that has not seen the document yet keeps its old
  // version (keepSnapshots).

  beginTransaction(): string {
    this.expireTransactions()
    const id = `local-txn-${newId()}`
    this.transactions.set(id, { id, startedAt: Date.now(), snapshot: new Map(), writes: new Map() })
    return id
  }

  private transaction(id: string): Transaction {
    this.expireTransactions()
    const txn = this.transactions.get(id)
    if (!txn) throw transactionNotExist(id)
    return txn
  }

  /** Ends a transaction (commit, abort, conflict or expiry): it is forgotten and its locks released. */
  private endTransaction(txn: Transaction): void {
    this.transactions.delete(txn.id)
    for (const key of txn.writes.keys()) {
      if (this.locks.get(key) === txn.id) this.locks.delete(key)
    }
  }

  private expireTransactions(): void {
    const now = Date.now()
    for (const txn of [...this.transactions.values()]) {
      if (now - txn.startedAt > TRANSACTION_TTL_MS) this.endTransaction(txn)
    }
  }

  /** Called before a committed change to a document: open transactions keep the version they would read. */
  private keepSnapshots(collection: string, id: string, before: Row | undefined): void {
    if (this.transactions.size === 0) return
    const key = txKey(collection, id)
    let kept: Snapshot | undefined
    for (const txn of this.transactions.values()) {
      if (txn.snapshot.has(key)) continue
      kept ??= { doc: before ? decodeDoc(before.doc) : null, ver: before?.ver ?? 0 }
      txn.snapshot.set(key, kept)
    }
  }

  /** The document in this transaction's snapshot (read now if nothing changed it since the start). */
  private snapshotOf(txn: Transaction, collection: string, id: string): Snapshot {
    const key = txKey(collection, id)
    let snap = txn.snapshot.get(key)
    if (!snap) {
      const row = this.row(collection, id)
      snap = { doc: row ? decodeDoc(row.doc) : null, ver: row?.ver ?? 0 }
      txn.snapshot.set(key, snap)
    }
    return snap
  }

  /**
   * Takes the document's transaction lock before a write, or fails at once (and ends the
   * transaction) when another open transaction holds it or the document changed since the snapshot.
   */
  private lockForWrite(txn: Transaction, collection: string, id: string): void {
    const key = txKey(collection, id)
    const holder = this.locks.get(key)
    let conflict: string | null = null
    if (holder !== undefined && holder !== txn.id) conflict = 'another open transaction is writing it'
    else if ((this.row(collection, id)?.ver ?? 0) !== this.snapshotOf(txn, collection, id).ver) conflict = 'it changed after this transaction started'
    if (conflict) {
      this.endTransaction(txn)
      throw transactionConflict(collection, id, conflict)
    }
    this.locks.set(key, txn.id)
  }

  /** The document as this transaction sees it (its snapshot and its own writes), or null. */
  txGet(id: string, collection: string, docId: unknown): Doc | null {
    const txn = this.transaction(id)
    this.requireCollection(collection)
    const key = keyOf(docId)
    const pending = txn.writes.get(txKey(collection, key))
    const doc = pending ? pending.doc : this.snapshotOf(txn, collection, key).doc
    return doc ? cloneDoc(doc) : null
  }

  private txWrite(txn: Transaction, collection: string, id: string, doc: Doc | null): void {
    if (doc) checkFieldNames(doc)
    this.lockForWrite(txn, collection, id)
    txn.writes.set(txKey(collection, id), { collection, id, doc })
  }

  txInsert(id: string, collection: string, input: Doc): string {
    const doc: Doc = { _id: input._id ?? newId(), ...input }
    const existing = this.txGet(id, collection, doc._id)
    if (existing) throw duplicateKey(this.env, collection, '_id_', `{ _id: ${JSON.stringify(doc._id)} }`)
    const docId = keyOf(doc._id)
    this.txWrite(this.transaction(id), collection, docId, doc)
    return docId
  }

  txModify(id: string, collection: string, docId: unknown, data: Doc, merge: boolean, upsert: boolean): { updated: number; upsertedId?: string } {
    const current = this.txGet(id, collection, docId)
    const txn = this.transaction(id)
    const key = keyOf(docId)
    if (!current) {
      if (!upsert) return { updated: 0 }
      const next = merge ? this.applyTo({ _id: docId }, { data, merge }) : { ...data, _id: docId }
      this.txWrite(txn, collection, key, next)
      return { updated: 0, upsertedId: key }
    }
    if (merge && !isOperatorDoc(data)) {
      throw new DbError('DATABASE_REQUEST_FAILED', 'Update data must only contain update operators ($set, $inc, ...)')
    }
    const next = this.applyTo(current, { data, merge })
    if (sameDoc(current, next)) return { updated: 0 }
    this.txWrite(txn, collection, key, next)
    return { updated: 1 }
  }

  txRemove(id: string, collection: string, docId: unknown): number {
    const current = this.txGet(id, collection, docId)
    if (!current) return 0
    this.txWrite(this.transaction(id), collection, keyOf(docId), null)
    return 1
  }

  commitTransaction(id: string): void {
    const txn = this.transaction(id)
    this.endTransaction(txn)
    const run = this.sql.transaction(() => {
      // A plain (non-transactional) write does not wait for a transaction's lock here, as it would
      // on the cloud: if one changed a document this transaction writes, the commit fails instead.
      for (const write of txn.writes.values()) {
        const now = this.row(write.collection, write.id)?.ver ?? 0
        if (now !== this.snapshotOf(txn, write.collection, write.id).ver) {
          throw transactionConflict(write.collection, write.id, 'it changed after this transaction started')
        }
      }
      for (const write of txn.writes.values()) {
        if (write.doc === null) this.deleteRow(write.collection, write.id)
        else this.writeRow(write.collection, write.doc, this.row(write.collection, write.id))
      }
    })
    run()
  }

  abortTransaction(id: string): void {
    this.endTransaction(this.transaction(id))
  }

  /** Number of open transactions (exposed for tests and diagnostics). */
  openTransactions(): number {
    this.expireTransactions()
    return this.transactions.size
  }
}
