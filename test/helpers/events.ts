/** Events as a device sends them to `track`, and their day, for tests that make their own traffic. */

export interface DeviceEvent {
  id: string
  name: string
  ts: number
  anonymousId: string
  sessionId: string
  page: string
  props: Record<string, unknown>
}

/** Asia/Shanghai is UTC+8 all year: the day by fixed-offset arithmetic, independent of the functions' Intl. */
export function shanghaiDayOf(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 10)
}
