/**
 * The template registry as the compiler enforces it (never run: `tsc -p tsconfig.node.json` checks
 * it). Each `@ts-expect-error` is a send that must not compile; should one ever compile, the
 * directive itself becomes an error and the typecheck fails.
 */
import { sendTemplate } from '../../cloudfunctions/_shared/messages'

export async function wellFormedSends(): Promise<void> {
  await sendTemplate({ openid: 'o', template: 'checkin_reminder', data: { thing1: '每日签到', number2: 3, thing3: '来签到' } })
  await sendTemplate({ openid: 'o', template: 'feedback_reply', data: { thing1: '闪退', thing2: '已修复', phrase3: '已回复', time4: '2026-01-02 10:00' }, reason: 'feedback_reply:f1', page: 'packages/feedback/mine/index?id=f1' })
}

export async function illFormedSends(): Promise<void> {
  // @ts-expect-error an unknown template
  await sendTemplate({ openid: 'o', template: 'newsletter', data: {} })
  // @ts-expect-error a field of another template
  await sendTemplate({ openid: 'o', template: 'checkin_reminder', data: { thing1: 'a', number2: 1, thing3: 'b', phrase3: '已回复' } })
  // @ts-expect-error a missing field
  await sendTemplate({ openid: 'o', template: 'checkin_reminder', data: { thing1: 'a', number2: 1 } })
  // @ts-expect-error a value that is neither text nor a number
  await sendTemplate({ openid: 'o', template: 'checkin_reminder', data: { thing1: 'a', number2: true, thing3: 'b' } })
}
