/**
 * 订阅 button: asks for the subscription templates the user has not agreed to yet (or, with
 * `stack`, for every one: each accept adds one send, as admins want for alerts), inside the tap
 * (WeChat opens the dialog only there), records every answer with `notify.record` and emits
 * `result` with `{ status, outcomes }`, and `state` with `{ shown, quota }` (sends left over its
 * templates) when known and after each answer. Hidden when none of its templates is configured.
 */
import type { TemplateStatus } from '../../../cloudfunctions/notify/api'
import type { SubscribeOutcome } from '../../../cloudfunctions/_shared/templates'
import { api } from '../../core/api'

export type SubscribeStatus = 'accepted' | 'rejected' | 'switched_off' | 'subscribed' | 'unsupported' | 'failed'

let status: Promise<TemplateStatus[]> | undefined
/** The user's templates, read once per launch (kept up to date with what this device records). */
const load = () => (status ??= api.notify.status().then((s) => s.templates, (err: unknown) => ((status = undefined), Promise.reject(err))))
let known: TemplateStatus[] = []

Component({
  properties: { templates: { type: Array, value: [] as string[] }, text: { type: String, value: '订阅提醒' }, stack: { type: Boolean, value: false } },
  data: { shown: false },
  lifetimes: {
    attached() {
      load().then((all) => {
        known = all
        this.setData({ shown: this.mine().length > 0 })
        this.state()
      }, () => undefined)
    },
  },
  methods: {
    mine() {
      return known.filter((s) => (this.data.templates as string[]).includes(s.key))
    },
    state() {
      this.triggerEvent('state', { shown: this.data.shown, quota: this.mine().reduce((n, s) => n + s.quota, 0) })
    },
    tap() {
      const mine = this.mine()
      const ask = mine.filter((s) => (this.data.stack || s.quota === 0) && s.last?.outcome !== 'ban')
      const done = (result: SubscribeStatus, outcomes: Record<string, SubscribeOutcome> = {}) => {
        this.state()
        this.triggerEvent('result', { status: result, outcomes })
      }
      if (typeof wx.requestSubscribeMessage !== 'function') return done('unsupported') // base library < 2.4.4
      if (ask.length === 0) return done(mine.length ? 'subscribed' : 'failed')
      const record = (outcomes: Record<string, SubscribeOutcome>, result: SubscribeStatus) => {
        for (const s of ask) if (outcomes[s.key] === 'accept') s.quota++
        api.notify.record({ outcomes }).then(() => done(result, outcomes), () => done(result, outcomes))
      }
      wx.requestSubscribeMessage({
        tmplIds: ask.map((s) => s.id),
        success: (res) => {
          const outcomes: Record<string, SubscribeOutcome> = {}
          for (const s of ask) {
            const answer = res[s.id]
            if (answer === 'accept' || answer === 'reject' || answer === 'ban' || answer === 'filter') outcomes[s.key] = answer
          }
          record(outcomes, Object.values(outcomes).includes('accept') ? 'accepted' : 'rejected')
        },
        fail: (err: { errCode?: number }) => {
          const off = () => record(Object.fromEntries(ask.map((s) => [s.key, 'switched_off'])), 'switched_off')
          if (err.errCode === 20004) return off()
          wx.getSetting({
            withSubscriptions: true,
            success: (s) => (s.subscriptionsSetting?.mainSwitch === false ? off() : done('failed')),
            fail: () => done('failed'),
          })
        },
      })
    },
  },
})
