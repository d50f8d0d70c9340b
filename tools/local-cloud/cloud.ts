/**
 * The local cloud: one HTTP server on 127.0.0.1 that is
 *  - the endpoint an unmodified wx-server-sdk talks to (`/admin`, the cloud's own protocol:
 *    database, storage, functions.invokeFunction, wx.openApi),
 *  - the gateway clients call functions through (`POST /functions/<name>`, caller in `x-wx-openid`),
 *  - the storage host for uploads and temporary URLs (`/storage/...`),
 *  - an inspection API (`/_/stats`, `/_/invocations`, `/_/triggers/<fn>/<trigger>`),
 *  - the local console (`/`, its API under `/console/api/`: console/server.ts).
 * Functions run in worker pools; timer triggers fire on their cron schedule.
 */
import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { rename, unlink } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import busboy from 'busboy'
import { Cron } from 'croner'
import mime from 'mime-types'
import { collections as manifest, storageRule } from '../../cloudfunctions/_shared/collections'
import { watchFunctions } from '../build'
import { ROOT, WORKER_BUNDLE } from '../paths'
import { type AccessPolicy, accessPolicy, checkAccess, isLoopbackAddress, lanAddresses } from './access'
import { DbError } from './db/errors'
import { DocumentStore } from './db/store'
import { type FunctionConfig, readFunctionConfig } from './functions/config'
import { FunctionPool, type Outcome } from './functions/pool'
import { decodeSegment, header, HttpError, jsonDepth, readBody, sendJson } from './http'
import { type InvocationRecord, Ledger } from './ledger'
import { DATABASE_ACTIONS, handleDatabase } from './protocol/database'
import {
  decodeRequest,
  loadWordList,
  OPENAPI_HANDLERS,
  OPENAPI_NO_PERMISSION,
  OPENAPI_NOT_FOUND,
  type OpenApiContext,
  OPENAPI_FAULTS,
  MEDIA_CHECKS,
  OUTBOX,
  platformError,
} from './protocol/openapi'
import { MAX_UPLOAD_BYTES, Storage, STORAGE_FILES } from './protocol/storage'
import { allows, checkRule } from './protocol/storage-rules'
import { DEFAULT_PORT } from './port'
import { type ConsoleHost, ConsoleServer, type TimerRun } from './console/server'
import { exportCloud, importCloud } from './export'
import { checkWordsFile, lockDataDir, portInUseMessage } from './preflight'

/** The cloud's limit for a function call's request body (text): 100 KB. */
export const GATEWAY_MAX_BODY = 100 * 1024
/** Function-to-function calls go through the cloud's own invoke path: 6 MB. */
export const INVOKE_MAX_BODY = 6 * 1024 * 1024
const SDK_MAX_BODY = 16 * 1024 * 1024
/**
 * How deep a function's event may nest. MongoDB (and so the cloud database) refuses documents nested
 * over 100 levels; no real event comes near it, and a deeper one could not be sent to a worker.
 */
export const MAX_EVENT_DEPTH = 100

export interface LocalCloudOptions {
  /** Listen address: loopback by default. Any other needs the access token from other machines. */
  host?: string
  /** The access token off loopback (default: made once and kept in <dataDir>/access-token). */
  accessToken?: string
  /** 0 picks a free port. */
  port?: number
  dataDir?: string
  env?: string
  appid?: string
  functionsDir?: string
  /** Run timer triggers on their schedule (the CLI does; tests fire them on demand). */
  timers?: boolean
  /** Worker processes per function. */
  maxWorkers?: number
  idleTimeoutMs?: number
  /** msgSecCheck word list file. */
  wordsFile?: string
  /** The mini-program's app.json, whose pages getUnlimited's check_path checks (default miniprogram/app.json). */
  appJson?: string
  /** Rebuild functions on change and recycle their workers. */
  watch?: boolean
  /** Load an export (export.ts) into the database and storage before serving. */
  importDir?: string
  log?: (line: string) => void
  /** Multiplies every function's timeout (default 1, the cloud's own; see readFunctionConfig). */
  timeoutScale?: number
}

export interface Identity {
  openid?: string
  appid?: string
  unionid?: string
  clientIp?: string
  /** `wx_client`, `wx_devtools`, `wx_http`, `wx_trigger`... */
  source: string
}

/**
 * What a gateway caller may say it is (`x-wx-source`). `wx_trigger` is not among them: only the
 * local scheduler marks a call as a timer (timer-only actions trust it), see fireTrigger.
 */
export const CLIENT_SOURCES = ['wx_client', 'wx_devtools', 'wx_http'] as const

export interface InvokeResponse {
  record: InvocationRecord
  outcome: Outcome | { ok: false; code: 'FUNCTION_NOT_FOUND'; message: string }
}

export { DEFAULT_PORT }
export const DEFAULT_ENV = 'local'
export const DEFAULT_APPID = 'wx0000000000000000'
export const DEFAULT_WORDS_FILE = path.join(ROOT, 'tools/local-cloud/msgsec-words.txt')

const FAILURE_STATUS: Record<string, number> = {
  FUNCTION_NOT_FOUND: 404,
  FUNCTION_NOT_BUILT: 500,
  FUNCTION_BUILD_ERROR: 500,
  FUNCTION_LOAD_ERROR: 500,
  FUNCTION_ERROR: 500,
  FUNCTION_TIMEOUT: 504,
  FUNCTION_CRASHED: 502,
}

/** errCode wx.cloud.callFunction reports for these failures on the cloud. */
const FAILURE_ERRCODE: Record<string, number> = {
  FUNCTION_NOT_FOUND: -501000,
  FUNCTION_NOT_BUILT: -504002,
  FUNCTION_BUILD_ERROR: -504002,
  FUNCTION_LOAD_ERROR: -504002,
  FUNCTION_ERROR: -504002,
  FUNCTION_TIMEOUT: -504003,
  FUNCTION_CRASHED: -504002,
}

function readAppJsonPages(file: string): Set<string> | null {
  if (!existsSync(file)) return null
  const app = JSON.parse(readFileSync(file, 'utf8')) as {
    pages?: string[]
    subpackages?: { root: string; pages: string[] }[]
    subPackages?: { root: string; pages: string[] }[]
  }
  const pages = new Set(app.pages ?? [])
  for (const sub of app.subpackages ?? app.subPackages ?? []) {
    for (const page of sub.pages) pages.add(`${sub.root.replace(/\/$/, '')}/${page}`)
  }
  return pages
}

/** Function folders: every subfolder with a package.json, except shared code (`_*`). */
export function discoverFunctions(functionsDir: string): string[] {
  return readdirSync(functionsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('_') && !d.name.startsWith('.'))
    .filter((d) => existsSync(path.join(functionsDir, d.name, 'package.json')))
    .map((d) => d.name)
    .sort()
}

function decodeOrKeep(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** A cloud path from a storage URL; an invalid one is a bad request. */
function storagePath(value: string | null): string {
  try {
    return Storage.checkPath(value)
  } catch (err) {
    throw new HttpError(400, 'INVALID_PATH', (err as Error).message)
  }
}

function actionOf(event: unknown): string | undefined {
  if (typeof event === 'object' && event !== null && typeof (event as { action?: unknown }).action === 'string') {
    return (event as { action: string }).action.slice(0, 64)
  }
  return undefined
}

/** Documents in a database reply (`data.list` of a query, a get or an aggregation). */
function documentsIn(reply: Record<string, unknown>): number {
  const list = (reply.data as { list?: unknown } | undefined)?.list
  return Array.isArray(list) ? list.length : 0
}

function shortId(openid: string | undefined): string {
  return openid ? (openid.length > 10 ? `${openid.slice(0, 8)}…` : openid) : '-'
}

export class LocalCloud implements ConsoleHost {
  readonly store: DocumentStore
  readonly storage: Storage
  readonly ledger = new Ledger()
  readonly env: string
  readonly appid: string
  readonly dataDir: string
  readonly functionsDir: string
  private readonly pools = new Map<string, FunctionPool>()
  private readonly configs = new Map<string, FunctionConfig>()
  private readonly crons: Cron[] = []
  /** Functions whose last rebuild failed (watch mode), with esbuild's report. */
  private readonly buildErrors = new Map<string, string>()
  /** Who each running invocation runs as: nested calls inherit it. */
  private readonly identities = new WeakMap<InvocationRecord, Identity>()
  private readonly server: Server
  private readonly log: (line: string) => void
  private stopWatching?: () => Promise<void>
  private words: Map<string, number>
  private address = ''
  private sdkAddress = ''
  private policy: AccessPolicy = accessPolicy('127.0.0.1', null)
  private readonly timerRuns = new Map<string, TimerRun>()
  private readonly consoleServer = new ConsoleServer(this)
  private releaseLock?: () => void

  private constructor(private readonly options: LocalCloudOptions) {
    this.env = options.env ?? DEFAULT_ENV
    this.appid = options.appid ?? DEFAULT_APPID
    this.dataDir = path.resolve(options.dataDir ?? path.join(ROOT, '.cloud'))
    this.functionsDir = options.functionsDir ?? path.join(ROOT, 'cloudfunctions')
    this.log = options.log ?? ((line) => console.log(line))
    this.store = new DocumentStore({
      file: path.join(this.dataDir, 'db.sqlite'),
      env: this.env,
      collections: {
        ...manifest,
        [OUTBOX]: { indexes: [{ name: 'touser_1', keys: { touser: 1 } }] },
        [OPENAPI_FAULTS]: { indexes: [] },
        [MEDIA_CHECKS]: { indexes: [] },
        [STORAGE_FILES]: { indexes: [] },
      },
    })
    this.storage = new Storage(this.dataDir, this.env, () => this.url)
    this.words = loadWordList(options.wordsFile ?? DEFAULT_WORDS_FILE)
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => this.fail(res, err))
    })
    this.server.keepAliveTimeout = 65_000
  }

  static async start(options: LocalCloudOptions = {}): Promise<LocalCloud> {
    if (!existsSync(WORKER_BUNDLE)) throw new Error(`${WORKER_BUNDLE} is missing: run \`npm run build\``)
    checkRule(storageRule)
    checkWordsFile(options.wordsFile)
    const release = lockDataDir(path.resolve(options.dataDir ?? path.join(ROOT, '.cloud')))
    let cloud: LocalCloud
    try {
      cloud = new LocalCloud(options)
    } catch (err) {
      release()
      throw err
    }
    cloud.releaseLock = release
    try {
      if (options.importDir) importCloud(cloud.store, cloud.storage.root, options.importDir)
      for (const name of discoverFunctions(cloud.functionsDir)) cloud.loadFunction(name)
      const host = options.host ?? '127.0.0.1'
      const port = options.port ?? DEFAULT_PORT
      await new Promise<void>((resolve, reject) => {
        cloud.server.once('error', (err: NodeJS.ErrnoException) => {
          if (err.code !== 'EADDRINUSE') return reject(err)
          portInUseMessage(host, port).then((message) => reject(new Error(message)), reject)
        })
        cloud.server.listen(port, host, () => resolve())
      })
    } catch (err) {
      // A bad config.json or a busy port must not leave the database open.
      await cloud.close()
      throw err
    }
    const { address, port } = cloud.server.address() as AddressInfo
    const origin = (host: string) => `http://${host.includes(':') ? `[${host}]` : host}:${port}`
    const wildcard = address === '0.0.0.0' || address === '::'
    const loopback = isLoopbackAddress(address)
    // Clients (a phone, temporary URLs) use the LAN address; workers on this machine use loopback.
    cloud.address = origin(wildcard ? (lanAddresses().find((a) => !a.includes(':')) ?? '127.0.0.1') : address)
    cloud.sdkAddress = origin(wildcard || loopback ? '127.0.0.1' : address)
    cloud.policy = accessPolicy(address, loopback ? null : (options.accessToken ?? cloud.storedToken()))
    if (options.timers) cloud.startTimers()
    if (options.watch) {
      cloud.stopWatching = await watchFunctions(
        {
          onRebuilt: (names) => {
            for (const name of names) {
              cloud.buildErrors.delete(name)
              cloud.pools.get(name)?.recycle()
            }
            cloud.log(`rebuilt ${names.join(', ')}; workers recycled`)
          },
          onError: (name, message) => {
            cloud.buildErrors.set(name, message)
            cloud.log(`${name} failed to build; it answers FUNCTION_BUILD_ERROR until fixed (its last good bundle is kept):\n${message}`)
          },
        },
        cloud.functionsDir,
      )
    }
    return cloud
  }

  get url(): string {
    return this.address
  }

  /** The token callers from other machines must send (null: loopback only, none needed). */
  get accessToken(): string | null {
    return this.policy.token
  }

  /** Made once per data directory, so a phone's configuration survives restarts (`--reset` makes a new one). */
  private storedToken(): string {
    const file = path.join(this.dataDir, 'access-token')
    if (existsSync(file)) {
      const token = readFileSync(file, 'utf8').trim()
      if (token.length >= 16) return token
    }
    const token = randomBytes(18).toString('base64url')
    mkdirSync(this.dataDir, { recursive: true })
    writeFileSync(file, `${token}\n`, { mode: 0o600 })
    return token
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port
  }

  functions(): FunctionConfig[] {
    return [...this.configs.values()]
  }

  /** Environment variables that point an unmodified wx-server-sdk at this local cloud. */
  sdkEnv(token?: string): Record<string, string> {
    return {
      TCB_CONTEXT_CNFG: JSON.stringify({ URL: `${this.sdkAddress}/admin${token ? `/i/${token}` : ''}` }),
      TENCENTCLOUD: 'true',
      TENCENTCLOUD_SECRETID: 'local',
      TENCENTCLOUD_SECRETKEY: 'local',
      SCF_NAMESPACE: this.env,
    }
  }

  private loadFunction(name: string): void {
    const config = readFunctionConfig(this.functionsDir, name, this.options.timeoutScale)
    this.configs.set(name, config)
    this.pools.set(
      name,
      new FunctionPool(config, {
        workerScript: WORKER_BUNDLE,
        maxWorkers: this.options.maxWorkers ?? 4,
        idleTimeoutMs: this.options.idleTimeoutMs ?? 15 * 60_000,
        baseEnv: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          LANG: 'C.UTF-8',
          // Cloud functions run in UTC: code that needs Asia/Shanghai days must say so.
          TZ: 'UTC',
          NODE_ENV: 'production',
          ...this.sdkEnv(),
        },
        onLog: (fn, requestId, stream, line) => this.log(`  ${fn}${requestId ? ` ${requestId.slice(0, 8)}` : ''} ${stream === 'stderr' ? '!' : '|'} ${line}`),
      }),
    )
  }

  // ---- invoking functions --------------------------------------------------------------------

  async invoke(fn: string, event: unknown, identity: Identity, parent?: InvocationRecord): Promise<InvokeResponse> {
    const action = actionOf(event)
    const { token, record } = this.ledger.begin({ fn, action, source: identity.source, openid: identity.openid, parentId: parent?.requestId })
    this.identities.set(record, identity)
    const pool = this.pools.get(fn)
    if (!pool) {
      const outcome = { ok: false as const, code: 'FUNCTION_NOT_FOUND' as const, message: `FunctionName parameter could not be found: ${fn}` }
      this.ledger.end(record, 'FUNCTION_NOT_FOUND', {})
      this.log(`${new Date().toTimeString().slice(0, 8)} ${fn} FUNCTION_NOT_FOUND`)
      return { record, outcome }
    }
    const buildError = this.buildErrors.get(fn)
    if (buildError !== undefined) {
      const outcome: Outcome = { ok: false, code: 'FUNCTION_BUILD_ERROR', message: `cloudfunctions/${fn} does not build:\n${buildError}` }
      this.ledger.end(record, outcome.code, {})
      this.logInvocation(record, outcome)
      return { record, outcome }
    }
    const wx: Record<string, string> = {}
    if (identity.openid) wx.WX_OPENID = identity.openid
    wx.WX_APPID = identity.appid ?? this.appid
    if (identity.unionid) wx.WX_UNIONID = identity.unionid
    if (identity.clientIp) wx.WX_CLIENTIP = identity.clientIp
    const env = {
      ...wx,
      WX_CONTEXT_KEYS: Object.keys(wx).join(','),
      TCB_SOURCE: identity.source,
      ...this.sdkEnv(token),
    }
    const context = {
      request_id: record.requestId,
      function_name: fn,
      function_version: '$LATEST',
      namespace: this.env,
      memory_limit_in_mb: pool.config.memoryMb,
      time_limit_in_ms: pool.config.timeoutMs,
    }
    // The platform injects the caller's identity into the event (a client-sent userInfo is replaced);
    // timer events carry no user and arrive as the trigger sent them.
    const payload =
      typeof event === 'object' && event !== null && !Array.isArray(event) && identity.source !== 'wx_trigger'
        ? { ...(event as Record<string, unknown>), userInfo: { appId: wx.WX_APPID, openId: identity.openid } }
        : event
    const result = await pool.invoke(record.requestId, payload, context, env)
    this.ledger.end(record, result.outcome.ok ? 'ok' : result.outcome.code, {
      coldStart: result.coldStart,
      startMs: result.startMs,
      ...(result.memory ? { peakHeapMb: result.memory.heapMb, peakRssMb: result.memory.rssMb } : {}),
    })
    this.logInvocation(record, result.outcome)
    return { record, outcome: result.outcome }
  }

  private logInvocation(record: InvocationRecord, outcome: Outcome): void {
    const db = Object.entries(record.db).map(([k, v]) => `${k.replace(/Document(s)?$/, '')} ${v}`).join(', ')
    const time = new Date().toTimeString().slice(0, 8)
    const status = outcome.ok ? 'ok' : `${outcome.code}: ${outcome.message}`
    const cold = record.coldStart ? ` cold(${record.startMs ?? 0}ms)` : ''
    const extra = [
      Object.keys(record.openapi).length ? `openapi ${Object.keys(record.openapi).join(',')}` : '',
      record.invokes ? `calls ${record.invokes}` : '',
    ].filter(Boolean).join(' ')
    this.log(
      `${time} ${record.fn}.${record.action ?? '-'} ${status} ${record.durationMs}ms${cold} db=${record.dbTotal}${db ? ` (${db})` : ''}${extra ? ` ${extra}` : ''} src=${record.source} openid=${shortId(record.openid)}`,
    )
  }

  /**
   * Fires one timer trigger (what the schedule does), the only way a call is marked `wx_trigger`.
   * `at` is the event's `Time` (default now): tests fire a trigger as of a given instant with it.
   */
  async fireTrigger(fn: string, trigger: string, at = new Date()): Promise<InvokeResponse> {
    const config = this.configs.get(fn)
    const spec = config?.triggers.find((t) => t.name === trigger)
    if (!config || !spec) throw new HttpError(404, 'TRIGGER_NOT_FOUND', `No timer trigger "${trigger}" on function "${fn}"`)
    // The cloud's timer event carries the time to the second: "2019-02-21T11:49:00Z".
    const time = at.toISOString().replace(/\.\d{3}Z$/, 'Z')
    const event = { Type: 'Timer', TriggerName: spec.name, Time: time, ...(spec.message ? { Message: spec.message } : {}) }
    const response = await this.invoke(fn, event, { source: 'wx_trigger' })
    const { record, outcome } = response
    this.timerRuns.set(`${fn}/${trigger}`, {
      requestId: record.requestId,
      at: record.startedAt,
      outcome: record.outcome ?? 'ok',
      durationMs: record.durationMs ?? 0,
      result: (outcome.ok ? (outcome.json ?? 'null') : JSON.stringify({ code: outcome.code, message: outcome.message })).slice(0, 2048),
    })
    return response
  }

  // ---- what the console reads (console/server.ts) --------------------------------------------

  workers(fn: string): { running: number; max: number } {
    return { running: this.pools.get(fn)?.size ?? 0, max: this.options.maxWorkers ?? 4 }
  }

  timersRunning(): boolean {
    return this.crons.length > 0
  }

  async runTimer(fn: string, trigger: string): Promise<TimerRun> {
    await this.fireTrigger(fn, trigger)
    return this.timerRuns.get(`${fn}/${trigger}`)!
  }

  lastTimerRun(fn: string, trigger: string): TimerRun | undefined {
    return this.timerRuns.get(`${fn}/${trigger}`)
  }

  /** The whole local cloud (database and storage) into a folder (export.ts). */
  async exportTo(dir: string): Promise<{ dir: string; collections: number; documents: number; files: number }> {
    return exportCloud(this.store, this.storage.root, dir)
  }

  private startTimers(): void {
    for (const config of this.configs.values()) {
      for (const trigger of config.triggers) {
        const cron = new Cron(trigger.cron, { timezone: 'Asia/Shanghai', protect: false }, () => {
          this.fireTrigger(config.name, trigger.name).catch((err: unknown) => this.log(`timer ${config.name}/${trigger.name} failed: ${String(err)}`))
        })
        this.crons.push(cron)
      }
    }
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  private fail(res: ServerResponse, err: unknown): void {
    if (res.headersSent) {
      res.destroy()
      return
    }
    if (err instanceof HttpError) {
      sendJson(res, err.status, { error: { code: err.code, message: err.message } })
      return
    }
    this.log(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    sendJson(res, 500, { error: { code: 'INTERNAL', message: 'local cloud internal error (see its log)' } })
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local')
    const parts = url.pathname.split('/').filter(Boolean)
    // A worker's own endpoint (/admin/i/<live invocation token>) is as good as the access token.
    const invocation = parts[0] === 'admin' && parts[1] === 'i' && this.ledger.record(parts[2]) !== undefined
    checkAccess(req, url.pathname, this.policy, invocation)
    if (ConsoleServer.handles(url.pathname)) {
      await this.consoleServer.route(req, res, url)
      return
    }
    if (parts[0] === 'admin') {
      if (req.method !== 'POST') throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'POST only')
      const token = parts[1] === 'i' ? parts[2] : undefined
      await this.sdkEndpoint(req, res, token)
      return
    }
    if (parts[0] === 'functions' && parts.length === 2) {
      await this.gateway(req, res, decodeSegment(parts[1]!))
      return
    }
    if (parts[0] === 'storage') {
      await this.storageRoute(req, res, url, parts)
      return
    }
    if (parts[0] === '_') {
      await this.inspect(req, res, url, parts.slice(1))
      return
    }
    throw new HttpError(404, 'NOT_FOUND', `No route for ${req.method} ${url.pathname}`)
  }

  /** The cloud's HTTP protocol, as the SDK speaks it. */
  private async sdkEndpoint(req: IncomingMessage, res: ServerResponse, token: string | undefined): Promise<void> {
    const requestId = `local-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
    const contentType = header(req, 'content-type') ?? ''
    if (contentType.startsWith('multipart/form-data')) {
      await this.openApi(req, res, token)
      return
    }
    const raw = await readBody(req, SDK_MAX_BODY)
    let body: Record<string, unknown>
    try {
      body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>
    } catch {
      sendJson(res, 200, { code: 'INVALID_PARAM', message: 'request body is not JSON', requestId })
      return
    }
    const action = typeof body.action === 'string' ? body.action : ''
    try {
      let reply: Record<string, unknown>
      if (DATABASE_ACTIONS.has(action)) {
        const record = this.ledger.count(token, 'db', action.slice('database.'.length))
        reply = handleDatabase(this.store, action, body)
        if (record) record.docsRead += documentsIn(reply)
      } else if (action.startsWith('storage.')) {
        this.ledger.count(token, 'storage', action.slice('storage.'.length))
        reply = this.storage.handle(action, body)
      } else if (action === 'functions.invokeFunction') {
        const parent = this.ledger.count(token, 'invoke', action)
        reply = await this.invokeFromFunction(body, parent)
      } else {
        reply = { code: 'INVALID_PARAM', message: `Unsupported action "${action}"` }
      }
      sendJson(res, 200, { requestId, ...reply })
    } catch (err) {
      if (err instanceof DbError) {
        sendJson(res, 200, { code: err.code, message: err.message, requestId })
        return
      }
      throw err
    }
  }

  /** cloud.callFunction inside a function: runs with the caller's identity, source chained with `scf`. */
  private async invokeFromFunction(body: Record<string, unknown>, parent: InvocationRecord | undefined): Promise<Record<string, unknown>> {
    const name = body.function_name
    if (typeof name !== 'string' || name.length === 0) return { code: 'INVALID_PARAM', message: 'function_name is required' }
    const raw = typeof body.request_data === 'string' ? body.request_data : ''
    if (Buffer.byteLength(raw) > INVOKE_MAX_BODY) return { code: 'INVALID_PARAM', message: 'request_data is over 6 MB' }
    if (jsonDepth(raw) > MAX_EVENT_DEPTH) return { code: 'INVALID_PARAM', message: `request_data nests deeper than ${MAX_EVENT_DEPTH} levels` }
    let event: unknown = {}
    try {
      event = raw ? JSON.parse(raw) : {}
    } catch {
      return { code: 'INVALID_PARAM', message: 'request_data is not JSON' }
    }
    const caller = parent && this.identities.get(parent)
    const identity: Identity = caller ? { ...caller, source: `${caller.source},scf` } : { source: 'wx_unknown' }
    const { outcome, record } = await this.invoke(name, event, identity, parent)
    if (outcome.ok) return { data: { response_data: outcome.json ?? 'null' } }
    if (outcome.code === 'FUNCTION_NOT_FOUND') return { code: 'FUNCTIONS_REQUEST_FAIL', message: `[ResourceNotFound.FunctionName] ${outcome.message}` }
    // wx-server-sdk 4.0.2 surfaces this as errCode -1, so the message carries the cloud's own code.
    const errCode = FAILURE_ERRCODE[outcome.code] ?? -504002
    return {
      code: 'FUNCTIONS_EXECUTE_FAIL',
      message: `cloud function service error code ${errCode}, error message ${outcome.code}: ${outcome.message} (requestId ${record.requestId})`,
    }
  }

  private openApiContext(): OpenApiContext {
    return {
      store: this.store,
      appid: this.appid,
      pages: () => readAppJsonPages(this.options.appJson ?? path.join(ROOT, 'miniprogram/app.json')),
      words: () => this.words,
      now: () => new Date(),
    }
  }

  private async openApi(req: IncomingMessage, res: ServerResponse, token: string | undefined): Promise<void> {
    const fields = new Map<string, Buffer>()
    await new Promise<void>((resolve, reject) => {
      const parser = busboy({ headers: req.headers, defCharset: 'latin1', limits: { fileSize: 10 * 1024 * 1024, fieldSize: 10 * 1024 * 1024 } })
      parser.on('field', (name, value) => fields.set(name, Buffer.from(value, 'latin1')))
      parser.on('file', (name, stream) => {
        const chunks: Buffer[] = []
        stream.on('data', (c: Buffer) => chunks.push(c))
        stream.on('end', () => fields.set(name, Buffer.concat(chunks)))
      })
      parser.on('close', resolve)
      parser.on('error', reject)
      req.pipe(parser)
    })
    const apiName = fields.get('apiName')?.toString('utf8') ?? ''
    const record = this.ledger.count(token, 'openapi', apiName)
    const send = (body: Buffer) => {
      // A success must not be labeled application/json, or the SDK reads it as a platform error.
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length })
      res.end(body)
    }
    const handler = OPENAPI_HANDLERS[apiName]
    if (!handler) {
      send(platformError(OPENAPI_NOT_FOUND).body)
      return
    }
    // Permissions come from the calling function's config.json, as on the cloud.
    const config = record ? this.configs.get(record.fn) : undefined
    if (config && !config.openapi.includes(apiName)) {
      this.log(`  ${config.name}: openapi ${apiName} refused: add it to permissions.openapi in cloudfunctions/${config.name}/config.json`)
      send(platformError(OPENAPI_NO_PERMISSION).body)
      return
    }
    const requestData = fields.get('requestData')
    let params: Record<string, unknown>
    try {
      params = requestData ? decodeRequest(requestData) : {}
    } catch {
      sendJson(res, 200, { code: 'INVALID_PARAM', message: 'requestData is not a valid CommApiData message' })
      return
    }
    send((await handler(this.openApiContext(), params)).body)
  }

  /** Clients call functions here: `POST /functions/<name>`, the caller's openid in `x-wx-openid`. */
  private async gateway(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    if (req.method !== 'POST') throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'Call functions with POST')
    const raw = await readBody(req, GATEWAY_MAX_BODY)
    const depth = jsonDepth(raw.toString('utf8'))
    if (depth > MAX_EVENT_DEPTH) {
      throw new HttpError(400, 'EXCEED_MAX_NESTING', `The request body nests ${depth} levels deep; the limit is ${MAX_EVENT_DEPTH}`)
    }
    let event: unknown
    try {
      event = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'))
    } catch {
      throw new HttpError(400, 'INVALID_JSON', 'The request body is not valid JSON')
    }
    if (typeof event !== 'object' || event === null || Array.isArray(event)) {
      throw new HttpError(400, 'INVALID_EVENT', 'The request body must be a JSON object (the function\'s event)')
    }
    const source = header(req, 'x-wx-source') ?? 'wx_client'
    if (!(CLIENT_SOURCES as readonly string[]).includes(source)) {
      throw new HttpError(403, 'SOURCE_NOT_ALLOWED', `x-wx-source "${source.slice(0, 64)}" is not a client's: callers may say ${CLIENT_SOURCES.join(', ')}; timer calls come from the scheduler only`)
    }
    const identity: Identity = {
      openid: header(req, 'x-wx-openid'),
      appid: header(req, 'x-wx-appid'),
      unionid: header(req, 'x-wx-unionid'),
      clientIp: req.socket.remoteAddress,
      source,
    }
    const { record, outcome } = await this.invoke(name, event, identity)
    const headers = {
      'x-request-id': record.requestId,
      'x-db-roundtrips': String(record.dbTotal),
      'x-db-ops': Object.entries(record.db).map(([k, v]) => `${k}=${v}`).join(','),
      'x-db-docs-read': String(record.docsRead),
      'x-duration-ms': String(record.durationMs ?? 0),
      'x-cold-start': record.coldStart ? '1' : '0',
    }
    if (outcome.ok) {
      const body = `{"result":${outcome.json ?? 'null'},"requestID":${JSON.stringify(record.requestId)}}`
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers })
      res.end(body)
      return
    }
    sendJson(
      res,
      FAILURE_STATUS[outcome.code] ?? 500,
      { error: { code: outcome.code, errCode: FAILURE_ERRCODE[outcome.code] ?? -504002, message: outcome.message }, requestID: record.requestId },
      headers,
    )
  }

  private async storageRoute(req: IncomingMessage, res: ServerResponse, url: URL, parts: string[]): Promise<void> {
    if (parts[1] === 'upload' && req.method === 'PUT') {
      try {
        await this.upload(req, url)
      } catch (err) {
        if (!(err instanceof HttpError)) throw err
        // The SDK reads upload failures as COS does: an XML <Error> body.
        const xml = (text: string) => text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`)
        const body = `<?xml version='1.0' encoding='utf-8' ?>\n<Error><Code>${err.code}</Code><Message>${xml(err.message)}</Message><RequestId>local</RequestId><TraceId>local</TraceId></Error>`
        res.writeHead(err.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) })
        res.end(body)
        return
      }
      res.writeHead(200, { 'content-length': 0 })
      res.end()
      return
    }
    if (parts[1] === 'client-upload' && req.method === 'POST') {
      sendJson(res, 200, { fileID: await this.clientUpload(req) })
      return
    }
    if (parts[1] === 'client-temp-url' && req.method === 'POST') {
      sendJson(res, 200, await this.clientTempUrls(req))
      return
    }
    if (parts[1] === 'file' && (req.method === 'GET' || req.method === 'HEAD')) {
      const once = parts.slice(2).map(decodeSegment).join('/')
      const expires = Number(url.searchParams.get('t'))
      // The SDK's downloadFile passes the temporary URL through encodeURI, escaping our escapes a
      // second time: the path the signature was made for is either the once or the twice decoded one.
      const signed = [once, decodeOrKeep(once)].find((p) => this.storage.verify(`get:${p}:${expires}`, url.searchParams.get('sign')))
      if (signed === undefined) throw new HttpError(403, 'SIGNATURE_DOES_NOT_MATCH', 'Signature does not match')
      const cloudPath = storagePath(signed)
      if (!(expires * 1000 > Date.now())) throw new HttpError(403, 'REQUEST_EXPIRED', 'This temporary URL has expired')
      if (!this.storage.exists(cloudPath)) throw new HttpError(404, 'NO_SUCH_KEY', 'The file does not exist')
      const file = this.storage.diskPath(cloudPath)
      res.writeHead(200, {
        'content-type': mime.lookup(file) || 'application/octet-stream',
        'content-length': statSync(file).size,
      })
      if (req.method === 'HEAD') {
        res.end()
        return
      }
      await pipeline(createReadStream(file), res)
      return
    }
    throw new HttpError(404, 'NOT_FOUND', 'No such storage route')
  }

  /** The openid that uploaded a file from a client; '' for a file written through the server SDK (or unknown). */
  private ownerOf(cloudPath: string): string {
    const doc = this.store.find(STORAGE_FILES, { query: { _id: cloudPath }, limit: 1 })[0]
    return typeof doc?.openid === 'string' ? doc.openid : ''
  }

  private setOwner(cloudPath: string, openid: string): void {
    this.store.modify(STORAGE_FILES, { query: { _id: cloudPath }, data: { $set: { openid } }, multi: false, merge: true, upsert: true })
  }

  /**
   * Whether the manifest's storage rule lets a client (`openid`, or none) read or write a file: the
   * file's owner is its uploader, or the caller for a file being created, as on the cloud.
   */
  private clientMay(op: 'read' | 'write', openid: string | undefined, cloudPath: string): boolean {
    const owner = this.storage.exists(cloudPath) ? this.ownerOf(cloudPath) : op === 'write' ? (openid ?? '') : ''
    return allows(storageRule, op, { auth: openid ? { openid } : null, resource: { openid: owner, path: cloudPath } })
  }

  /**
   * What `wx.cloud.getTempFileURL` does for a device (local mode): `{ fileList: [fileID...] }`, the
   * caller in `x-wx-openid`; each file the storage rule lets the caller read gets a temporary URL.
   */
  private async clientTempUrls(req: IncomingMessage): Promise<{ fileList: Record<string, unknown>[] }> {
    const openid = header(req, 'x-wx-openid')
    let body: { fileList?: unknown }
    try {
      body = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8')) as { fileList?: unknown }
    } catch {
      throw new HttpError(400, 'INVALID_JSON', 'The request body is not valid JSON')
    }
    const list = body?.fileList
    if (!Array.isArray(list) || list.length === 0 || list.length > 50 || !list.every((id) => typeof id === 'string')) {
      throw new HttpError(400, 'INVALID_REQUEST', 'Send { fileList: [fileID, ...] } with 1-50 file IDs')
    }
    return {
      fileList: (list as string[]).map((fileID) => {
        const cloudPath = this.storage.pathOf(fileID)
        if (!cloudPath || !this.storage.exists(cloudPath)) return { fileID, tempFileURL: '', status: -1, errMsg: 'STORAGE_FILE_NONEXIST' }
        if (!this.clientMay('read', openid, cloudPath)) return { fileID, tempFileURL: '', status: -1, errMsg: 'STORAGE_PERMISSION_DENIED' }
        return { fileID, tempFileURL: this.storage.tempUrl(cloudPath), status: 0, errMsg: 'ok' }
      }),
    }
  }

  /**
   * What `wx.cloud.uploadFile` does for a device, over plain HTTP (`wx.uploadFile` in local mode): a
   * multipart form with `cloudPath` and the file in `file`. The caller is identified as the gateway
   * does (`x-wx-openid`); the reply carries a `cloud://` file ID like the SDK's.
   */
  private async clientUpload(req: IncomingMessage): Promise<string> {
    const openid = header(req, 'x-wx-openid')
    if (!openid) throw new HttpError(401, 'UNAUTHENTICATED', 'Uploads need a user (x-wx-openid)')
    if (!(header(req, 'content-type') ?? '').startsWith('multipart/form-data')) {
      throw new HttpError(400, 'INVALID_REQUEST', 'Send multipart/form-data with `cloudPath` and the file in `file`')
    }
    let cloudPath: string | undefined
    let partial: string | undefined
    let written: Promise<void> | undefined
    let truncated = false
    const tooLarge = new HttpError(413, 'EntityTooLarge', `The file is over the limit of ${MAX_UPLOAD_BYTES} bytes`)
    try {
      await new Promise<void>((resolve, reject) => {
        const parser = busboy({ headers: req.headers, limits: { files: 1, fileSize: MAX_UPLOAD_BYTES, fieldSize: 4096 } })
        parser.on('field', (name, value) => {
          if (name === 'cloudPath') cloudPath = value
        })
        parser.on('file', (name, stream) => {
          // wx.uploadFile sends its formData before the file, so the path is known by now.
          if (name !== 'file' || cloudPath === undefined) {
            stream.resume()
            return
          }
          let target: string
          try {
            target = this.storage.diskPath(storagePath(cloudPath))
            if (!this.clientMay('write', openid, cloudPath)) {
              throw new HttpError(403, 'STORAGE_PERMISSION_DENIED', `The storage rule does not let ${openid} write ${cloudPath} (cloudfunctions/_shared/collections.ts storageRule)`)
            }
          } catch (err) {
            stream.resume()
            reject(err)
            return
          }
          this.storage.ensureDir(cloudPath)
          partial = `${target}.uploading-${process.pid}-${Date.now()}`
          stream.on('limit', () => void (truncated = true))
          written = pipeline(stream, createWriteStream(partial))
        })
        parser.on('close', resolve)
        parser.on('error', reject)
        req.pipe(parser)
      })
      if (!written || cloudPath === undefined || !partial) throw new HttpError(400, 'INVALID_REQUEST', 'Expected `cloudPath`, then the file in `file`')
      await written
      if (truncated) throw tooLarge
      await rename(partial, this.storage.diskPath(cloudPath))
      partial = undefined
      this.setOwner(cloudPath, openid)
    } finally {
      if (partial) await unlink(partial).catch(() => undefined)
    }
    this.log(`${new Date().toTimeString().slice(0, 8)} storage upload ${cloudPath} openid=${shortId(openid)}`)
    return this.storage.fileId(cloudPath)
  }

  private async upload(req: IncomingMessage, url: URL): Promise<void> {
    const cloudPath = storagePath(url.searchParams.get('path'))
    if (!this.storage.verify(`put:${cloudPath}`, url.searchParams.get('sig'))) {
      throw new HttpError(403, 'SignatureDoesNotMatch', 'Upload signature does not match')
    }
    const tooLarge = new HttpError(413, 'EntityTooLarge', `The file is over the limit of ${MAX_UPLOAD_BYTES} bytes`)
    const declared = Number(req.headers['content-length'])
    if (Number.isFinite(declared) && declared > MAX_UPLOAD_BYTES) throw tooLarge
    this.storage.ensureDir(cloudPath)
    const target = this.storage.diskPath(cloudPath)
    const partial = `${target}.uploading-${process.pid}-${Date.now()}`
    // Chunked uploads declare no length: count while writing, and drop the excess (instead of
    // failing the stream) so the body is still read to its end and the reply reaches the client.
    let size = 0
    const limit = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length
        done(null, size > MAX_UPLOAD_BYTES ? undefined : chunk)
      },
    })
    try {
      await pipeline(req, limit, createWriteStream(partial))
      if (size > MAX_UPLOAD_BYTES) throw tooLarge
      await rename(partial, target)
      // Written through the server SDK: no client owns it.
      this.setOwner(cloudPath, '')
    } catch (err) {
      await unlink(partial).catch(() => undefined)
      throw err
    }
  }

  private async inspect(req: IncomingMessage, res: ServerResponse, url: URL, parts: string[]): Promise<void> {
    const [what, a, b] = parts
    if (req.method === 'GET' && what === 'health') {
      sendJson(res, 200, { ok: true, env: this.env, functions: [...this.configs.keys()] })
      return
    }
    if (req.method === 'GET' && what === 'stats') {
      sendJson(res, 200, { functions: this.ledger.summary(), external: this.ledger.external, openTransactions: this.store.openTransactions() })
      return
    }
    if (req.method === 'GET' && what === 'invocations') {
      const limit = Math.min(Number(url.searchParams.get('limit') ?? 100) || 100, 2000)
      sendJson(res, 200, { invocations: this.ledger.recentInvocations(limit, url.searchParams.get('fn') ?? undefined) })
      return
    }
    if (req.method === 'POST' && what === 'triggers' && a && b) {
      const { record, outcome } = await this.fireTrigger(a, b)
      sendJson(res, outcome.ok ? 200 : (FAILURE_STATUS[outcome.code] ?? 500), {
        requestID: record.requestId,
        ...(outcome.ok ? { result: outcome.json ? (JSON.parse(outcome.json) as unknown) : null } : { error: { code: outcome.code, message: outcome.message } }),
      })
      return
    }
    if (req.method === 'POST' && what === 'recycle' && a) {
      // Replaces the function's workers, so the next call is a cold start (used by bench:cloud).
      const pool = this.pools.get(a)
      if (!pool) throw new HttpError(404, 'FUNCTION_NOT_FOUND', `No function "${a}"`)
      pool.recycle()
      sendJson(res, 200, { recycled: a })
      return
    }
    throw new HttpError(404, 'NOT_FOUND', 'No such inspection route')
  }

  async close(): Promise<void> {
    for (const cron of this.crons) cron.stop()
    await this.stopWatching?.()
    for (const pool of this.pools.values()) pool.close()
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
    this.store.close()
    this.releaseLock?.()
  }
}
