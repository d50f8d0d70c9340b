/**
 * The one-question survey as a bottom sheet (its own mask and panel, TDesign's button): an NPS scale 0–10 or the survey's
 * choices, an optional free-text follow-up, 提交. Closing it (× or the overlay) records a dismissal,
 * so the survey is not shown again. It lives in subpackage `survey`, which the home page renders
 * (and so loads) only when `survey.due` names a survey for this user.
 */
import type { DueSurvey, NPS_MAX as SERVER_NPS_MAX, TEXT_MAX as SERVER_TEXT_MAX } from '../../../../cloudfunctions/survey/api'
import { CloudError, call } from '../../../core/cloud'

const NPS_MAX: typeof SERVER_NPS_MAX = 10
const TEXT_MAX: typeof SERVER_TEXT_MAX = 200

Component({
  properties: {
    survey: { type: Object, value: null as unknown as DueSurvey },
  },

  data: {
    visible: true,
    options: [] as string[],
    /** The picked score or choice index, -1 before a pick. */
    picked: -1,
    text: '',
    textMax: TEXT_MAX,
    sending: false,
    error: '',
  },

  observers: {
    survey(s: DueSurvey | null) {
      if (!s) return
      this.setData({ options: s.kind === 'nps' ? Array.from({ length: NPS_MAX + 1 }, (_, i) => String(i)) : (s.choices ?? []), picked: -1, text: '', error: '' })
    },
  },

  methods: {
    pick(e: WechatMiniprogram.TouchEvent) {
      this.setData({ picked: Number(e.currentTarget.dataset.index), error: '' })
    },

    onText(e: WechatMiniprogram.Input) {
      this.setData({ text: e.detail.value })
    },

    async submit() {
      const s = this.data.survey as DueSurvey
      const { picked, text } = this.data
      if (picked < 0 || this.data.sending) return
      this.setData({ sending: true, error: '' })
      try {
        const trimmed = text.trim()
        await call('survey', 'answer', { surveyId: s.id, ...(s.kind === 'nps' ? { score: picked } : { choice: picked }), ...(trimmed ? { text: trimmed } : {}) })
        wx.showToast({ title: '感谢你的反馈', icon: 'success' })
        this.close()
      } catch (err) {
        const retry = err instanceof CloudError && (err.code === 'CONTENT_REJECTED' || err.code === 'RATE_LIMITED')
        this.setData({ sending: false, error: retry ? err.message : '提交失败，请稍后再试' })
      }
    },

    /** × or the overlay: recorded, so it is not asked again (a failed record only means it may come back). */
    dismiss() {
      if (this.data.sending) return
      call('survey', 'dismiss', { surveyId: (this.data.survey as DueSurvey).id }).catch(() => undefined)
      this.close()
    },

    /** Keeps the page under the sheet from scrolling. */
    noop() {},

    close() {
      this.setData({ visible: false, sending: false })
      this.triggerEvent('close')
    },
  },
})
