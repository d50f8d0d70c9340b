/**
 * The check-in reminder offer: after checking in, "明天提醒我" is the shared subscribe button
 * (components/subscribe-button) for the `checkin_reminder` template; the `notify` function's daily
 * timer sends the reminder to users who accepted and have not checked in by 20:00. This says what
 * the button's result means to the user.
 */
import type { SubscribeStatus } from '../../../components/subscribe-button/index'

/** The toast for a result; declining needs none. */
export function reminderText(status: SubscribeStatus): string {
  switch (status) {
    case 'accepted':
    case 'subscribed':
      return '好的，明天提醒你签到'
    case 'rejected':
      return ''
    case 'switched_off':
      return '你关闭了订阅消息，可在右上角 ··· > 设置中打开'
    case 'unsupported':
      return '微信版本过低，暂不支持提醒'
    case 'failed':
      return '提醒暂时开启不了，请稍后再试'
  }
}
