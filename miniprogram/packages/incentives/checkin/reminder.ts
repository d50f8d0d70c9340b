/**
 * The check-in reminder offer: after checking in, "明天提醒我" asks for a one-time subscription to
 * the template configured in `app_config/incentives` (reminder.templateId). Kept apart from the page
 * so the re-engagement issue's subscription flow can take it over: `onReminderAnswer` is where the
 * user's answer goes (to record the subscription and schedule tomorrow's message).
 *
 * wx.requestSubscribeMessage only opens its dialog when called in the tap itself: `askReminder`
 * calls it synchronously (the Promise executor runs at once), so call it first thing in the handler.
 */

/**
 * accept / reject: the user's choice; ban / filter: the platform blocked the template (banned, or
 * filtered as a duplicate title); off: the user turned subscription messages off in the settings
 * (errCode 20004); failed: anything else.
 */
export type ReminderAnswer = 'accept' | 'reject' | 'ban' | 'filter' | 'off' | 'failed'

const ANSWERS = ['accept', 'reject', 'ban', 'filter']

type Listener = (answer: ReminderAnswer, templateId: string) => void
const listeners: Listener[] = []

/** Registers what happens with an answer (the subscription flow of issue 6 records accepted ones). */
export function onReminderAnswer(listener: Listener): void {
  listeners.push(listener)
}

export function askReminder(templateId: string): Promise<ReminderAnswer> {
  return new Promise<ReminderAnswer>((resolve) => {
    wx.requestSubscribeMessage({
      tmplIds: [templateId],
      success: (res) => {
        const value = res[templateId]
        resolve(value && ANSWERS.includes(value) ? (value as ReminderAnswer) : 'failed')
      },
      fail: (err: { errCode?: number }) => resolve(err.errCode === 20004 ? 'off' : 'failed'),
    })
  }).then((answer) => {
    for (const listener of listeners) listener(answer, templateId)
    return answer
  })
}
