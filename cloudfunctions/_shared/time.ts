/**
 * Calendar days in Asia/Shanghai, the time zone every metric and daily limit uses. Cloud functions
 * run in UTC, so "today" must never come from local-time Date methods.
 */
const dayFormat = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
})

/** `YYYY-MM-DD` of the given instant in Asia/Shanghai. */
export function shanghaiDay(instant: Date): string {
  return dayFormat.format(instant)
}
