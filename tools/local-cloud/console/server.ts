/**
 * The local console: a web app (console/app, built by `npm run build`) served at `/`, and its JSON
 * API under `/console/api/`. It reads and writes through the local cloud's own store, storage and
 * scheduler, so an edit here behaves as the same edit through the SDK would (unique indexes,
 * EJSON dates, the data the functions read next).
 *
 * Security: a development tool with full data access. Every request passes `authorize` (one hook,
 * so the gateway's token check can take its place when bound off loopback): loopback Host only, no
 * state change on GET, writes only as JSON from the console's own origin (a cross-site form or
 * fetch is refused).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import path from 'node:path'
import { Cron } from 'croner'
import mime from 'mime-types'
import { collections as manifest } from '../../../cloudfunctions/_shared/collections'
import { isTemplateKey, templates } from '../../../cloudfunctions/_shared/templates'
import { decodeWire, type Doc, encodeDoc } from '../db/codec'
import { DbError } from '../db/errors'
import type { DocumentStore } from '../db/store'
import type { FunctionConfig } from '../functions/config'
import { decodeSegment, header, HttpError, readBody, sendJson } from '../http'
import type { InvocationRecord, Ledger } from '../ledger'
import { ExportError } from '../export'
import { OUTBOX } from '../protocol/openapi'
import { Storage } from '../protocol/storage'
import { APP_CONFIG, type ConfigIssue, configKind, EXPERIMENT } from './config-docs'
import { ROOT } from '../../paths'
import { CONSOLE_BUILD } from './paths'
import type { TimerRun } from './types'

export const CONSOLE_API = '/console/api/'
const MAX_BODY = 2 * 1024 * 1024
/** Rows a query answers at most (the SDK's own limit). */
const MAX_ROWS = 1000

export type { TimerRun } from './types'

/** What the console needs from the local cloud. */
export interface ConsoleHost {
  readonly env: string
  readonly appid: string
  readonly dataDir: string
  readonly store: DocumentStore
  readonly storage: Storage
  readonly ledger: Ledger
  readonly url: string
  functions(): FunctionConfig[]
  workers(fn: string): { running: number; max: number }
  timersRunning(): boolean
  runTimer(fn: string, trigger: string): Promise<TimerRun>
  lastTimerRun(fn: string, trigger: string): TimerRun | undefined
  exportTo(dir: string): Promise<{ dir: string; collections: number; documents: number; files: number }>
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1'])

/**
 * The default authorization of console requests: loopback Host (a DNS-rebinding page names another
 * host), and for anything but GET/HEAD, JSON from the console's own origin (a form post cannot send
 * application/json without CORS, and a cross-origin fetch carries an Origin that does not match).
 */
export function authorizeConsole(req: IncomingMessage): void {
  const host = header(req, 'host') ?? ''
  const hostname = host.replace(/:\d+$/, '')
  if (!LOOPBACK_HOSTS.has(hostname)) {
    throw new HttpError(403, 'CONSOLE_LOOPBACK_ONLY', 'The console answers on loopback only (open it as http://127.0.0.1:<port>/)')
  }
  if (req.method === 'GET' || req.method === 'HEAD') return
  const origin = header(req, 'origin')
  if (origin !== undefined && origin !== `http://${host}`) {
    throw new HttpError(403, 'CROSS_ORIGIN', `Console writes come from the console's own page; origin ${origin} is refused`)
  }
  const site = header(req, 'sec-fetch-site')
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new HttpError(403, 'CROSS_ORIGIN', `Console writes come from the console's own page (sec-fetch-site: ${site})`)
  }
  if (!(header(req, 'content-type') ?? '').toLowerCase().startsWith('application/json')) {
    throw new HttpError(415, 'JSON_ONLY', 'Console writes are JSON (content-type: application/json)')
  }
}

/** A config document that does not pass its function's schema: refused with every issue. */
class InvalidConfig extends Error {
  constructor(
    message: string,
    readonly issues: ConfigIssue[],
  ) {
    super(message)
  }
}

function dbStatus(code: string): number {
  if (code === 'DATABASE_COLLECTION_NOT_EXIST') return 404
  if (code === 'INVALID_PARAM' || code === 'DATABASE_INVALID_OPERRATOR') return 400
  return 409
}

/** A JSON value from the page, read as EJSON (`{"$date": ...}`, `{"$oid": ...}`) the way the SDK's are. */
function fromEjson(value: unknown, what: string): unknown {
  try {
    return decodeWire(JSON.stringify(value ?? null))
  } catch (err) {
    throw new HttpError(400, 'INVALID_EJSON', `${what} is not valid EJSON: ${(err as Error).message}`)
  }
}

function asDoc(value: unknown, what: string): Doc {
  const doc = fromEjson(value, what)
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new HttpError(400, 'INVALID_DOCUMENT', `${what} must be a JSON object`)
  return doc as Doc
}

/** A document as the page shows and edits it: relaxed EJSON (dates as `{"$date": "..."}`). */
function toEjson(doc: unknown): unknown {
  return doc === undefined ? null : (JSON.parse(encodeDoc(doc as Doc)) as unknown)
}

function nextRun(cron: string): string | null {
  try {
    return new Cron(cron, { timezone: 'Asia/Shanghai', paused: true }).nextRun()?.toISOString() ?? null
  } catch {
    return null
  }
}

function invocationView(r: InvocationRecord) {
  return {
    requestId: r.requestId,
    fn: r.fn,
    action: r.action ?? null,
    source: r.source,
    openid: r.openid ?? null,
    parentId: r.parentId ?? null,
    startedAt: new Date(r.startedAt).toISOString(),
    durationMs: r.durationMs ?? null,
    coldStart: r.coldStart ?? false,
    outcome: r.outcome ?? 'running',
    dbTotal: r.dbTotal,
    db: r.db,
    docsRead: r.docsRead,
    openapi: r.openapi,
    invokes: r.invokes,
    lateCalls: r.lateCalls,
  }
}

/** The page a message opens and the message log id (`msg=`) the send added to it. */
function splitPage(page: string): { page: string; logId: string | null } {
  const [base = '', query = ''] = page.split('?')
  const logId = new URLSearchParams(query).get('msg')
  return { page: base, logId }
}

export class ConsoleServer {
  constructor(
    private readonly host: ConsoleHost,
    /** Replaced after merge by the gateway's shared check (token off loopback). */
    private readonly authorize: (req: IncomingMessage) => void = authorizeConsole,
  ) {}

  /** Whether this request is the console's: the page and its assets, or its API. */
  static handles(pathname: string): boolean {
    return pathname === '/' || pathname === '/index.html' || pathname.startsWith('/console/')
  }

  async route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    this.authorize(req)
    if (url.pathname.startsWith(CONSOLE_API)) {
      const parts = url.pathname.slice(CONSOLE_API.length).split('/').filter(Boolean).map(decodeSegment)
      await this.api(req, res, url, parts)
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'GET only')
    this.asset(res, url.pathname === '/' || url.pathname === '/index.html' ? 'index.html' : url.pathname.slice('/console/'.length))
  }

  private asset(res: ServerResponse, name: string): void {
    if (!/^[\w.-]+$/.test(name)) throw new HttpError(404, 'NOT_FOUND', 'No such console file')
    const file = path.join(CONSOLE_BUILD, name)
    if (!existsSync(file)) {
      if (name === 'index.html') {
        throw new HttpError(503, 'CONSOLE_NOT_BUILT', `The console is not built (${CONSOLE_BUILD} is missing): run \`npm run build\``)
      }
      throw new HttpError(404, 'NOT_FOUND', 'No such console file')
    }
    const body = readFileSync(file)
    res.writeHead(200, {
      'content-type': mime.contentType(path.extname(file)) || 'application/octet-stream',
      'content-length': body.length,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
    })
    res.end(body)
  }

  private async json(req: IncomingMessage): Promise<Record<string, unknown>> {
    const raw = await readBody(req, MAX_BODY)
    try {
      const body = raw.length === 0 ? {} : (JSON.parse(raw.toString('utf8')) as unknown)
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('not an object')
      return body as Record<string, unknown>
    } catch {
      throw new HttpError(400, 'INVALID_JSON', 'The request body must be a JSON object')
    }
  }

  private async api(req: IncomingMessage, res: ServerResponse, url: URL, parts: string[]): Promise<void> {
    const method = req.method ?? 'GET'
    const [what, a, b, c] = parts
    const key = `${method} ${what ?? ''}${a !== undefined ? '/:a' : ''}${b !== undefined ? '/:b' : ''}${c !== undefined ? '/:c' : ''}`
    try {
      switch (key) {
        case 'GET overview':
          return sendJson(res, 200, this.overview())
        case 'GET invocations': {
          const limit = Math.min(Math.max(Number(url.searchParams.get('limit') ?? 100) || 100, 1), 2000)
          return sendJson(res, 200, { invocations: this.host.ledger.recentInvocations(limit, url.searchParams.get('fn') ?? undefined).map(invocationView) })
        }
        case 'GET collections':
          return sendJson(res, 200, { collections: this.collections() })
        case 'POST collections/:a/:b':
          if (b === 'query') return sendJson(res, 200, this.query(a!, await this.json(req)))
          break
        case 'POST documents/:a':
          return sendJson(res, 201, this.insert(a!, await this.json(req)))
        case 'PUT documents/:a/:b':
          return sendJson(res, 200, this.replace(a!, b!, await this.json(req)))
        case 'DELETE documents/:a/:b':
          return sendJson(res, 200, this.remove(a!, b!))
        case 'GET config':
          return sendJson(res, 200, this.configList())
        case 'POST config/:a/:b':
          if (b === 'validate') return sendJson(res, 200, this.validate(a!, await this.json(req)))
          break
        case 'GET storage':
          return sendJson(res, 200, { files: this.files() })
        case 'DELETE storage':
          return sendJson(res, 200, this.deleteFile(url.searchParams.get('path')))
        case 'GET messages':
          return sendJson(res, 200, { messages: this.messages() })
        case 'GET timers':
          return sendJson(res, 200, { running: this.host.timersRunning(), timers: this.timers() })
        case 'POST timers/:a/:b':
          return sendJson(res, 200, { run: await this.host.runTimer(a!, b!) })
        case 'POST export': {
          const body = await this.json(req)
          if (typeof body.dir !== 'string' || body.dir.trim() === '') throw new HttpError(400, 'INVALID_DIR', 'Give the folder to export to ("dir")')
          return sendJson(res, 200, await this.host.exportTo(path.resolve(ROOT, body.dir.trim())))
        }
      }
    } catch (err) {
      if (err instanceof InvalidConfig) return sendJson(res, 422, { error: { code: 'INVALID_CONFIG', message: err.message, issues: err.issues } })
      if (err instanceof ExportError) throw new HttpError(409, 'EXPORT_REFUSED', err.message)
      if (err instanceof DbError) throw new HttpError(dbStatus(err.code), err.code, err.message)
      throw err
    }
    if (method !== 'GET' && method !== 'POST' && method !== 'PUT' && method !== 'DELETE') throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} is not a console method`)
    throw new HttpError(404, 'NOT_FOUND', `No console route ${method} ${url.pathname}`)
  }

  // ---- overview ------------------------------------------------------------------------------

  private overview() {
    const summary = this.host.ledger.summary()
    return {
      env: this.host.env,
      appid: this.host.appid,
      url: this.host.url,
      dataDir: this.host.dataDir,
      timersRunning: this.host.timersRunning(),
      functions: this.host.functions().map((f) => ({
        name: f.name,
        timeoutMs: f.timeoutMs,
        memoryMb: f.memoryMb,
        openapi: f.openapi,
        triggers: f.triggers.map((t) => ({ name: t.name, cron: t.cron })),
        workers: this.host.workers(f.name),
        stats: summary[f.name] ?? null,
      })),
    }
  }

  // ---- database ------------------------------------------------------------------------------

  private requireCollection(name: string): void {
    if (!this.host.store.hasCollection(name)) throw new HttpError(404, 'DATABASE_COLLECTION_NOT_EXIST', `No collection "${name}"`)
  }

  private collections() {
    const store = this.host.store
    return store.listCollections().map((name) => ({
      name,
      count: store.count(name, {}),
      indexes: store.indexesOf(name).map((i) => ({ name: i.name, keys: i.keys, unique: i.unique ?? false })),
      description: (manifest as Record<string, { description: string } | undefined>)[name]?.description ?? null,
      inManifest: Object.prototype.hasOwnProperty.call(manifest, name),
      editor: name === 'experiments' || name === 'app_config',
    }))
  }

  private query(name: string, body: Record<string, unknown>) {
    this.requireCollection(name)
    const where = asDoc(body.where ?? {}, 'where')
    const order = body.order === undefined || body.order === null ? undefined : asDoc(body.order, 'order')
    if (order && !Object.values(order).every((v) => v === 1 || v === -1)) throw new HttpError(400, 'INVALID_ORDER', 'order maps fields to 1 (ascending) or -1 (descending)')
    const limit = Math.min(Math.max(Number(body.limit ?? 20) || 20, 1), MAX_ROWS)
    const skip = Math.max(Number(body.skip ?? 0) || 0, 0)
    const docs = this.host.store.find(name, { query: where, order: order as Record<string, 1 | -1> | undefined, offset: skip, limit })
    return { total: this.host.store.count(name, where), skip, limit, docs: docs.map(toEjson) }
  }

  /** Config documents are checked before any write; an invalid one is refused with its issues. */
  private checked(name: string, doc: Doc): void {
    const kind = configKind(name, typeof doc._id === 'string' ? doc._id : '')
    if (!kind) return
    const issues = kind.check(doc)
    if (issues.length > 0) throw new InvalidConfig(`${name}/${String(doc._id)} is invalid: ${issues[0]!.path || '(document)'}: ${issues[0]!.message}`, issues)
  }

  private insert(name: string, body: Record<string, unknown>) {
    this.requireCollection(name)
    const doc = asDoc(body.doc, 'doc')
    this.checked(name, doc)
    const [id] = this.host.store.insert(name, [doc])
    return { id, doc: toEjson(this.host.store.find(name, { query: { _id: id }, limit: 1 })[0]) }
  }

  private replace(name: string, id: string, body: Record<string, unknown>) {
    this.requireCollection(name)
    const doc = asDoc(body.doc, 'doc')
    if (doc._id !== undefined && doc._id !== id && String(doc._id) !== id) throw new HttpError(400, 'ID_CHANGED', `The document's _id is "${id}"; it cannot change`)
    const key = this.docKey(name, id)
    this.checked(name, { ...doc, _id: key })
    // A replacement (the SDK's doc().set()): creates the document when it does not exist.
    const result = this.host.store.modify(name, { query: { _id: key }, data: { ...doc, _id: key }, multi: false, merge: false, upsert: true })
    return { id: key, created: result.upsertedId !== undefined, updated: result.updated, doc: toEjson(this.host.store.find(name, { query: { _id: key }, limit: 1 })[0]) }
  }

  /** Numeric ids exist (a document added with `_id: 1`): the id from the URL matches either form. */
  private docKey(name: string, id: string): string | number {
    if (/^-?\d+(\.\d+)?$/.test(id) && this.host.store.count(name, { _id: Number(id) }) > 0) return Number(id)
    return id
  }

  private remove(name: string, id: string) {
    this.requireCollection(name)
    const deleted = this.host.store.remove(name, { _id: this.docKey(name, id) }, false)
    if (deleted === 0) throw new HttpError(404, 'DOCUMENT_NOT_FOUND', `No document "${id}" in ${name}`)
    return { deleted }
  }

  // ---- config editors ------------------------------------------------------------------------

  private configList() {
    const store = this.host.store
    const stored = (collection: string, id: string) => store.find(collection, { query: { _id: id }, limit: 1 })[0] ?? null
    const entry = (collection: string, id: string, doc: Doc | null, kind = configKind(collection, id)!) => ({
      collection,
      id,
      title: kind.title,
      readBy: kind.readBy,
      pickup: kind.pickup,
      stored: doc !== null,
      doc: doc ? toEjson(doc) : null,
      issues: doc ? kind.check(doc) : [],
    })
    return {
      appConfig: Object.keys(APP_CONFIG).map((id) => entry('app_config', id, stored('app_config', id))),
      experiments: store.find('experiments', { query: {}, limit: MAX_ROWS, order: { _id: 1 } }).map((doc) => entry('experiments', String(doc._id), doc, EXPERIMENT)),
    }
  }

  private validate(collection: string, body: Record<string, unknown>): { valid: boolean; issues: ConfigIssue[]; pickup: string | null } {
    const doc = asDoc(body.doc, 'doc')
    const kind = configKind(collection, typeof doc._id === 'string' ? doc._id : '')
    if (!kind) throw new HttpError(404, 'NO_EDITOR', `No editor for ${collection}/${String(doc._id)}: app_config/{${Object.keys(APP_CONFIG).join(',')}} and experiments/<key>`)
    const issues = kind.check(doc)
    return { valid: issues.length === 0, issues, pickup: kind.pickup }
  }

  // ---- storage -------------------------------------------------------------------------------

  private files() {
    const root = this.host.storage.root
    const out: { path: string; folder: string; size: number; modifiedAt: string; contentType: string; fileId: string; url: string }[] = []
    const walk = (dir: string, prefix: string) => {
      if (!existsSync(dir)) return
      for (const entry of readdirSync(dir, { withFileTypes: true }).sort((x, y) => x.name.localeCompare(y.name))) {
        const cloudPath = prefix ? `${prefix}/${entry.name}` : entry.name
        if (entry.isDirectory()) walk(path.join(dir, entry.name), cloudPath)
        else if (entry.isFile() && !entry.name.includes('.uploading-')) {
          const stat = statSync(path.join(dir, entry.name))
          out.push({
            path: cloudPath,
            folder: prefix,
            size: stat.size,
            modifiedAt: stat.mtime.toISOString(),
            contentType: mime.lookup(entry.name) || 'application/octet-stream',
            fileId: this.host.storage.fileId(cloudPath),
            url: this.host.storage.tempUrl(cloudPath, 3600),
          })
        }
      }
    }
    walk(root, '')
    return out
  }

  private deleteFile(cloudPath: string | null) {
    let checked: string
    try {
      checked = Storage.checkPath(cloudPath)
    } catch (err) {
      throw new HttpError(400, 'INVALID_PATH', (err as Error).message)
    }
    if (!this.host.storage.remove(checked)) throw new HttpError(404, 'NO_SUCH_KEY', `No file ${checked}`)
    return { deleted: checked }
  }

  // ---- messages ------------------------------------------------------------------------------

  private messages() {
    const store = this.host.store
    const ids = (store.find('app_config', { query: { _id: 'templates' }, limit: 1 })[0]?.ids ?? {}) as Record<string, unknown>
    const keyOfId = new Map(Object.entries(ids).filter(([k, v]) => isTemplateKey(k) && typeof v === 'string').map(([k, v]) => [v as string, k]))
    return store.find(OUTBOX, { query: {}, order: { sentAt: -1 }, limit: 200 }).map((m) => {
      const templateId = String(m.templateId)
      const key = keyOfId.get(templateId)
      const spec = key && isTemplateKey(key) ? templates[key] : undefined
      const data = (m.data ?? {}) as Record<string, { value?: unknown }>
      const labels = (spec?.fields ?? {}) as Record<string, string>
      const { page, logId } = splitPage(String(m.page ?? ''))
      const log = logId && store.hasCollection('message_log') ? (store.find('message_log', { query: { _id: logId }, limit: 1 })[0] ?? null) : null
      const quota = key && store.hasCollection('subscriptions') ? (store.find('subscriptions', { query: { _id: `${String(m.touser)}:${key}` }, limit: 1 })[0] ?? null) : null
      return {
        id: String(m._id),
        touser: String(m.touser),
        templateId,
        template: key ?? null,
        title: spec?.title ?? null,
        fields: Object.entries(data).map(([field, entry]) => ({ key: field, label: labels[field] ?? field, value: String(entry?.value ?? '') })),
        page,
        fullPage: String(m.page ?? ''),
        miniprogramState: String(m.miniprogramState ?? 'formal'),
        sentAt: m.sentAt instanceof Date ? m.sentAt.toISOString() : null,
        log: log ? toEjson(log) : null,
        quota: quota ? { quota: quota.quota, last: toEjson(quota.last) } : null,
      }
    })
  }

  // ---- timers --------------------------------------------------------------------------------

  private timers() {
    return this.host.functions().flatMap((f) =>
      f.triggers.map((t) => ({
        fn: f.name,
        name: t.name,
        cron: t.cron,
        nextRun: nextRun(t.cron),
        last: this.host.lastTimerRun(f.name, t.name) ?? null,
      })),
    )
  }
}
