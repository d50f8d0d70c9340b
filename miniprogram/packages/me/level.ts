/** The membership level card on Me, from the `incentives` function's summary. */
import type { Summary } from '../../../cloudfunctions/incentives/api'

/** The level card: name, points, progress to the next level (lifetime points; spending never lowers it), perks. */
export function levelView(s: Summary) {
  const next = s.next
  const span = next ? next.minPoints - s.level.minPoints : 0
  return {
    name: s.level.name,
    balance: s.balance,
    percent: next && span > 0 ? Math.min(100, Math.round(((s.lifetime - s.level.minPoints) / span) * 100)) : 100,
    nextText: next ? `再得 ${next.pointsToGo} 积分升级为「${next.name}」` : '已是最高等级',
    perks: s.level.perks,
  }
}
