/** The console API (tools/local-cloud/console/server.ts), typed as the pages use it. */
import type { TimerRun } from '../types'

export type { TimerRun }

export interface Issue {
  path: string
  message: string
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: Issue[] = [],
  ) {
    super(message)
  }
}

/** Every write is JSON from this page: the server refuses anything else (CSRF). */
export async function api<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', route: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method }
  if (method !== 'GET') {
    init.headers = { 'content-type': 'application/json' }
    init.body = JSON.stringify(body ?? {})
  }
  const res = await fetch(`/console/api/${route}`, init)
  const json = (await res.json()) as unknown
  if (!res.ok) {
    const error = (json as { error?: { code: string; message: string; issues?: Issue[] } }).error
    throw new ApiError(res.status, error?.code ?? 'HTTP_ERROR', error?.message ?? `HTTP ${res.status}`, error?.issues ?? [])
  }
  return json as T
}

export const enc = encodeURIComponent

export interface Invocation {
  requestId: string
  fn: string
  action: string | null
  source: string
  openid: string | null
  startedAt: string
  durationMs: number | null
  coldStart: boolean
  outcome: string
  dbTotal: number
  db: Record<string, number>
  docsRead: number
  openapi: Record<string, number>
  invokes: number
}

export interface FunctionInfo {
  name: string
  timeoutMs: number
  memoryMb: number
  openapi: string[]
  triggers: { name: string; cron: string }[]
  workers: { running: number; max: number }
  stats: { invocations: number; errors: number; coldStarts: number; p50Ms: number; p99Ms: number; dbPerInvocation: number } | null
}

export interface Overview {
  env: string
  appid: string
  url: string
  dataDir: string
  timersRunning: boolean
  functions: FunctionInfo[]
}

export interface CollectionInfo {
  name: string
  count: number
  indexes: { name: string; keys: Record<string, number>; unique: boolean }[]
  description: string | null
  inManifest: boolean
  editor: boolean
}

export type Json = Record<string, unknown>

export interface QueryResult {
  total: number
  skip: number
  limit: number
  docs: Json[]
}

export interface ConfigEntry {
  collection: string
  id: string
  title: string
  readBy: string
  pickup: string
  stored: boolean
  doc: Json | null
  issues: Issue[]
}

export interface Validation {
  valid: boolean
  issues: Issue[]
  pickup: string | null
}

export interface StoredFile {
  path: string
  folder: string
  size: number
  modifiedAt: string
  contentType: string
  fileId: string
  url: string
}

export interface Message {
  id: string
  touser: string
  templateId: string
  template: string | null
  title: string | null
  fields: { key: string; label: string; value: string }[]
  page: string
  fullPage: string
  miniprogramState: string
  sentAt: string | null
  log: Json | null
  quota: { quota: number; last: unknown } | null
}


export interface TimerInfo {
  fn: string
  name: string
  cron: string
  nextRun: string | null
  last: TimerRun | null
}

/** "2026-12-07 21:30:05" in the viewer's time zone. */
export function formatTime(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '-'
  const d = new Date(value)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** Pretty JSON for an editor. */
export const pretty = (value: unknown) => JSON.stringify(value, null, 2)

/** Parses an editor's text; a syntax error becomes an issue at the document's root. */
export function parseJson(text: string): { value: unknown; issue: Issue | null } {
  try {
    return { value: JSON.parse(text) as unknown, issue: null }
  } catch (err) {
    return { value: undefined, issue: { path: '', message: `不是有效的 JSON：${(err as Error).message}` } }
  }
}
