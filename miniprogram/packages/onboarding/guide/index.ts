/**
 * The onboarding guide over the home page (TDesign t-guide). It lives in subpackage `onboarding` so
 * that t-guide and what it brings (TDesign's tslib, dayjs, locale, config-provider) stay out of the
 * main package: the home page names it with a `componentPlaceholder` (分包异步化), so WeChat renders
 * a plain view, downloads this subpackage after the page's first render, then swaps this component
 * in. Everything therefore starts here, in `attached`, whenever that is; what the page has is read,
 * not waited for: its list `status` (a property) and its elements (selector queries on the page).
 *
 * The guide starts once the privacy question is settled (two overlays never stack), the login has
 * said whether this user already saw the guide end (a reinstall does not replay it) and the page
 * has content to point at. Each step shown is saved on the device (a closed app resumes there) and
 * tracked; skip and finish are tracked, kept on the device and recorded on the user in the cloud.
 */
import { api } from '../../../core/api'
import { guideRecord, type GuideRecord, saveGuide } from '../../../core/onboarding'
import { whenPrivacySettled } from '../../../core/privacy'
import { login } from '../../../core/session'
import { track } from '../../../core/tracker'
import { type OnboardingStep, stepsFrom } from './steps'

type Rect = WechatMiniprogram.BoundingClientRectCallbackResult
type Page = WechatMiniprogram.Component.TrivialInstance

/** A step as t-guide takes it: `element` finds what it points at on the page. */
interface GuideStep extends OnboardingStep {
  element: () => Promise<Rect | null>
}

type GuideEvent = WechatMiniprogram.CustomEvent<{ current: number }>

/** Resolvers waiting for the page's first content (per guide instance). */
const contentWaiters = new WeakMap<object, () => void>()
/** Guides taken off the page (the page closed, or no longer renders the guide): they stop where they are. */
const detachedGuides = new WeakSet<object>()

function rectOf(page: Page, selector: string): Promise<Rect | null> {
  return new Promise((resolve) => {
    page.createSelectorQuery().select(selector).boundingClientRect((rect) => resolve((rect as Rect | null) ?? null)).exec()
  })
}

/** The cloud records how the guide ended; until it has, the next launch tries again. */
async function syncOutcome(record: GuideRecord): Promise<void> {
  if (record.status === 'active' || record.synced) return
  try {
    await api.user.setOnboarding({ status: record.status, step: record.step })
    saveGuide({ ...record, synced: true })
  } catch {
    // offline: retried at the next launch
  }
}

Component({
  properties: {
    /** The home page's list status: the guide points at content, so it waits while this is `loading`. */
    status: { type: String, value: 'loading' },
  },

  data: {
    steps: [] as GuideStep[],
    /** The step on screen; -1 while the guide is not showing. */
    current: -1,
  },

  observers: {
    status(status: string) {
      if (status === 'loading') return
      const resolve = contentWaiters.get(this)
      contentWaiters.delete(this)
      resolve?.()
    },
  },

  lifetimes: {
    attached() {
      void this.start()
    },
    detached() {
      detachedGuides.add(this)
      contentWaiters.delete(this)
    },
  },

  methods: {
    async start(): Promise<void> {
      const local = guideRecord()
      if (local && local.status !== 'active') return syncOutcome(local)
      await whenPrivacySettled()
      let config: unknown = null
      try {
        const reply = await login()
        // Seen to the end on another install: kept here too, and never shown again.
        if (reply.user.onboarding) return saveGuide({ status: reply.user.onboarding.status, step: reply.user.onboarding.step, synced: true })
        config = reply.onboardingSteps
      } catch {
        // Offline: the built-in steps, over whatever the page could show.
      }
      await this.contentShown()
      if (detachedGuides.has(this)) return
      // The page, whose elements the steps point at (this component's own queries see only its inside).
      const page = this.selectOwnerComponent()
      const steps = stepsFrom(config)
      // Only what the page shows can be pointed at (no cards after a failed load, for instance).
      const present = await Promise.all(steps.map((s) => rectOf(page, s.selector)))
      const shown = steps.filter((_, i) => present[i]).map((s) => ({ ...s, element: () => rectOf(page, s.selector) }))
      if (shown.length === 0 || detachedGuides.has(this)) return
      const resumeAt = local ? shown.findIndex((s) => s.id === local.step) : -1
      this.setData({ steps: shown })
      this.showStep(Math.max(resumeAt, 0))
    },

    /** The page has left its loading state (content, empty or error: what is there can be pointed at). */
    contentShown(): Promise<void> {
      if (this.data.status !== 'loading') return Promise.resolve()
      return new Promise((resolve) => contentWaiters.set(this, resolve))
    },

    showStep(index: number): void {
      const step = this.data.steps[index]
      if (!step) return
      this.setData({ current: index })
      saveGuide({ status: 'active', step: step.id, synced: false })
      track('onboarding_step', { step: step.id, index })
    },

    onChange(e: GuideEvent): void {
      const current = e.detail.current
      // Skip and finish end the guide (their own handlers ran first); "next" shows the next step.
      if (current < 0 || current === this.data.current) return
      this.showStep(current)
    },

    onSkip(e: GuideEvent): void {
      this.end('skipped', e.detail.current)
    },

    onFinish(e: GuideEvent): void {
      this.end('finished', e.detail.current)
    },

    end(status: 'finished' | 'skipped', index: number): void {
      const steps = this.data.steps
      const step = steps[index] ?? steps[steps.length - 1]
      if (!step || this.data.current < 0) return
      this.setData({ current: -1 })
      if (status === 'skipped') track('onboarding_skip', { step: step.id, index })
      else track('onboarding_finish', { steps: steps.length })
      const record: GuideRecord = { status, step: step.id, synced: false }
      saveGuide(record)
      void syncOutcome(record)
    },
  },
})
