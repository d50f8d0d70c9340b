/**
 * The privacy popup: why the app asks, a link to the agreement (wx.openPrivacyContract), agree
 * (a button with open-type agreePrivacyAuthorization, so WeChat records the agreement) and
 * decline. Pages include it as `<privacy-popup id="privacy-popup" />`; core/privacy.ts opens it,
 * unasked on a first launch or when an API that touches personal data needs the agreement.
 */
import { type PrivacyPopup, type PrivacyResolve, popupAttached, privacyAgreed, privacyDeclined } from '../../core/privacy'

/** The agree button's id, which WeChat checks was tapped before an API waiting on `resolve` goes on. */
const AGREE_BUTTON = 'privacy-agree'

/** WeChat's resolves waiting on each popup (functions do not belong in component data). */
const waiting = new WeakMap<object, PrivacyResolve[]>()

function answer(popup: object, reply: Parameters<PrivacyResolve>[0]): number {
  const resolves = waiting.get(popup) ?? []
  waiting.set(popup, [])
  for (const resolve of resolves) resolve(reply)
  return resolves.length
}

Component({
  data: {
    visible: false,
    contractName: '',
    /** Asked by a feature (an API is waiting), rather than unasked on a first launch. */
    feature: false,
  },

  lifetimes: {
    attached() {
      popupAttached(this as unknown as PrivacyPopup)
    },
    detached() {
      // The page is gone: APIs still waiting must not hang.
      answer(this, { event: 'disagree' })
    },
  },

  methods: {
    ask(contractName: string, resolve?: PrivacyResolve) {
      if (resolve) {
        waiting.set(this, [...(waiting.get(this) ?? []), resolve])
        // Tells the platform the popup was shown (documented for onNeedPrivacyAuthorization).
        resolve({ event: 'exposureAuthorization' })
      }
      this.setData({ visible: true, contractName, feature: this.data.feature || !!resolve })
    },

    agree() {
      answer(this, { event: 'agree', buttonId: AGREE_BUTTON })
      this.setData({ visible: false, feature: false })
      privacyAgreed()
    },

    decline() {
      const asked = answer(this, { event: 'disagree' }) > 0
      this.setData({ visible: false, feature: false })
      privacyDeclined()
      if (asked) wx.showToast({ title: '未同意隐私保护指引，这项功能暂时无法使用', icon: 'none' })
    },

    /** Holds the page still under the popup (scrolling through it is not possible). */
    hold() {},

    openContract() {
      wx.openPrivacyContract({ fail: () => wx.showToast({ title: '暂时打不开隐私保护指引，请稍后再试', icon: 'none' }) })
    },
  },
})
