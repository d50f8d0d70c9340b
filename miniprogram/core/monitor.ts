/**
 * Monitoring on the device: script errors, unhandled promise rejections, missing pages, subpackages
 * of async components that failed to load (as script errors), failed and slow cloud calls, and the
 * base library's performance entries, all reported as tracked events.
 * The `monitor` cloud function turns them into error and slow-call rates and alerts.
 */
import { observeCalls } from './cloud'
import { hasConsent, onBeforeFlush, track } from './tracker'

/** A call slower than this counts as slow (network round trip included). */
export const SLOW_CALL_MS = 1500
/** At most this many error events per kind and minute: an error in a loop must not flood the queue. */
const ERRORS_PER_MINUTE = 10
/** The `track` function refuses props over 2048 bytes of UTF-8 JSON (MAX_PROPS_BYTES): a long stack gives way. */
const MAX_PROPS = 2000

/** UTF-8 length of a string, as the cloud counts it. */
function utf8Bytes(text: string): number {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) bytes += 1
    else if (c < 0x800) bytes += 2
    else if (c >= 0xd800 && c < 0xdc00) bytes += 4, i++
    else bytes += 3
  }
  return bytes
}

const calls = { calls: 0, failed: 0, slow: 0, totalMs: 0 }
const budget: Record<string, { minute: number; count: number }> = {}

function allowed(kind: string): boolean {
  const minute = Math.floor(Date.now() / 60_000)
  const entry = budget[kind] && budget[kind].minute === minute ? budget[kind] : (budget[kind] = { minute, count: 0 })
  entry.count++
  return entry.count <= ERRORS_PER_MINUTE
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.slice(0, 500)
}

function messageOf(reason: unknown): string {
  if (reason instanceof Error) return reason.message
  if (typeof reason === 'string') return reason
  try {
    return JSON.stringify(reason) ?? String(reason)
  } catch {
    return String(reason)
  }
}

type PerfMetric = 'appLaunch' | 'firstRender' | 'route' | 'firstPaint'
const METRICS = new Set<string>(['appLaunch', 'firstRender', 'route', 'firstPaint'])

export function startMonitor(): void {
  // Older base libraries pass the error as a string, newer ones as { message }: both include the stack.
  wx.onError((error: WechatMiniprogram.ListenerError | string) => {
    const text = typeof error === 'string' ? error : String(error?.message ?? '')
    if (!allowed('js_error')) return
    const props = { message: firstLine(text), stack: text.slice(0, 2000) }
    while (utf8Bytes(JSON.stringify(props)) > MAX_PROPS) props.stack = props.stack.slice(0, -50)
    track('js_error', props)
  })
  wx.onUnhandledRejection(({ reason }) => {
    if (allowed('promise_rejection')) track('promise_rejection', { message: firstLine(messageOf(reason)) })
  })
  wx.onPageNotFound(({ path, isEntryPage }) => {
    if (allowed('page_not_found')) track('page_not_found', { path: path.slice(0, 256), isEntryPage })
  })
  // An asynchronous subpackage component (the onboarding guide) whose subpackage did not download:
  // "loadSubpackage: timeout" after 10 s, then "loadSubpackage: fail". Base library 2.24.3+.
  wx.onLazyLoadError?.(({ subpackage, errMsg }) => {
    if (allowed('js_error')) track('js_error', { message: firstLine(`lazy load failed: ${String(subpackage)} (${errMsg})`) })
  })
  observeCalls((record) => {
    // The tracker's own sends are not app traffic; nothing is counted before consent.
    if (record.fn === 'track' || !hasConsent()) return
    calls.calls++
    calls.totalMs += record.durationMs
    if (record.durationMs > SLOW_CALL_MS) calls.slow++
    if (!record.ok && !record.expected) {
      calls.failed++
      if (allowed('cloud_call_failed')) {
        track('cloud_call_failed', { fn: record.fn, action: record.action.slice(0, 64), code: record.code ?? 'UNKNOWN', durationMs: record.durationMs })
      }
    }
  })
  onBeforeFlush(() => {
    if (calls.calls === 0) return
    track('cloud_calls', { ...calls })
    calls.calls = calls.failed = calls.slow = calls.totalMs = 0
  })
  const performance = wx.getPerformance?.()
  if (performance?.createObserver) {
    performance
      .createObserver((list) => {
        for (const entry of list.getEntries()) {
          if (!METRICS.has(entry.name)) continue
          const target = (entry as { path?: string }).path
          track('perf', {
            metric: entry.name as PerfMetric,
            durationMs: Math.max(0, Math.round(entry.duration)),
            ...(target ? { target: target.slice(0, 128) } : {}),
          })
        }
      })
      .observe({ entryTypes: ['navigation', 'render', 'script'] })
  }
}
