/**
 * Export and import of a whole local cloud (database and storage) as a plain folder, like the
 * Firebase emulators' `--export-on-exit` / `--import`: a team shares a data set, a test starts from
 * one.
 *
 *   DIR/local-cloud-export.json       { version, env, exportedAt, collections: { name: { documents, indexes } }, files }
 *   DIR/database/<collection>.ndjson  one document per line, relaxed EJSON (dates as {"$date": ...}), insertion order
 *   DIR/storage/<cloud path>          the files, as uploaded
 *
 * An import replaces the collections the export holds (all or nothing per collection) and the
 * storage files; collections it does not name are left as they are.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { decodeDoc, type Doc } from './db/codec'
import type { DocumentStore, IndexDef } from './db/store'

export const EXPORT_MANIFEST = 'local-cloud-export.json'

/** An export refused before anything was written. */
export class ExportError extends Error {}
const VERSION = 1

export interface ExportManifest {
  version: number
  env: string
  exportedAt: string
  collections: Record<string, { documents: number; indexes: IndexDef[] }>
  files: number
}

function countFiles(dir: string): number {
  if (!existsSync(dir)) return 0
  let n = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) n += countFiles(path.join(dir, entry.name))
    else if (entry.isFile()) n++
  }
  return n
}

/** The folder an export may replace: new, empty, or an earlier export. */
export function checkExportTarget(dir: string): string {
  const target = path.resolve(dir)
  if (existsSync(target) && readdirSync(target).length > 0 && !existsSync(path.join(target, EXPORT_MANIFEST))) {
    throw new ExportError(`${target} is a folder with other files in it, not an export (no ${EXPORT_MANIFEST}): export to a new or empty folder`)
  }
  return target
}

/**
 * Writes the export next to `dir` and renames it into place, so a half-written export never
 * replaces a good one (an export folder is replaced whole). Only a new, empty or earlier export
 * folder is replaced: a mistyped `.` or `docs` must not delete a project folder.
 */
export function exportCloud(store: DocumentStore, storageRoot: string, dir: string, now = new Date()): { dir: string; collections: number; documents: number; files: number } {
  const target = checkExportTarget(dir)
  const partial = `${target}.partial-${process.pid}`
  rmSync(partial, { recursive: true, force: true })
  try {
    mkdirSync(path.join(partial, 'database'), { recursive: true })
    const manifest: ExportManifest = { version: VERSION, env: store.env, exportedAt: now.toISOString(), collections: {}, files: 0 }
    let documents = 0
    for (const name of store.listCollections()) {
      const docs = store.storedDocuments(name)
      writeFileSync(path.join(partial, 'database', `${name}.ndjson`), docs.length ? `${docs.join('\n')}\n` : '')
      manifest.collections[name] = { documents: docs.length, indexes: store.indexesOf(name) }
      documents += docs.length
    }
    if (existsSync(storageRoot)) cpSync(storageRoot, path.join(partial, 'storage'), { recursive: true, filter: (src) => !src.includes('.uploading-') })
    else mkdirSync(path.join(partial, 'storage'))
    manifest.files = countFiles(path.join(partial, 'storage'))
    writeFileSync(path.join(partial, EXPORT_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`)
    rmSync(target, { recursive: true, force: true })
    mkdirSync(path.dirname(target), { recursive: true })
    renameSync(partial, target)
    return { dir: target, collections: Object.keys(manifest.collections).length, documents, files: manifest.files }
  } finally {
    rmSync(partial, { recursive: true, force: true })
  }
}

export function readExportManifest(dir: string): ExportManifest {
  const file = path.join(dir, EXPORT_MANIFEST)
  if (!existsSync(file)) throw new Error(`${dir} is not a local cloud export: ${EXPORT_MANIFEST} is missing (make one with --export-on-exit or the console's 导入导出 page)`)
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as ExportManifest
  if (manifest.version !== VERSION) throw new Error(`${file}: export version ${manifest.version} is not supported (expected ${VERSION})`)
  return manifest
}

/** Reads the whole export first (a malformed line fails before anything changes), then replaces. */
export function importCloud(store: DocumentStore, storageRoot: string, dir: string): { collections: number; documents: number; files: number } {
  const source = path.resolve(dir)
  const manifest = readExportManifest(source)
  const loaded = new Map<string, Doc[]>()
  for (const [name, spec] of Object.entries(manifest.collections)) {
    const file = path.join(source, 'database', `${name}.ndjson`)
    const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '') : []
    loaded.set(
      name,
      lines.map((line, i) => {
        try {
          return decodeDoc(line)
        } catch (err) {
          throw new Error(`${file}:${i + 1}: not a JSON document (${(err as Error).message})`)
        }
      }),
    )
    if (!store.hasCollection(name)) store.createCollection(name, spec.indexes)
  }
  let documents = 0
  for (const [name, docs] of loaded) documents += store.replaceAll(name, docs)
  const files = path.join(source, 'storage')
  if (existsSync(files)) {
    rmSync(storageRoot, { recursive: true, force: true })
    cpSync(files, storageRoot, { recursive: true })
  }
  mkdirSync(storageRoot, { recursive: true })
  return { collections: loaded.size, documents, files: countFiles(storageRoot) }
}
