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

/** Make-ups recorded before titles named the day as 12月6日 said `补签 2026-12-06`: shown the same way. */
function entryTitle(title: string): string {
  return title.replace(/^补签 (\d{4})-(\d{2})-(\d{2})$/, (_all, _y: string, m: string, d: string) => `补签 ${Number(m)}月${Number(d)}日`)
}

export function row(entry: LedgerEntry): Row {
  return {
    seq: entry.seq,
    title: entryTitle(entry.title),
    amountText: entry.amount > 0 ? `+${entry.amount}` : String(entry.amount),
    spent: entry.amount < 0,
    when: entryTime(entry.at),
    balanceText: `余额 ${entry.balanceAfter}`,
  }
}
