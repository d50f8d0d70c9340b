/** The points history as the page shows it: one row per ledger entry, times in Asia/Shanghai. */
import type { LedgerEntry } from '../../../../cloudfunctions/incentives/api'

export interface Row {
  seq: number
  title: string
  amountText: string
  spent: boolean
  when: string
  balanceText: string
}

/** "11月24日 20:15", Asia/Shanghai (fixed +8 h, no DST). */
export function entryTime(iso: string): string {
  const d = new Date(Date.parse(iso) + 8 * 3600_000)
  if (Number.isNaN(d.getTime())) return ''
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${d.getUTCMonth() + 1}月${d.getUTCDate()}日 ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`
}

export function row(entry: LedgerEntry): Row {
  return {
    seq: entry.seq,
    title: entry.title,
    amountText: entry.amount > 0 ? `+${entry.amount}` : String(entry.amount),
    spent: entry.amount < 0,
    when: entryTime(entry.at),
    balanceText: `余额 ${entry.balanceAfter}`,
  }
}
