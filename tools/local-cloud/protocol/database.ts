/**
 * The database half of the cloud's HTTP protocol, as wx-server-sdk 4.x speaks it: a JSON body with
 * `action` (`database.getDocument`, ...), queries and data as EJSON strings, replies whose `list`
 * items are EJSON strings. See design.md "How the local cloud works".
 */
import { decodeWire, type Doc, encodeWire, normalizeValue } from '../db/codec'
import { DbError } from '../db/errors'
import type { DocumentStore, SortSpec } from '../db/store'

export type Body = Record<string, unknown>
export type Reply = Record<string, unknown>

function str(body: Body, key: string): string {
  const value = body[key]
  if (typeof value !== 'string' || value.length === 0) throw new DbError('INVALID_PARAM', `"${key}" must be a non-empty string`)
  return value
}

function optionalNumber(body: Body, key: string): number | undefined {
  const value = body[key]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new DbError('INVALID_PARAM', `"${key}" must be a non-negative integer`)
  }
  return value
}

/** Values arrive as EJSON strings; anything else (already an object) is accepted as plain JSON. */
function parse(value: unknown, what: string): unknown {
  if (typeof value !== 'string') return normalizeValue(value)
  try {
    return decodeWire(value)
  } catch (err) {
    throw new DbError('INVALID_PARAM', `${what} is not valid EJSON: ${(err as Error).message}`)
  }
}

function wire(body: Body, key: string, fallback: unknown = undefined): unknown {
  const value = body[key]
  if (value === undefined || value === null || value === '') return fallback
  return parse(value, `"${key}"`)
}

function object(value: unknown, what: string): Doc {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DbError('INVALID_PARAM', `${what} must be an object`)
  }
  return value as Doc
}

/**
 * The cloud documents `_.addToSet({ each: [...] })` for adding several elements, and the SDK sends
 * that object as it is; MongoDB only knows `$each`.
 */
function cloudUpdate(data: Doc): Doc {
  const addToSet = data.$addToSet
  if (typeof addToSet !== 'object' || addToSet === null) return data
  const fields: Doc = {}
  for (const [field, value] of Object.entries(addToSet)) {
    const spec = value as Doc | null
    const each = typeof spec === 'object' && spec !== null && !Array.isArray(spec) && Object.keys(spec).length === 1 ? spec.each : undefined
    fields[field] = Array.isArray(each) ? { $each: each } : value
  }
  return { ...data, $addToSet: fields }
}

function transactionId(body: Body): string | undefined {
  const id = body.transactionId
  return typeof id === 'string' && id.length > 0 ? id : undefined
}

function docIdOf(query: Doc): unknown {
  const id = query._id
  if (typeof id !== 'string' && typeof id !== 'number') {
    throw new DbError('DATABASE_REQUEST_FAILED', 'Transactions only support operations on a single document by _id (doc().get/set/update/remove and add)')
  }
  return id
}

function noTransaction(body: Body, action: string): void {
  if (transactionId(body)) {
    throw new DbError('DATABASE_REQUEST_FAILED', `${action} is not supported in a transaction: only single-document operations by _id are`)
  }
}

export const DATABASE_ACTIONS = new Set([
  'database.getDocument',
  'database.insertDocument',
  'database.modifyDocument',
  'database.modifyAndReturnDoc',
  'database.removeDocument',
  'database.calculateDocument',
  'database.aggregateDocuments',
  'database.addCollection',
  'database.startTransaction',
  'database.commitTransaction',
  'database.abortTransaction',
  'database.getInTransaction',
  'database.updateDocInTransaction',
  'database.deleteDocInTransaction',
])

export function handleDatabase(store: DocumentStore, action: string, body: Body): Reply {
  const txn = transactionId(body)
  switch (action) {
    case 'database.getDocument': {
      const collection = str(body, 'collectionName')
      const query = object(wire(body, 'query', {}), 'query')
      if (txn) {
        const doc = store.txGet(txn, collection, docIdOf(query))
        return { data: { list: doc ? [encodeWire(doc)] : [] } }
      }
      const docs = store.find(collection, {
        query,
        order: wire(body, 'order') as SortSpec | undefined,
        offset: optionalNumber(body, 'offset'),
        limit: optionalNumber(body, 'limit'),
        projection: wire(body, 'projection') as Doc | undefined,
      })
      return { data: { list: docs.map(encodeWire) } }
    }
    case 'database.insertDocument': {
      const collection = str(body, 'collectionName')
      const raw = body.data
      if (!Array.isArray(raw) || raw.length === 0) throw new DbError('INVALID_PARAM', '"data" must be a non-empty array')
      const docs = raw.map((item, i) => object(parse(item, `data[${i}]`), `data[${i}]`))
      if (txn) return { data: { insertedIds: docs.map((doc) => store.txInsert(txn, collection, doc)) } }
      return { data: { insertedIds: store.insert(collection, docs) } }
    }
    case 'database.modifyDocument': {
      const collection = str(body, 'collectionName')
      const query = object(wire(body, 'query', {}), 'query')
      const merge = body.merge !== false
      const raw = object(wire(body, 'data'), 'data')
      const data = merge ? cloudUpdate(raw) : raw
      const upsert = body.upsert === true
      if (txn) {
        const result = store.txModify(txn, collection, docIdOf(query), data, merge, upsert)
        return { data: { updated: result.updated, ...(result.upsertedId ? { upsert_id: result.upsertedId } : {}) } }
      }
      const result = store.modify(collection, { query, data, merge, upsert, multi: body.multi === true })
      return { data: { updated: result.updated, ...(result.upsertedId ? { upsert_id: result.upsertedId } : {}) } }
    }
    case 'database.modifyAndReturnDoc': {
      noTransaction(body, 'updateAndReturn')
      const collection = str(body, 'collectionName')
      const query = object(wire(body, 'query', {}), 'query')
      const data = cloudUpdate(object(wire(body, 'data'), 'data'))
      const result = store.modifyAndReturn(collection, query, data)
      return { data: { updated: result.updated, doc: result.doc ? encodeWire(result.doc) : null } }
    }
    case 'database.removeDocument': {
      const collection = str(body, 'collectionName')
      const query = object(wire(body, 'query', {}), 'query')
      if (txn) return { data: { deleted: store.txRemove(txn, collection, docIdOf(query)) } }
      return { data: { deleted: store.remove(collection, query, body.multi !== false) } }
    }
    case 'database.calculateDocument': {
      noTransaction(body, 'count')
      const collection = str(body, 'collectionName')
      return { data: { total: store.count(collection, object(wire(body, 'query', {}), 'query')) } }
    }
    case 'database.aggregateDocuments': {
      noTransaction(body, 'aggregate')
      const collection = str(body, 'collectionName')
      const stages = body.stages
      if (!Array.isArray(stages)) throw new DbError('INVALID_PARAM', '"stages" must be an array')
      const pipeline = stages.map((stage, i) => {
        const s = object(stage, `stages[${i}]`)
        if (typeof s.stageKey !== 'string' || typeof s.stageValue !== 'string') {
          throw new DbError('INVALID_PARAM', `stages[${i}] must have string stageKey and stageValue`)
        }
        return { [s.stageKey]: parse(s.stageValue, `stages[${i}].stageValue`) }
      })
      return { data: { list: store.aggregate(collection, pipeline).map(encodeWire) } }
    }
    case 'database.addCollection': {
      // Documented: "创建集合，如果集合已经存在会创建失败" (the store's own createCollection is idempotent).
      const name = str(body, 'collectionName')
      if (store.hasCollection(name)) throw new DbError('DATABASE_REQUEST_FAILED', `Collection "${name}" already exists`)
      store.createCollection(name)
      return {}
    }
    case 'database.startTransaction':
      return { transactionId: store.beginTransaction() }
    case 'database.commitTransaction':
      store.commitTransaction(str(body, 'transactionId'))
      return {}
    case 'database.abortTransaction':
      store.abortTransaction(str(body, 'transactionId'))
      return {}
    // The older transaction API (`*InTransaction` actions) some SDK builds still use.
    case 'database.getInTransaction': {
      const doc = store.txGet(str(body, 'transactionId'), str(body, 'collectionName'), body._id)
      return { data: encodeWire(doc) }
    }
    case 'database.updateDocInTransaction': {
      const data = cloudUpdate(object(wire(body, 'data'), 'data'))
      const id = str(body, 'transactionId')
      const collection = str(body, 'collectionName')
      const replace = body.upsert === true
      const result = store.txModify(id, collection, body._id, data, !replace, replace)
      return {
        updated: encodeWire(result.updated),
        upserted: result.upsertedId ? JSON.stringify([{ _id: result.upsertedId }]) : null,
      }
    }
    case 'database.deleteDocInTransaction':
      return { deleted: encodeWire(store.txRemove(str(body, 'transactionId'), str(body, 'collectionName'), body._id)) }
    default:
      throw new DbError('INVALID_PARAM', `Unknown database action ${action}`)
  }
}
