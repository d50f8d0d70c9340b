/**
 * The reply's subscription message (template `feedback_reply`), sent through the shared sender,
 * which checks and consumes the user's quota (one accept = one send) and logs the send. The reason
 * key `feedback_reply:<id>` makes a feedback notify its user once, however often it is answered.
 * The reply is stored whatever the message does; the outcome is kept on the feedback.
 */
import { sendTemplate } from '../_shared/messages'
import type { FeedbackDoc } from '../_shared/models'
import { shanghaiTime } from '../_shared/time'
import type { NotifyOutcome } from './api'

export async function notifyReply(doc: FeedbackDoc, reply: string, now: Date): Promise<NotifyOutcome> {
  try {
    const outcome = await sendTemplate({
      openid: doc.openid,
      template: 'feedback_reply',
      // Free text is cut to its field kind's limit by the sender (thing: 20 characters).
      data: { thing1: doc.text, thing2: reply, phrase3: '已回复', time4: shanghaiTime(now) },
      reason: `feedback_reply:${doc._id}`,
      page: `packages/feedback/mine/index?id=${doc._id}`,
    })
    if (outcome.status === 'rejected') return outcome.reason === 'duplicate' || outcome.reason === 'not_configured' ? outcome.reason : 'failed'
    return outcome.status
  } catch (err) {
    // The reply matters more than its notification: store it, and say the message failed.
    console.error('[reply] subscription message failed', err)
    return 'failed'
  }
}
