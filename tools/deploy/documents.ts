/**
 * Documents in the environment's database, read and written by MongoDB commands through Tencent
 * Cloud's RunCommands (@cloudbase/manager-node `database.runCommands`). Commands travel as Extended
 * JSON (the `bson` package): dates stay dates.
 */
import type CloudBase from '@cloudbase/manager-node'
import { EJSON } from 'bson'

/** app_config/deploy: what the last deploy wrote, so the next one can tell an admin's edits from its own. */
export const APPLIED_DOC_ID = 'deploy'

export type MongoUpdate = Record<string, unknown>

type Manager = Pick<CloudBase, 'database'>

function command(collection: string, type: 'QUERY' | 'UPDATE' | 'INSERT', body: Record<string, unknown>) {
  return { TableName: collection, CommandType: type, Command: EJSON.stringify(body) }
}

/**
 * RunCommands answers `Data`: one JSON string per command; a query's is an array of documents,
 * each itself a JSON string in Extended JSON.
 */
export function parseRunCommandsData(data: readonly string[] | null | undefined): Record<string, unknown>[] {
  const docs: Record<string, unknown>[] = []
  for (const item of data ?? []) {
    const parsed: unknown = JSON.parse(item)
    const list = Array.isArray(parsed) ? parsed : [parsed]
    for (const entry of list) {
      const doc: unknown = typeof entry === 'string' ? EJSON.parse(entry) : EJSON.deserialize(entry as Record<string, unknown>)
      if (doc && typeof doc === 'object' && !Array.isArray(doc)) docs.push(doc as Record<string, unknown>)
    }
  }
  return docs
}

export async function findDocuments(manager: Manager, collection: string, ids: readonly string[] | null, limit?: number): Promise<Record<string, unknown>[]> {
  const body: Record<string, unknown> = { find: collection, filter: ids ? { _id: { $in: ids } } : {} }
  if (limit) body.limit = limit
  const res = await manager.database.runCommands({ MgoCommands: [command(collection, 'QUERY', body)] })
  return parseRunCommandsData(res.Data)
}

/** One update of one document by `_id`; `upsert` creates it when missing. */
export async function updateDocument(manager: Manager, collection: string, id: string, update: MongoUpdate, upsert = true): Promise<void> {
  await manager.database.runCommands({ MgoCommands: [command(collection, 'UPDATE', { update: collection, updates: [{ q: { _id: id }, u: update, upsert }] })] })
}

export async function insertDocuments(manager: Manager, collection: string, documents: readonly Record<string, unknown>[]): Promise<void> {
  await manager.database.runCommands({ MgoCommands: [command(collection, 'INSERT', { insert: collection, documents })] })
}

/** SCF's answer for a function that does not exist (not for a missing environment or namespace). */
export function isNotFound(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code
  return typeof code === 'string' && /^ResourceNotFound\.Function/.test(code)
}
