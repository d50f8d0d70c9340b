/**
 * The feedback form: category, text (with counter and limit), up to 3 screenshots (chosen,
 * compressed, refused over 1 MB on the device), optional contact. The page and app version, base
 * library, device model and platform go along by themselves. On submit the screenshots are uploaded
 * to `feedback/<openid>/…`, then the function checks and stores everything; a refusal (content
 * check, hourly limit) is shown as the function words it, and the function has deleted the uploads.
 */
import type { FeedbackCategory, FeedbackContext } from '../../../../cloudfunctions/feedback/api'
import { CloudError } from '../../../core/cloud'
import { currentUser } from '../../../core/session'
import { uploadFile } from '../../../core/storage'
import { trackedPage } from '../../../core/tracked-page'
import { track } from '../../../core/tracker'
import { CATEGORIES, CONTACT_MAX, feedback, IMAGE_MAX_BYTES, IMAGES_MAX, refusalText, TEXT_MAX, textLength } from '../rules'

interface Shot {
  path: string
  size: number
}

/** What the device says about itself; any API missing on an old base library reads as ''. */
export function deviceContext(page: string): FeedbackContext {
  const safe = <T>(read: () => T): T | undefined => {
    try {
      return read()
    } catch {
      return undefined
    }
  }
  const device = safe(() => wx.getDeviceInfo())
  const base = safe(() => wx.getAppBaseInfo())
  return {
    page: /^[A-Za-z0-9_\-/]{0,128}$/.test(page) ? page : '',
    appVersion: safe(() => wx.getAccountInfoSync().miniProgram.version) ?? '',
    sdkVersion: base?.SDKVersion ?? '',
    model: (device?.model ?? '').slice(0, 64),
    platform: (device?.platform ?? '').slice(0, 32),
  }
}

function compress(src: string): Promise<string> {
  return new Promise((resolve) => {
    // A picture that cannot be compressed (e.g. a GIF) goes as it is; the size check still applies.
    wx.compressImage({ src, quality: 80, success: (res) => resolve(res.tempFilePath), fail: () => resolve(src) })
  })
}

function sizeOf(filePath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    wx.getFileSystemManager().getFileInfo({ filePath, success: (res) => resolve(res.size), fail: (err) => reject(new Error(err.errMsg)) })
  })
}

function extensionOf(path: string): string {
  return /\.(jpe?g|png|gif|webp)$/i.exec(path)?.[1]?.toLowerCase() ?? 'jpg'
}

Component({
  behaviors: [trackedPage],

  data: {
    categories: CATEGORIES,
    category: 'suggestion' as FeedbackCategory,
    text: '',
    count: 0,
    textMax: TEXT_MAX,
    contact: '',
    contactMax: CONTACT_MAX,
    images: [] as Shot[],
    imagesMax: IMAGES_MAX,
    from: '',
    submitting: false,
    errorText: '',
    done: false,
  },

  methods: {
    onLoad(query: Record<string, string | undefined>) {
      const from = decodeURIComponent(query.from ?? '')
      this.setData({ from })
      track('feedback_open', { from: deviceContext(from).page })
    },

    pickCategory(e: WechatMiniprogram.BaseEvent<Record<string, never>, { id: FeedbackCategory }>) {
      this.setData({ category: e.currentTarget.dataset.id })
    },

    onText(e: WechatMiniprogram.CustomEvent<{ value: string }>) {
      this.setData({ text: e.detail.value, count: textLength(e.detail.value), errorText: '' })
    },

    onContact(e: WechatMiniprogram.CustomEvent<{ value: string }>) {
      this.setData({ contact: e.detail.value })
    },

    chooseImages() {
      const room = IMAGES_MAX - this.data.images.length
      if (room <= 0) return
      wx.chooseMedia({
        count: room,
        mediaType: ['image'],
        sizeType: ['compressed'],
        sourceType: ['album', 'camera'],
        success: (res) => void this.addImages(res.tempFiles.map((f) => f.tempFilePath)),
      })
    },

    async addImages(paths: string[]) {
      const added: Shot[] = []
      let refused = 0
      for (const original of paths) {
        const path = await compress(original)
        const size = await sizeOf(path).catch(() => Infinity)
        if (size > IMAGE_MAX_BYTES) refused++
        else added.push({ path, size })
      }
      this.setData({
        images: [...this.data.images, ...added].slice(0, IMAGES_MAX),
        errorText: refused > 0 ? `有 ${refused} 张截图压缩后仍超过 1 MB，请裁剪后再试` : '',
      })
    },

    removeImage(e: WechatMiniprogram.BaseEvent<Record<string, never>, { index: number }>) {
      const images = this.data.images.filter((_, i) => i !== Number(e.currentTarget.dataset.index))
      this.setData({ images })
    },

    previewImage(e: WechatMiniprogram.BaseEvent<Record<string, never>, { index: number }>) {
      const urls = this.data.images.map((s) => s.path)
      wx.previewImage({ urls, current: urls[Number(e.currentTarget.dataset.index)] })
    },

    async submit() {
      if (this.data.submitting) return
      const text = this.data.text.trim()
      const contact = this.data.contact.trim()
      if (!text) return this.setData({ errorText: '请写下你的问题或建议' })
      if (textLength(text) > TEXT_MAX) return this.setData({ errorText: `最多 ${TEXT_MAX} 字` })
      if (textLength(contact) > CONTACT_MAX) return this.setData({ errorText: `联系方式最多 ${CONTACT_MAX} 字` })
      this.setData({ submitting: true, errorText: '' })
      let uploaded: string[] = []
      try {
        const { openid } = await currentUser()
        const stamp = Date.now().toString(36)
        const results = await Promise.allSettled(
          this.data.images.map((shot, i) => uploadFile(`feedback/${openid}/${stamp}-${i}-${Math.random().toString(36).slice(2, 8)}.${extensionOf(shot.path)}`, shot.path)),
        )
        uploaded = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
        if (failed) throw failed.reason instanceof CloudError ? failed.reason : new CloudError('NETWORK', String(failed.reason), true)
        const category = this.data.category
        await feedback.submit({ category, text, images: uploaded, ...(contact ? { contact } : {}), context: deviceContext(this.data.from) })
        track('feedback_submit', { category, images: uploaded.length })
        this.setData({ submitting: false, done: true })
      } catch (err) {
        // A refused submit has deleted its uploads in the cloud; a failure on the way (an upload, the
        // network) may have left some: discard them (the function keeps any a stored feedback uses).
        const refused = err instanceof CloudError && !err.retriable && err.code !== 'FUNCTION_FAILED'
        if (uploaded.length > 0 && !refused) feedback.discard(uploaded).catch(() => undefined)
        this.setData({ submitting: false, errorText: refusalText(err) })
      }
    },

    /** The subscribe button recorded the answer itself; say what it means for this feedback. */
    onSubscribed(e: WechatMiniprogram.CustomEvent<{ status: string }>) {
      const status = e.detail.status
      if (status === 'accepted' || status === 'subscribed') wx.showToast({ title: '有回复时会通知你', icon: 'none' })
    },

    openMine() {
      wx.redirectTo({ url: '/packages/feedback/mine/index' })
    },
  },
})
