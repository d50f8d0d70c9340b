/** Per-event validation against the tracking plan: one bad event never costs the others. */
import type { Rejection } from './api'
import { envelopeSchema, isEventName, trackingPlan, type TrackedEvent } from './plan'

/** Properties larger than this (as UTF-8 JSON) are refused: events are counters, not payloads. */
export const MAX_PROPS_BYTES = 2048
/** Device clocks drift, but not by this much. */
export const MAX_FUTURE_MS = 10 * 60_000
/** A device may keep events while offline; older than this they are no longer useful. */
export const MAX_AGE_MS = 30 * 86_400_000

export type Checked = { ok: true; event: TrackedEvent } | { ok: false; rejection: Rejection }

function idOf(raw: unknown): string | null {
  const id = typeof raw === 'object' && raw !== null ? (raw as { id?: unknown }).id : undefined
  return typeof id === 'string' && id.length <= 64 ? id : null
}

function describeIssues(issues: { path: PropertyKey[]; message: string }[], prefix = ''): string {
  return issues
    .slice(0, 3)
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.')
      return path ? `${path}: ${issue.message}` : issue.message
    })
    .join('; ')
}

export function checkEvent(raw: unknown, index: number, now: number): Checked {
  const reject = (reason: string): Checked => ({ ok: false, rejection: { id: idOf(raw), index, reason } })
  const envelope = envelopeSchema.safeParse(raw)
  if (!envelope.success) return reject(describeIssues(envelope.error.issues))
  const { name, ts, props } = envelope.data
  if (!isEventName(name)) return reject(`unknown event "${name.slice(0, 64)}": not in the tracking plan`)
  if (ts > now + MAX_FUTURE_MS) return reject('ts is more than 10 minutes in the future')
  if (ts < now - MAX_AGE_MS) return reject('ts is more than 30 days in the past')
  if (Buffer.byteLength(JSON.stringify(props)) > MAX_PROPS_BYTES) return reject(`props are larger than ${MAX_PROPS_BYTES} bytes`)
  const parsed = trackingPlan[name].safeParse(props)
  if (!parsed.success) return reject(describeIssues(parsed.error.issues, 'props'))
  return { ok: true, event: { ...envelope.data, name, props: parsed.data } as TrackedEvent }
}
