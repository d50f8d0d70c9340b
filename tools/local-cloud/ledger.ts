/**
 * Counts what each invocation costs: database round trips by kind, open API and storage calls,
 * nested function calls. On WeChat Cloud every one of these is billed and costs a network round
 * trip, so these counts are the starter's cost metric. Each invocation gets a token that is part of
 * the SDK endpoint URL its worker uses, which is how calls are attributed to it.
 */
import { randomBytes } from 'node:crypto'
import type { FailureCode } from './functions/pool'

export type CallKind = 'db' | 'openapi' | 'storage' | 'invoke'

export interface InvocationRecord {
  requestId: string
  fn: string
  action?: string
  source: string
  openid?: string
  parentId?: string
  startedAt: number
  durationMs?: number
  coldStart?: boolean
  /** Process start + function load time of a cold start. */
  startMs?: number
  outcome?: 'ok' | FailureCode | 'FUNCTION_NOT_FOUND'
  /** Database round trips by action (`getDocument`, `modifyDocument`...). */
  db: Record<string, number>
  dbTotal: number
  /** Documents the database returned to the function (queried, aggregated rows, fetched by id). */
  docsRead: number
  /** The worker's peak V8 heap and resident memory during the call (MB), sampled. */
  peakHeapMb?: number
  peakRssMb?: number
  openapi: Record<string, number>
  storage: Record<string, number>
  invokes: number
  /** SDK calls made after the function had returned (lost on the cloud: the instance is frozen). */
  lateCalls: number
}

export interface FunctionSummary {
  invocations: number
  errors: number
  coldStarts: number
  avgMs: number
  p50Ms: number
  p99Ms: number
  dbRoundTrips: number
  dbPerInvocation: number
}

const RECENT = 2000

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

export class Ledger {
  private readonly byToken = new Map<string, InvocationRecord>()
  private readonly tokenOrder: string[] = []
  private readonly recent: InvocationRecord[] = []
  /** Calls that came without an invocation token (scripts pointed at the local cloud). */
  readonly external: Pick<InvocationRecord, 'db' | 'dbTotal' | 'openapi' | 'storage' | 'invokes'> = {
    db: {},
    dbTotal: 0,
    openapi: {},
    storage: {},
    invokes: 0,
  }

  begin(init: Pick<InvocationRecord, 'fn' | 'source' | 'action' | 'openid' | 'parentId'>): { token: string; record: InvocationRecord } {
    const token = randomBytes(12).toString('hex')
    const record: InvocationRecord = {
      ...init,
      requestId: randomBytes(16).toString('hex'),
      startedAt: Date.now(),
      db: {},
      dbTotal: 0,
      docsRead: 0,
      openapi: {},
      storage: {},
      invokes: 0,
      lateCalls: 0,
    }
    this.byToken.set(token, record)
    this.tokenOrder.push(token)
    // Keep tokens of finished invocations for a while so late calls are still attributed.
    while (this.tokenOrder.length > RECENT * 2) this.byToken.delete(this.tokenOrder.shift()!)
    return { token, record }
  }

  end(record: InvocationRecord, outcome: InvocationRecord['outcome'], extra: Pick<InvocationRecord, 'coldStart' | 'startMs' | 'peakHeapMb' | 'peakRssMb'>): void {
    record.durationMs = Date.now() - record.startedAt
    record.outcome = outcome
    Object.assign(record, extra)
    this.recent.push(record)
    if (this.recent.length > RECENT) this.recent.shift()
  }

  record(token: string | undefined): InvocationRecord | undefined {
    return token ? this.byToken.get(token) : undefined
  }

  count(token: string | undefined, kind: CallKind, action: string): InvocationRecord | undefined {
    const record = this.record(token)
    const target = record ?? this.external
    if (record && record.outcome !== undefined) record.lateCalls++
    switch (kind) {
      case 'db':
        target.db[action] = (target.db[action] ?? 0) + 1
        target.dbTotal++
        break
      case 'openapi':
        target.openapi[action] = (target.openapi[action] ?? 0) + 1
        break
      case 'storage':
        target.storage[action] = (target.storage[action] ?? 0) + 1
        break
      case 'invoke':
        target.invokes++
        break
    }
    return record
  }

  recentInvocations(limit = 100, fn?: string): InvocationRecord[] {
    const list = fn ? this.recent.filter((r) => r.fn === fn) : this.recent
    return list.slice(-limit).reverse()
  }

  summary(): Record<string, FunctionSummary> {
    const groups = new Map<string, InvocationRecord[]>()
    for (const record of this.recent) groups.set(record.fn, [...(groups.get(record.fn) ?? []), record])
    const out: Record<string, FunctionSummary> = {}
    for (const [fn, records] of groups) {
      const durations = records.map((r) => r.durationMs ?? 0).sort((a, b) => a - b)
      const db = records.reduce((n, r) => n + r.dbTotal, 0)
      out[fn] = {
        invocations: records.length,
        errors: records.filter((r) => r.outcome !== 'ok').length,
        coldStarts: records.filter((r) => r.coldStart).length,
        avgMs: Math.round((durations.reduce((a, b) => a + b, 0) / durations.length) * 10) / 10,
        p50Ms: percentile(durations, 50),
        p99Ms: percentile(durations, 99),
        dbRoundTrips: db,
        dbPerInvocation: Math.round((db / records.length) * 100) / 100,
      }
    }
    return out
  }
}
