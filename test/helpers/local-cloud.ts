/**
 * Starts a real local cloud for one test file: its own port, its own temporary data directory,
 * the real worker pools. Tests talk to it over HTTP (the gateway) or through the unmodified
 * wx-server-sdk, exactly as functions and scripts do.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { LocalCloud, type LocalCloudOptions } from '../../tools/local-cloud/cloud'
import { seedDemo } from '../../tools/local-cloud/seed'
import { TEST_TIMEOUT_SCALE } from './timeouts'

export const FIXTURE_FUNCTIONS = path.resolve(__dirname, '../fixtures/cloudfunctions')

export interface TestCloud {
  cloud: LocalCloud
  url: string
  logs: string[]
  dataDir: string
  stop(): Promise<void>
}

export async function startCloud(options: LocalCloudOptions & { seed?: boolean } = {}): Promise<TestCloud> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'local-cloud-test-'))
  const logs: string[] = []
  const cloud = await LocalCloud.start({ port: 0, timers: false, maxWorkers: 2, timeoutScale: TEST_TIMEOUT_SCALE, ...options, dataDir, log: (line) => logs.push(line) })
  if (options.seed) seedDemo(cloud.store)
  return {
    cloud,
    url: cloud.url,
    logs,
    dataDir,
    async stop() {
      await cloud.close()
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export interface GatewayReply<T = unknown> {
  status: number
  headers: Headers
  body: T
}

/** Calls a function through the gateway as a client would. */
export async function callGateway<T = unknown>(
  url: string,
  fn: string,
  event: unknown,
  init: { openid?: string; headers?: Record<string, string>; rawBody?: string } = {},
): Promise<GatewayReply<T>> {
  const res = await fetch(`${url}/functions/${fn}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(init.openid ? { 'x-wx-openid': init.openid } : {}),
      ...init.headers,
    },
    body: init.rawBody ?? JSON.stringify(event),
  })
  const text = await res.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {
    // leave as text
  }
  return { status: res.status, headers: res.headers, body: body as T }
}

/** `result` of a routed function call: `{ ok: true, data }` or `{ ok: false, error }`. */
export async function callAction<T = unknown>(
  url: string,
  fn: string,
  action: string,
  data: unknown,
  openid?: string,
): Promise<{ ok: true; data: T } | { ok: false; error: { code: string; message: string; issues?: { path: string; message: string }[] } }> {
  const reply = await callGateway<{ result: never }>(url, fn, { action, data }, { openid })
  if (reply.status !== 200) throw new Error(`gateway returned ${reply.status}: ${JSON.stringify(reply.body)}`)
  return reply.body.result
}

/** Points this process's wx-server-sdk at the cloud (set before requiring the SDK). */
export function useSdkAgainst(cloud: LocalCloud, identity: { openid?: string } = {}): void {
  Object.assign(process.env, cloud.sdkEnv())
  if (identity.openid) {
    process.env.WX_CONTEXT_KEYS = 'WX_OPENID,WX_APPID'
    process.env.WX_OPENID = identity.openid
    process.env.WX_APPID = cloud.appid
  }
}

type Sdk = typeof import('wx-server-sdk')

/** Points this process's wx-server-sdk at the cloud and returns it, initialized. */
export function connectSdk(cloud: LocalCloud, identity: { openid?: string } = {}): Sdk {
  useSdkAgainst(cloud, identity)
  const sdk = require('wx-server-sdk') as Sdk
  sdk.init({ env: sdk.DYNAMIC_CURRENT_ENV as never })
  return sdk
}

/** What the SDK rejects with. */
export interface SdkError {
  errCode?: number
  errMsg?: string
  code?: string
  message?: string
}

/** The rejection of a call that must fail (the test fails if it resolves). */
export async function rejection(promise: unknown): Promise<SdkError> {
  try {
    await promise
  } catch (err) {
    return err as SdkError
  }
  throw new Error('expected the call to fail, it succeeded')
}
