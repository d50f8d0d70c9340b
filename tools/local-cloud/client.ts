/**
 * What scripts outside the local cloud (benchmarks, data generators) use to reach one over HTTP:
 * start one as a child process, find a running one, call functions through the gateway as a
 * given caller, and read the database through the SDK endpoint (`/admin`, the cloud's own protocol)
 * the way an unmodified wx-server-sdk would.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { ROOT } from '../paths'
import { DEFAULT_PORT } from './port'
import { LOCK_FILE } from './preflight'

/**
 * Removes a local cloud's temporary data folder once the cloud has let go of it: its lock file goes
 * last, after the database is closed (tsx's wrapper may exit before the cloud's own process does).
 */
async function removeWhenReleased(dataDir: string): Promise<void> {
  for (let waited = 0; waited < 5000 && existsSync(path.join(dataDir, LOCK_FILE)); waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 })
}

/** Where `npm start` listens unless told otherwise (`--port`, or LOCAL_CLOUD_PORT). */
export function defaultCloudUrl(): string {
  return `http://127.0.0.1:${process.env.LOCAL_CLOUD_PORT ?? DEFAULT_PORT}`
}

export interface CloudProcess {
  url: string
  proc: ChildProcess
  dataDir: string
  /** Off loopback: the token callers from other machines send (x-local-cloud-token). */
  accessToken?: string
  /** The last of what it printed to stderr (its log, warnings). */
  stderr(): string
  stop(): Promise<void>
}

/** Starts `npm start`'s CLI on a free port with a temporary data directory (removed by stop()). */
export async function startCloudProcess(options: { workers?: number; prefix?: string; seed?: boolean; host?: string; timeoutScale?: number } = {}): Promise<CloudProcess> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), options.prefix ?? 'local-cloud-'))
  const args = ['tools/local-cloud/cli.ts', '--port', '0', '--data', dataDir, '--json', '--no-watch', '--no-timers', '--workers', String(options.workers ?? 2)]
  if (options.host) args.push('--host', options.host)
  if (!options.seed) args.push('--no-seed')
  // Scripts and tests configure subscription templates themselves (or test them unconfigured).
  args.push('--no-template-ids')
  if (options.timeoutScale) args.push('--timeout-scale', String(options.timeoutScale))
  // Its own process group: a Ctrl-C in the terminal reaches the script, which stops the cloud in
  // order (and removes its data), instead of both racing to exit.
  const proc = spawn(process.execPath, [createRequire(__filename).resolve('tsx/cli'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  // The last of what it printed to stderr, to say why it did not start.
  let stderr = ''
  proc.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)))
  const { url, accessToken } = await new Promise<{ url: string; accessToken?: string }>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line.startsWith('{')) {
        const msg = JSON.parse(line) as { event?: string; url?: string; accessToken?: string }
        if (msg.event === 'ready' && msg.url) resolve({ url: msg.url, ...(msg.accessToken ? { accessToken: msg.accessToken } : {}) })
      }
    })
    proc.once('exit', (code) => {
      void removeWhenReleased(dataDir).finally(() => reject(new Error(`local cloud exited with ${String(code)}: ${stderr}`)))
    })
  })
  return {
    url,
    proc,
    dataDir,
    ...(accessToken ? { accessToken } : {}),
    stderr: () => stderr,
    stop: async () => {
      if (proc.exitCode === null) {
        const exited = new Promise((resolve) => proc.once('exit', resolve))
        proc.kill('SIGTERM')
        await exited
      }
      await removeWhenReleased(dataDir)
    },
  }
}

/** `{ ok, data | error }`, what a routed function returns. */
export type ActionResult<T> = { ok: true; data: T } | { ok: false; error: { code: string; message: string } }

/** Calls a function's action through the gateway as `openid` (the platform sets the caller, not the payload). */
export async function callAction<T>(url: string, fn: string, action: string, data: unknown, openid: string): Promise<ActionResult<T>> {
  const res = await fetch(`${url}/functions/${fn}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-wx-openid': openid },
    body: JSON.stringify({ action, data }),
  })
  const body = (await res.json()) as { result?: ActionResult<T>; error?: { message?: string } }
  if (res.status !== 200 || !body.result) throw new Error(`${fn}.${action}: HTTP ${res.status} ${body.error?.message ?? ''}`)
  return body.result
}

type Doc = Record<string, unknown>

/**
 * The database as the SDK reaches it (`POST /admin`, queries as JSON strings). For scripts only:
 * the mini-program never reads the database, it calls functions.
 */
export class CloudDatabase {
  constructor(readonly url: string) {}

  private async send<T>(body: Doc): Promise<T> {
    const res = await fetch(`${this.url}/admin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const reply = (await res.json()) as { code?: string; message?: string; data?: T }
    if (reply.code || reply.data === undefined) throw new Error(`${String(body.action)} on ${String(body.collectionName)}: ${reply.code ?? res.status} ${reply.message ?? ''}`)
    return reply.data
  }

  /** At most 1000 documents (the cloud's cap per read): page with `offset`, or by `_id` with `$in`. */
  async find<T extends Doc = Doc>(collection: string, query: Doc, options: { limit?: number; offset?: number; projection?: Doc } = {}): Promise<T[]> {
    const data = await this.send<{ list: string[] }>({
      action: 'database.getDocument',
      collectionName: collection,
      queryType: 'WHERE',
      query: JSON.stringify(query),
      limit: options.limit ?? 1000,
      offset: options.offset ?? 0,
      ...(options.projection ? { projection: JSON.stringify(options.projection) } : {}),
    })
    return data.list.map((item) => JSON.parse(item) as T)
  }

  async get<T extends Doc = Doc>(collection: string, id: string): Promise<T | undefined> {
    return (await this.find<T>(collection, { _id: id }, { limit: 1 }))[0]
  }

  async count(collection: string, query: Doc = {}): Promise<number> {
    return (await this.send<{ total: number }>({ action: 'database.calculateDocument', collectionName: collection, query: JSON.stringify(query) })).total
  }

  async insert(collection: string, docs: Doc[]): Promise<string[]> {
    const data = await this.send<{ insertedIds: string[] }>({ action: 'database.insertDocument', collectionName: collection, data: docs.map((d) => JSON.stringify(d)) })
    return data.insertedIds
  }

  /** `$set`-style update of the documents matching `query` (all of them). */
  async update(collection: string, query: Doc, data: Doc): Promise<number> {
    const reply = await this.send<{ updated: number }>({
      action: 'database.modifyDocument',
      collectionName: collection,
      query: JSON.stringify(query),
      data: JSON.stringify({ $set: data }),
      multi: true,
    })
    return reply.updated
  }

  /** Every `_id` in a collection, paged (what was stored, for loss and duplication checks). */
  async ids(collection: string, query: Doc = {}): Promise<string[]> {
    const ids: string[] = []
    for (let offset = 0; ; offset += 1000) {
      const page = await this.find<{ _id: string }>(collection, query, { offset, projection: { _id: 1 } })
      ids.push(...page.map((d) => d._id))
      if (page.length < 1000) return ids
    }
  }
}
