/**
 * The event export for warehouses: a day's events as gzipped NDJSON in cloud storage, in the
 * partitioned layout ClickHouse, BigQuery and DuckDB load directly:
 *
 *   exports/events/day=YYYY-MM-DD/part-00000.ndjson.gz, part-00001…  (EXPORT_PART_ROWS events each)
 *   exports/events/day=YYYY-MM-DD/manifest.json                     (written last: the day is complete)
 *
 * Rows are in (ts, id) order, one JSON object per line with the columns of EXPORT_COLUMNS. Reads go
 * through the events' (day, ts) index in time windows that adapt so no read is cut short; a part is
 * written whole by one invocation, and where the export of a day stands is kept in `metrics_state`
 * (`export:<day>`), so a run stopped by its budget resumes. The same events give the same bytes
 * (gzip without a timestamp), so exporting a day again is idempotent; a day that received late
 * events is exported again whole.
 */
import { gzipSync } from 'node:zlib'
import { collection, command, deleteFiles, uploadFile } from '../_shared/cloud'
import type { EventDoc } from '../_shared/models'
import { addDays, dayStart } from '../_shared/time'
import { nextSpan } from './facts'

export const EXPORT_SCHEMA_VERSION = 1

/** The columns of an exported row: name, type in SQL terms, meaning. docs/metrics.md lists them too. */
export const EXPORT_COLUMNS = [
  ['id', 'VARCHAR', 'the event id, a UUIDv7 made on the device (unique)'],
  ['name', 'VARCHAR', 'event name from the tracking plan'],
  ['ts', 'TIMESTAMP', 'device time of the event, UTC, ISO 8601 with milliseconds'],
  ['day', 'DATE', 'Asia/Shanghai calendar day of ts (the partition)'],
  ['received_at', 'TIMESTAMP', 'when the cloud received it, UTC'],
  ['openid', 'VARCHAR', 'the user (OPENID)'],
  ['anonymous_id', 'VARCHAR', 'the device (anonymous id)'],
  ['session_id', 'VARCHAR', 'the session'],
  ['page', 'VARCHAR', 'page route on screen'],
  ['props', 'JSON', "the event's properties (per event name: cloudfunctions/track/plan.ts)"],
] as const

export function exportPartRows(): number {
  const configured = Number(process.env.EXPORT_PART_ROWS)
  return Number.isInteger(configured) && configured > 0 ? configured : 100_000
}

const READ_LIMIT = 1000

export const exportPrefix = (day: string) => `exports/events/day=${day}`
const partPath = (day: string, index: number) => `${exportPrefix(day)}/part-${String(index).padStart(5, '0')}.ndjson.gz`

export interface ExportPart {
  path: string
  fileId: string
  rows: number
  bytes: number
}

export interface ExportManifest {
  schemaVersion: number
  day: string
  rows: number
  bytes: number
  parts: ExportPart[]
  columns: { name: string; type: string; description: string }[]
  exportedAt: string
}

interface ExportState {
  /** The next read starts at this instant (ms) and spans this many ms. */
  from: number
  span: number
  parts: ExportPart[]
  /** Fold mark of the day when this export started (a later mark: export again). */
  seq: number
  /** The last finished export: its mark and its files. */
  done: { seq: number; parts: ExportPart[]; manifestId: string } | null
}

export function exportRow(e: EventDoc): string {
  return JSON.stringify({
    id: e._id,
    name: e.name,
    ts: new Date(e.ts).toISOString(),
    day: e.day,
    received_at: new Date(e.receivedAt).toISOString(),
    openid: e.openid,
    anonymous_id: e.anonymousId,
    session_id: e.sessionId,
    page: e.page,
    props: e.props ?? {},
  })
}

async function loadState(day: string, seq: number): Promise<ExportState> {
  const doc = (await collection('metrics_state').get(`export:${day}`)) as Partial<ExportState> | null
  const done = doc?.done ?? null
  if (doc && doc.from !== undefined && doc.seq === seq) return { from: doc.from, span: doc.span!, parts: doc.parts ?? [], seq, done }
  return { from: dayStart(day).getTime(), span: 86_400_000, parts: [], seq, done }
}

async function saveState(day: string, state: ExportState): Promise<void> {
  await collection('metrics_state').set(`export:${day}`, { ...state })
}

/** The fold mark a day's last finished export saw (-1: never exported). */
export async function exportedSeq(day: string): Promise<number> {
  const doc = (await collection('metrics_state').get(`export:${day}`)) as Partial<ExportState> | null
  return doc?.done?.seq ?? -1
}

/**
 * Exports one day (resuming a stopped export) until `deadline`; returns the manifest when the day
 * is complete, null when the budget ran out first. `seq` is the day's fold mark now.
 */
export async function exportDay(day: string, seq: number, now: Date, deadline: number): Promise<ExportManifest | null> {
  const state = await loadState(day, seq)
  const end = dayStart(addDays(day, 1)).getTime()
  const limit = exportPartRows()
  const _ = command()
  let lines: string[] = []
  let parts = 0
  const flush = async () => {
    const index = state.parts.length
    const body = gzipSync(Buffer.from(lines.length > 0 ? `${lines.join('\n')}\n` : ''), { level: 6 })
    const path = partPath(day, index)
    const fileId = await uploadFile(path, body)
    state.parts.push({ path, fileId, rows: lines.length, bytes: body.length })
    lines = []
    parts++
    await saveState(day, state)
  }
  while (state.from < end) {
    // A part is written whole by one invocation: start a new one only within the budget.
    if (lines.length === 0 && parts > 0 && Date.now() > deadline) return null
    const to = Math.min(state.from + state.span, end)
    const found = await collection('events').find({ day, ts: _.gte(new Date(state.from)).and(_.lt(new Date(to))) }, { limit: READ_LIMIT })
    // A window must fit in one read (else narrow it and read again) and in what is left of the part
    // (else the part is written first).
    if (found.length >= READ_LIMIT && state.span > 1) {
      state.span = Math.ceil(state.span / 4)
      continue
    }
    if (lines.length + found.length > limit && (lines.length > 0 || state.span > 1)) {
      if (lines.length > 0) await flush()
      else state.span = Math.ceil(state.span / 2)
      continue
    }
    found.sort((a, b) => new Date(a.ts).getTime() - new Date(b.ts).getTime() || (a._id < b._id ? -1 : a._id > b._id ? 1 : 0))
    for (const e of found) lines.push(exportRow(e))
    state.from = to
    state.span = nextSpan(state.span, found.length, READ_LIMIT, 86_400_000)
  }
  if (lines.length > 0 || state.parts.length === 0) await flush()
  const manifest: ExportManifest = {
    schemaVersion: EXPORT_SCHEMA_VERSION,
    day,
    rows: state.parts.reduce((n, p) => n + p.rows, 0),
    bytes: state.parts.reduce((n, p) => n + p.bytes, 0),
    parts: state.parts,
    columns: EXPORT_COLUMNS.map(([name, type, description]) => ({ name, type, description })),
    exportedAt: now.toISOString(),
  }
  const manifestId = await uploadFile(`${exportPrefix(day)}/manifest.json`, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`))
  // A previous export with more parts: its extra files are no longer part of the day.
  const stale = (state.done?.parts ?? []).filter((p) => !state.parts.some((q) => q.path === p.path)).map((p) => p.fileId)
  if (stale.length > 0) await deleteFiles(stale)
  await collection('metrics_state').set(`export:${day}`, { done: { seq, parts: state.parts, manifestId } })
  return manifest
}
