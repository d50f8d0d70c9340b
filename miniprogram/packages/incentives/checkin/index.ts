/**
 * Daily check-in: the streak and the next bonus, the big 签到 button (once a day, the reward in a
 * toast), the month's calendar (checked, made-up and missed days; earlier and later months), a
 * make-up for a missed day inside the window (its cost confirmed first), and after checking in the
 * offer to be reminded tomorrow when the `checkin_reminder` subscription is configured.
 */
import type { Calendar, MakeupRules, Summary } from '../../../../cloudfunctions/incentives/api'
import { currentUser } from '../../../core/session'
import { trackedPage } from '../../../core/tracked-page'
import { track } from '../../../core/tracker'
import { makeableDays, shanghaiMonth } from '../components/month-grid/calendar'
import { incentives, refusalText } from '../data'
import type { SubscribeStatus } from '../../../components/subscribe-button/index'
import { reminderText } from './reminder'
import { nextBonusText, shortDay } from './streak'

function summaryData(s: Summary) {
  return { balance: s.balance, todayReward: s.todayReward, streak: s.streak, checkedInToday: s.checkedInToday, makeup: s.makeup }
}

function calendarData(c: Calendar) {
  return {
    month: c.month,
    today: c.today,
    checked: c.days.filter((d) => !d.makeup).map((d) => d.day),
    madeUp: c.days.filter((d) => d.makeup).map((d) => d.day),
    makeable: makeableDays(c.makeupDays, c.makeup.enabled ? c.makeup.remainingThisMonth : 0),
    streak: c.streak,
    checkedInToday: c.checkedInToday,
    makeup: c.makeup,
    bonusText: nextBonusText(c.upcoming),
  }
}

const toast = (title: string) => wx.showToast({ title, icon: 'none' })

Component({
  behaviors: [trackedPage],
  options: { pureDataPattern: /^_/ },

  data: {
    status: 'loading' as 'loading' | 'ready' | 'error',
    errorText: '',
    month: shanghaiMonth(),
    /** The month on screen is being replaced (the arrows). */
    monthLoading: false,
    today: '',
    since: '',
    checked: [] as string[],
    madeUp: [] as string[],
    makeable: [] as string[],
    streak: 0,
    checkedInToday: false,
    todayReward: 0,
    balance: 0,
    bonusText: '',
    makeup: null as MakeupRules | null,
    checkingIn: false,
    /** The reminder offer: shown after a check-in when a template is configured, then answered. */
    reminder: '' as '' | 'offer' | 'done',
    skeleton: [{ width: '40%', height: '48rpx' }, { width: '70%' }, { width: '100%', height: '96rpx' }, { width: '100%', height: '480rpx' }],
  },

  methods: {
    onLoad() {
      this.load()
    },

    load() {
      this.setData({ status: 'loading' })
      // The cloud knows a user only after the first login (app.ts starts it; this waits for it).
      return currentUser()
        .then((user) => Promise.all([user, incentives.summary(), incentives.calendar({ month: this.data.month })]))
        .then(([user, summary, calendar]) => this.setData({ status: 'ready', since: user.firstSeenDay, ...summaryData(summary), ...calendarData(calendar) }))
        .catch((err: unknown) => this.setData({ status: 'error', errorText: refusalText(err) }))
    },

    /** The calendar again (after a grant: the streak's upcoming days have moved on). */
    refreshCalendar() {
      const month = this.data.month
      incentives.calendar({ month }).then(
        (calendar) => this.data.month === month && this.setData(calendarData(calendar)),
        () => undefined, // what is on screen was patched from the grant's answer; the next visit reloads
      )
    },

    onMonth(e: WechatMiniprogram.CustomEvent<{ month: string }>) {
      const month = e.detail.month
      const shown = this.data.month
      this.setData({ month, monthLoading: true })
      incentives.calendar({ month }).then(
        (calendar) => this.data.month === month && this.setData({ ...calendarData(calendar), monthLoading: false }),
        (err: unknown) => {
          if (this.data.month !== month) return
          this.setData({ month: shown, monthLoading: false })
          toast(refusalText(err))
        },
      )
    },

    checkin() {
      if (this.data.checkedInToday || this.data.checkingIn || this.data.status !== 'ready') return
      this.setData({ checkingIn: true })
      // The reply carries the month on screen as it is after the check-in: no second call to refresh it.
      const month = this.data.month
      incentives.checkin({ month }).then(
        (result) => {
          const onScreen = result.day.startsWith(this.data.month) && !this.data.checked.includes(result.day)
          this.setData({
            checkingIn: false,
            checkedInToday: true,
            streak: result.streak,
            balance: result.balance,
            todayReward: result.reward,
            ...(onScreen ? { checked: [...this.data.checked, result.day] } : {}),
            ...(result.reminder && this.data.reminder === '' ? { reminder: 'offer' } : {}),
          })
          if (result.alreadyCheckedIn) {
            toast('今天已经签到过了')
          } else {
            toast(result.bonus > 0 ? `签到成功 +${result.reward} 积分，含连续 ${result.streak} 天奖励 ${result.bonus}` : `签到成功 +${result.reward} 积分`)
            track('checkin', { streak: result.streak, makeup: false })
          }
          if (result.calendar && this.data.month === month) this.setData(calendarData(result.calendar))
        },
        (err: unknown) => {
          this.setData({ checkingIn: false })
          toast(refusalText(err))
        },
      )
    },

    /** The subscribe button asked (and recorded the answer): the offer is done; say what happened. */
    onReminder(e: WechatMiniprogram.CustomEvent<{ status: SubscribeStatus }>) {
      this.setData({ reminder: 'done' })
      const text = reminderText(e.detail.status)
      if (text) toast(text)
    },

    /** A missed day that can be made up was tapped: say what it costs, then make it up. */
    pickDay(e: WechatMiniprogram.CustomEvent<{ day: string }>) {
      const day = e.detail.day
      const rules = this.data.makeup
      if (!rules?.enabled) return
      if (rules.remainingThisMonth <= 0) {
        toast('本月的补签次数已用完')
        return
      }
      if (this.data.balance < rules.cost) {
        toast(`积分不足，补签需要 ${rules.cost} 积分`)
        return
      }
      wx.showModal({
        title: `补签${shortDay(day)}`,
        content: `将消耗 ${rules.cost} 积分（现有 ${this.data.balance}），本月还可补签 ${rules.remainingThisMonth} 次。`,
        confirmText: '补签',
        success: (res) => {
          if (res.confirm) this.makeUp(day)
        },
      })
    },

    makeUp(day: string) {
      incentives.makeup({ day }).then(
        (result) => {
          this.setData({
            balance: result.balance,
            streak: result.streak,
            makeup: result.makeup,
            madeUp: [...this.data.madeUp, day],
            makeable: makeableDays(this.data.makeable.filter((d) => d !== day), result.makeup.remainingThisMonth),
          })
          toast(`已补签${shortDay(day)}，-${result.cost} 积分`)
          track('checkin', { streak: result.streak, makeup: true })
          this.refreshCalendar()
        },
        (err: unknown) => toast(refusalText(err)),
      )
    },

    openPoints() {
      wx.navigateTo({ url: '/packages/incentives/points/index' })
    },
  },
})
