/**
 * Monitoring on the device: script errors, unhandled promise rejections, missing pages, failed and
 * slow cloud calls, and the base library's performance entries, all reported as tracked events.
 * The `monitor` cloud function turns them into error and slow-call rates and alerts.
 */
import { observeCalls } from './cloud'
import { onBeforeFlush, track } from './tracker'

/** A call slower than this counts as slow (network round trip included). */
export const SLOW_CALL_MS = 1500
/** At most this many error events per kind and minute: an error in a loop must not flood the queue. */
const ERRORS_PER_MINUTE = 10

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
    if (allowed('js_error')) track('js_error', { message: firstLine(text), stack: text.slice(0, 2000) })
  })
  wx.onUnhandledRejection(({ reason }) => {
    if (allowed('promise_rejection')) track('promise_rejection', { message: firstLine(messageOf(reason)) })
  })
  wx.onPageNotFound(({ path, isEntryPage }) => {
    if (allowed('page_not_found')) track('page_not_found', { path: path.slice(0, 256), isEntryPage })
  })
  observeCalls((record) => {
    if (record.fn === 'track') return // the tracker's own sends are not app traffic
    calls.calls++
    calls.totalMs += record.durationMs
    if (record.durationMs > SLOW_CALL_MS) calls.slow++
    if (!record.ok) {
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
