/**
 * Invite friends: my invite code, what each side earns, sharing to a chat (the shared path carries
 * the code as `c`), and a poster drawn on canvas 2D — the app's name, the inviter, the mini-program
 * code made for my invite code — saved to the album with the permission handling in ./album.
 */
import type { InviteInfo } from '../../../../cloudfunctions/incentives/api'
import { currentUser } from '../../../core/session'
import { trackedPage } from '../../../core/tracked-page'
import { track } from '../../../core/tracker'
import { incentives, refusalText } from '../data'
import { saveToAlbum, type SaveResult } from './album'
import { drawPoster, groupedCode, POSTER_SIZE, type PosterContext, type PosterImage } from './poster'

const TITLE = '实用指南'
const TAGLINE = '每天 3 分钟，学一个马上用得上的生活技巧'

/** What `<canvas type="2d">` gives through a SelectorQuery, as far as the poster uses it. */
interface PosterCanvas {
  width: number
  height: number
  getContext(type: '2d'): unknown
  createImage(): PosterImage & { src: string; onload: (() => void) | null; onerror: ((err: unknown) => void) | null }
}

/** Each page instance's canvas node (a node cannot go through setData). */
const canvases = new WeakMap<object, PosterCanvas>()

function loadImage(canvas: PosterCanvas, src: string): Promise<PosterImage> {
  return new Promise((resolve, reject) => {
    const image = canvas.createImage()
    image.onload = () => resolve(image)
    image.onerror = (err) => reject(err)
    image.src = src
  })
}

/** Device pixels per CSS pixel for the poster: at least 2, so the saved image stays sharp. */
function posterScale(): number {
  let ratio = 2
  try {
    ratio = wx.getWindowInfo().pixelRatio || 2
  } catch {
    // older base libraries: keep 2
  }
  return Math.min(3, Math.max(2, ratio))
}

const SAVED: Record<SaveResult, string> = { saved: '海报已保存到相册', denied: '没有相册权限，海报未保存', cancelled: '', failed: '保存失败，请稍后重试' }

Component({
  behaviors: [trackedPage],

  data: {
    status: 'loading' as 'loading' | 'ready' | 'error',
    errorText: '',
    info: null as InviteInfo | null,
    nickname: '',
    /** What each side earns, shown side by side. */
    rewards: [] as { label: string; points: number }[],
    /** The code in two groups of four, easier to read out. */
    codeText: '',
    /** drawing → ready; unavailable: no mini-program code image yet; error: drawing failed. */
    poster: 'drawing' as 'drawing' | 'ready' | 'unavailable' | 'error',
    saving: false,
    posterWidth: POSTER_SIZE.width,
    posterHeight: POSTER_SIZE.height,
    skeleton: [{ width: '40%', height: '40rpx' }, { width: '80%' }, { width: '60%', height: '64rpx' }, { width: '100%', height: '88rpx' }],
    _avatarUrl: '',
  },

  methods: {
    onLoad() {
      wx.showShareMenu({ menus: ['shareAppMessage'] })
      this.load()
    },

    load() {
      this.setData({ status: 'loading' })
      return currentUser()
        .then((user) => Promise.all([user, incentives.invite()]))
        .then(([user, info]) => {
          const { inviter, invitee } = info.rewards
          this.setData(
            {
              status: 'ready',
              info,
              nickname: user.nickname,
              rewards: [
                { label: '你得', points: inviter },
                { label: '好友得', points: invitee },
              ],
              codeText: groupedCode(info.code),
              poster: info.qrUrl ? 'drawing' : 'unavailable',
              // The profile's displayable address (a cloud file's temporary URL), drawable on the canvas.
              _avatarUrl: user.avatar,
            },
            () => this.paint(),
          )
        })
        .catch((err: unknown) => this.setData({ status: 'error', errorText: refusalText(err) }))
    },

    /** Finds the canvas, loads the images and draws the poster. */
    paint() {
      const info = this.data.info
      if (!info?.qrUrl) return
      this.setData({ poster: 'drawing' })
      this.createSelectorQuery()
        .select('#poster')
        .fields({ node: true, size: true })
        .exec((res: ({ node?: PosterCanvas } | null)[]) => {
          const canvas = res[0]?.node
          if (!canvas) {
            this.setData({ poster: 'error' })
            return
          }
          const avatarUrl = this.data._avatarUrl
          Promise.all([
            loadImage(canvas, info.qrUrl),
            // A missing avatar is not worth failing the poster: the initial stands in.
            avatarUrl ? loadImage(canvas, avatarUrl).catch(() => null) : null,
          ]).then(
            ([code, avatar]) => {
              const scale = posterScale()
              canvas.width = POSTER_SIZE.width * scale
              canvas.height = POSTER_SIZE.height * scale
              const offer = info.rewards.invitee > 0 ? `扫码加入，送你 ${info.rewards.invitee} 积分` : '扫码加入，每天进步一点点'
              drawPoster(canvas.getContext('2d') as PosterContext, { title: TITLE, tagline: TAGLINE, nickname: this.data.nickname, avatar, code, inviteCode: info.code, offer }, scale)
              canvases.set(this, canvas)
              this.setData({ poster: 'ready' })
            },
            () => this.setData({ poster: 'error' }),
          )
        })
    },

    savePoster() {
      const canvas = canvases.get(this)
      if (!canvas || this.data.poster !== 'ready' || this.data.saving) return
      this.setData({ saving: true })
      track('invite_share', { kind: 'poster' })
      const file = () =>
        new Promise<string>((resolve, reject) =>
          wx.canvasToTempFilePath({ canvas, fileType: 'png', success: (res) => resolve(res.tempFilePath), fail: reject }),
        )
      saveToAlbum(file).then((result) => {
        this.setData({ saving: false })
        track('poster_save', { result })
        if (SAVED[result]) wx.showToast({ title: SAVED[result], icon: result === 'saved' ? 'success' : 'none' })
      })
    },

    onShareAppMessage() {
      track('invite_share', { kind: 'message' })
      const info = this.data.info
      const name = this.data.nickname || '好友'
      return { title: `${name}邀请你一起每天学个生活技巧`, path: info ? `/${info.path}` : '/pages/home/index' }
    },
  },
})
