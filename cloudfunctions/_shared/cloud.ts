/**
 * The one place that touches wx-server-sdk. Its own typings are loose (results typed as
 * `Promise<X> | void | string`, DYNAMIC_CURRENT_ENV typed as a symbol), so every call the functions
 * need is wrapped here once, with real types, and the rest of the code never casts.
 */
import http from 'node:http'
import https from 'node:https'
import * as cloud from 'wx-server-sdk'
import type { CollectionName } from './collections'
import type { DocTypes } from './models'

let initialized = false

function sdk(): typeof cloud {
  if (!initialized) {
    // DYNAMIC_CURRENT_ENV is a symbol at runtime; init() accepts it although its typing says string.
    const env = cloud.DYNAMIC_CURRENT_ENV as unknown as string
    cloud.init({ env })
    initialized = true
  }
  return cloud
}

export interface WxContext {
  openid?: string
  appid?: string
  unionid?: string
  /** Who invoked: `wx_client`, `wx_devtools`, `wx_http`, `wx_trigger`, or a chain such as `wx_client,scf`. */
  source?: string
  clientIp?: string
  env?: string
}

/** Caller identity as the platform reports it. The only trusted source of identity. */
export function wxContext(): WxContext {
  const ctx = sdk().getWXContext()
  const pick = (value: unknown): string | undefined =>
    typeof value === 'string' && value.length > 0 ? value : undefined
  return {
    openid: pick(ctx.OPENID),
    appid: pick(ctx.APPID),
    unionid: pick(ctx.UNIONID),
    source: pick(ctx.SOURCE),
    clientIp: pick(ctx.CLIENTIP),
    env: pick(ctx.ENV),
  }
}

/** Database-wide helpers. `throwOnNotFound: false` makes a missing document read as `null`. */
let db: ReturnType<typeof cloud.database> | undefined

function database() {
  // throwOnNotFound is a documented option the SDK's typings leave out.
  const config = { throwOnNotFound: false } as Parameters<typeof cloud.database>[0]
  db ??= sdk().database(config)
  return db
}

/** Query operators (`db.command`), typed by the SDK. */
export function command() {
  return database().command
}

/** A date the database fills in when the write happens (never the function's clock). */
export function serverDate(offsetMs = 0) {
  // The typings declare serverDate() without its documented `{ offset }` option.
  const instance = database()
  const withOffset = instance.serverDate as unknown as (options: { offset: number }) => unknown
  return withOffset.call(instance, { offset: offsetMs })
}

/** A value as written: plain values, operators (`_.inc`) or `serverDate()` where a Date goes. */
type Writable<T> = { [K in keyof T]?: unknown }

type Query = Record<string, unknown>

export interface FindOptions<T> {
  orderBy?: ReadonlyArray<readonly [keyof T & string, 'asc' | 'desc']>
  limit?: number
  skip?: number
  /** Projection: `{ body: false }` or `{ title: true }`. */
  fields?: Partial<Record<keyof T & string, boolean>>
}

interface SdkError {
  errCode?: number
  errMsg?: string
  message?: string
}

function errorOf(err: unknown): SdkError {
  return typeof err === 'object' && err !== null ? (err as SdkError) : {}
}

/** The cloud reports a unique-index violation as DATABASE_REQUEST_FAILED (-502001) carrying MongoDB's E11000. */
export function isDuplicateKeyError(err: unknown): boolean {
  const e = errorOf(err)
  const text = `${e.errMsg ?? ''} ${e.message ?? ''}`
  return e.errCode === -502001 && text.includes('E11000')
}

async function settle<R>(pending: unknown): Promise<R> {
  return (await (pending as Promise<R>)) as R
}

export interface TypedCollection<T extends { _id: string }> {
  readonly name: CollectionName
  /** Reads one document by _id; `null` when it does not exist. One round trip. */
  get(id: string, fields?: FindOptions<T>['fields']): Promise<T | null>
  /** Reads up to `limit` (default 100, max 1000, the server's own limits) matching documents. */
  find(query: Query, options?: FindOptions<T>): Promise<T[]>
  count(query: Query): Promise<number>
  /** Inserts one document; a given `_id` that exists already fails with a duplicate-key error. */
  add(doc: Writable<T> & { _id?: string }): Promise<string>
  /** Inserts several documents in one round trip; a duplicate `_id` fails the call (see isDuplicateKeyError). */
  addMany(docs: (Writable<T> & { _id?: string })[]): Promise<string[]>
  /** Applies an update (plain fields are merged, operators such as `_.inc` applied); returns documents changed. */
  update(id: string, data: Writable<T>): Promise<number>
  updateWhere(query: Query, data: Writable<T>): Promise<number>
  /** Replaces the document (creates it when missing). */
  set(id: string, doc: Writable<Omit<T, '_id'>>): Promise<{ created: boolean }>
  remove(id: string): Promise<number>
  removeWhere(query: Query): Promise<number>
  /**
   * Runs an aggregation pipeline in the database, e.g. `[{ $match: {...} }, { $group: {...} }]`
   * (MongoDB stage syntax). Returns at most 20 results unless a `$limit` stage says otherwise.
   */
  aggregate<R = Record<string, unknown>>(stages: Record<string, unknown>[]): Promise<R[]>
}

interface RawQueryResult {
  data: unknown
}

export function collection<N extends CollectionName>(name: N): TypedCollection<DocTypes[N]> {
  type T = DocTypes[N]
  const ref = () => database().collection(name)

  return {
    name,
    async get(id, fields) {
      let doc = ref().doc(id)
      if (fields) doc = doc.field(fields)
      const res = await settle<RawQueryResult>(doc.get())
      const data = Array.isArray(res.data) ? res.data[0] : res.data
      return (data ?? null) as T | null
    },
    async find(query, options = {}) {
      let q = ref().where(query)
      for (const [field, direction] of options.orderBy ?? []) q = q.orderBy(field, direction)
      if (options.skip) q = q.skip(options.skip)
      if (options.limit) q = q.limit(options.limit)
      if (options.fields) q = q.field(options.fields)
      const res = await settle<RawQueryResult>(q.get())
      return res.data as T[]
    },
    async count(query) {
      const res = await settle<{ total: number }>(ref().where(query).count())
      return res.total
    },
    async add(doc) {
      const res = await settle<{ _id: string }>(ref().add({ data: doc }))
      return res._id
    },
    async update(id, data) {
      const res = await settle<{ stats: { updated: number } }>(ref().doc(id).update({ data }))
      return res.stats.updated
    },
    async updateWhere(query, data) {
      const res = await settle<{ stats: { updated: number } }>(ref().where(query).update({ data }))
      return res.stats.updated
    },
    async set(id, doc) {
      const res = await settle<{ stats: { created?: number } }>(ref().doc(id).set({ data: doc }))
      return { created: (res.stats.created ?? 0) > 0 }
    },
    async remove(id) {
      const res = await settle<{ stats: { removed: number } }>(ref().doc(id).remove())
      return res.stats.removed
    },
    async removeWhere(query) {
      const res = await settle<{ stats: { removed: number } }>(ref().where(query).remove())
      return res.stats.removed
    },
    async addMany(docs) {
      if (docs.length === 0) return []
      const res = await settle<{ _ids: string[] }>(ref().add({ data: docs } as never))
      return res._ids
    },
    async aggregate<R>(stages: Record<string, unknown>[]) {
      type Stage = (value: unknown) => AggregateChain
      interface AggregateChain {
        end(): unknown
        [stage: string]: unknown
      }
      let chain = ref().aggregate() as unknown as AggregateChain
      for (const stage of stages) {
        const [key, value] = Object.entries(stage)[0] ?? []
        const method = key ? chain[key.replace(/^\$/, '')] : undefined
        if (typeof method !== 'function') throw new Error(`Unsupported aggregation stage ${String(key)}`)
        chain = (method as Stage).call(chain, value)
      }
      const res = await settle<{ list: R[] }>(chain.end())
      return res.list
    },
  }
}

/**
 * A transaction conflict: a write to a document another open transaction is writing, or one changed
 * since the transaction started, fails at once; a commit fails when a plain write changed a document
 * the transaction wrote. A commit's error keeps its `code`; wx-server-sdk turns an error of a write
 * inside the transaction into errCode -501001 and keeps only its message ("...TransactionConflict...").
 */
export function isTransactionConflict(err: unknown): boolean {
  const e = err as { code?: unknown; errMsg?: unknown } | null
  return e?.code === 'DATABASE_TRANSACTION_CONFLICT' || (typeof e?.errMsg === 'string' && /TransactionConflict|DATABASE_TRANSACTION_CONFLICT/.test(e.errMsg))
}

/** The single-document operations a transaction allows (by _id, plus add), typed by the manifest. */
export interface TxCollection<T extends { _id: string }> {
  /** Reads one document as this transaction sees it (its own writes included); `null` when missing. */
  get(id: string): Promise<T | null>
  /** Inserts a document with its natural key; an existing `_id` fails with a duplicate-key error. */
  add(doc: Writable<T> & { _id: string }): Promise<void>
  /** Applies plain fields and operators (`_.inc`); returns 1, or 0 when there is no such document. */
  update(id: string, data: Writable<T>): Promise<number>
  /** Replaces the document (creates it when missing). */
  set(id: string, doc: Writable<Omit<T, '_id'>>): Promise<void>
  remove(id: string): Promise<number>
}

export interface Transaction {
  collection<N extends CollectionName>(name: N): TxCollection<DocTypes[N]>
}

interface SdkTransaction {
  collection(name: string): {
    doc(id: string): { get(): Promise<{ data: unknown }>; update(o: { data: unknown }): Promise<{ stats: { updated: number } }>; set(o: { data: unknown }): Promise<unknown>; remove(): Promise<{ stats: { removed: number } }> }
    add(o: { data: unknown }): Promise<unknown>
  }
  commit(): Promise<unknown>
  rollback(): Promise<unknown>
}

export interface TransactionOptions {
  /** Further attempts after a commit conflict (default 8); then the conflict error is thrown. */
  retries?: number
}

/**
 * Runs `fn` in one database transaction: every write it makes commits together or not at all.
 * Reads inside see the transaction's snapshot and its own writes; a write conflict (see
 * isTransactionConflict) ends the attempt, and then `fn` runs again on fresh data, a bounded number of
 * times, after a short random pause so contenders spread out. An error thrown by `fn` rolls back and
 * is rethrown as is. Only get/add/update/set/remove by _id work inside (the cloud's own limits).
 */
export async function runTransaction<R>(fn: (tx: Transaction) => Promise<R>, options: TransactionOptions = {}): Promise<R> {
  const retries = options.retries ?? 8
  for (let attempt = 0; ; attempt++) {
    // The SDK types the transaction as `any`: give it the shape used here.
    const raw: SdkTransaction = await database().startTransaction()
    const tx: Transaction = {
      collection(name) {
        const ref = raw.collection(name)
        return {
          async get(id) {
            const res = await ref.doc(id).get()
            return (res.data ?? null) as never
          },
          async add(doc) {
            await ref.add({ data: doc })
          },
          async update(id, data) {
            return (await ref.doc(id).update({ data })).stats.updated
          },
          async set(id, doc) {
            await ref.doc(id).set({ data: doc })
          },
          async remove(id) {
            return (await ref.doc(id).remove()).stats.removed
          },
        }
      },
    }
    let result: R
    try {
      result = await fn(tx)
    } catch (err) {
      // The transaction may be gone already (expired); the error that matters is fn's.
      await raw.rollback().catch(() => undefined)
      if (isTransactionConflict(err) && attempt < retries) {
        await pause(attempt)
        continue
      }
      throw err
    }
    try {
      await raw.commit()
      return result
    } catch (err) {
      if (!isTransactionConflict(err) || attempt >= retries) throw err
      await pause(attempt)
    }
  }
}

function pause(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * (attempt + 1)))
}

/** Content-security scenes of `security.msgSecCheck` v2. */
export const SecScene = { profile: 1, comment: 2, forum: 3, social: 4 } as const

export interface MsgSecCheckResult {
  /** `pass`: publish; `review`: hold for a human; `risky`: refuse. */
  suggest: 'pass' | 'review' | 'risky'
  /** 100 normal, 10001 ads, 20001 politics, 20002 porn, 20003 abuse, 20006 crime, 20008 fraud, 20012 vulgar, 20013 copyright, 21000 other. */
  label: number
}

interface OpenApi {
  subscribeMessage: {
    send(params: { touser: string; templateId: string; page?: string; data: Record<string, { value: string }>; miniprogramState?: string; lang?: string }): Promise<{ errCode: number }>
  }
  wxacode: {
    getUnlimited(params: { scene: string; page?: string; checkPath?: boolean; envVersion?: string; width?: number }): Promise<{ contentType: string; buffer: Buffer }>
  }
  security: {
    msgSecCheck(params: { content: string; version: 2; scene: number; openid: string }): Promise<{
      result?: { suggest?: string; label?: number }
    }>
    mediaCheckAsync(params: { mediaUrl: string; mediaType: 1 | 2; version: 2; scene: number; openid: string }): Promise<{ traceId?: string }>
  }
}

/** Checks user text with WeChat's content security API (needs `security.msgSecCheck` in config.json). */
export async function msgSecCheck(params: {
  content: string
  openid: string
  scene: (typeof SecScene)[keyof typeof SecScene]
}): Promise<MsgSecCheckResult> {
  const res = await openapi().security.msgSecCheck({ ...params, version: 2 })
  const suggest = res.result?.suggest
  return {
    suggest: suggest === 'pass' || suggest === 'review' ? suggest : 'risky',
    label: res.result?.label ?? 21000,
  }
}

/**
 * Submits an image (or audio) at `mediaUrl` to WeChat's asynchronous content check (needs
 * `security.mediaCheckAsync` in config.json) and returns its trace id. The verdict arrives later as
 * a `wxa_media_check` push (message push, routed to the function in the console) carrying that id.
 */
export async function mediaCheckAsync(params: { mediaUrl: string; openid: string; scene: (typeof SecScene)[keyof typeof SecScene]; mediaType?: 1 | 2 }): Promise<string> {
  const res = await openapi().security.mediaCheckAsync({ mediaUrl: params.mediaUrl, mediaType: params.mediaType ?? 2, version: 2, scene: params.scene, openid: params.openid })
  if (!res.traceId) throw new Error('security.mediaCheckAsync answered without a trace_id')
  return res.traceId
}

function openapi(): OpenApi {
  return sdk().openapi as unknown as OpenApi
}

/** Sends a subscription message (needs `subscribeMessage.send` in config.json). Throws the API's errCode on failure. */
export async function sendSubscribeMessage(params: {
  touser: string
  templateId: string
  page?: string
  data: Record<string, { value: string }>
  /** Which version the message opens: developer, trial or formal (the default). */
  miniprogramState?: 'developer' | 'trial' | 'formal'
}): Promise<void> {
  await openapi().subscribeMessage.send(params)
}

/** A mini-program code image for `page` carrying `scene` (needs `wxacode.getUnlimited` in config.json). */
export async function miniProgramCode(params: { scene: string; page: string; checkPath?: boolean; width?: number }): Promise<Buffer> {
  const res = await openapi().wxacode.getUnlimited(params)
  return res.buffer
}

/** Uploads bytes to cloud storage; returns the file ID. */
export async function uploadFile(cloudPath: string, content: Buffer): Promise<string> {
  const res = await sdk().uploadFile({ cloudPath, fileContent: content })
  return res.fileID
}

/** A temporary download URL for a file ID ('' when the file does not exist). */
export async function tempFileUrl(fileId: string, maxAgeS = 86_400): Promise<string> {
  return (await tempFileUrls([fileId], maxAgeS))[0] ?? ''
}

/** Temporary download URLs for many file IDs, in order ('' for a file that does not exist); 50 per storage call. */
export async function tempFileUrls(fileIds: string[], maxAgeS = 86_400): Promise<string[]> {
  const urls: string[] = []
  for (let at = 0; at < fileIds.length; at += 50) {
    const batch = fileIds.slice(at, at + 50)
    const res = await settle<{ fileList: { fileID: string; tempFileURL: string }[] }>(
      sdk().getTempFileURL({ fileList: batch.map((fileID) => ({ fileID, maxAge: maxAgeS })) }),
    )
    const byId = new Map(res.fileList.map((f) => [f.fileID, f.tempFileURL]))
    urls.push(...batch.map((id) => byId.get(id) ?? ''))
  }
  return urls
}

/**
 * Sizes of stored files in bytes, `null` for a file that does not exist. One storage call for the
 * temporary URLs, then a HEAD per file (its Content-Length): the bytes are never downloaded.
 */
export async function fileSizes(fileIds: string[]): Promise<(number | null)[]> {
  const urls = await tempFileUrls(fileIds, 600)
  return Promise.all(
    urls.map(async (url, i) => {
      if (!url) return null
      const head = await headRequest(url)
      if (head.status === 404) return null
      if (head.status < 200 || head.status >= 300) throw new Error(`HEAD ${fileIds[i]}: HTTP ${head.status}`)
      const size = Number(head.length)
      return head.length !== undefined && Number.isFinite(size) ? size : null
    }),
  )
}

/** A HEAD request with Node's http(s) module (Node 16 runtimes have no fetch). */
function headRequest(url: string, timeoutMs = 5000): Promise<{ status: number; length?: string }> {
  const client = url.startsWith('https:') ? https : http
  return new Promise((resolve, reject) => {
    const req = client.request(url, { method: 'HEAD' }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, length: res.headers['content-length'] }))
    })
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`HEAD timed out after ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end()
  })
}

/** Deletes stored files (up to 50 per call, the cloud's limit); returns how many existed and were deleted. */
export async function deleteFiles(fileIds: string[]): Promise<number> {
  if (fileIds.length === 0) return 0
  const res = await settle<{ fileList: { fileID: string; status: number }[] }>(sdk().deleteFile({ fileList: fileIds }))
  return res.fileList.filter((f) => f.status === 0).length
}
