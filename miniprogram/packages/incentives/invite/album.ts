/**
 * Saving an image to the user's album, with WeChat's permission rules: ask once
 * (wx.authorize); when the user refused before, WeChat never asks again, so a dialog explains
 * why and leads to the settings page (wx.openSetting, allowed from the dialog's confirm). The
 * outcome is one of four, and a user who cancels is not an error.
 */
export type SaveResult = 'saved' | 'denied' | 'cancelled' | 'failed'

const SCOPE = 'scope.writePhotosAlbum'

type Callbacks<T> = { success: (res: T) => void; fail: (err: { errMsg?: string }) => void }

/** A callback-style wx API as a promise (works on every base library and with test fakes alike). */
function ask<T>(run: (callbacks: Callbacks<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => run({ success: resolve, fail: reject }))
}

type Access = 'granted' | 'denied' | 'cancelled'

/** May the app write to the album, asking when it may: granted, denied, or cancelled (the user closed the dialog). */
export function albumAccess(): Promise<Access> {
  return ask<WechatMiniprogram.GetSettingSuccessCallbackResult>((cb) => wx.getSetting(cb)).then((setting): Access | Promise<Access> => {
    const state = setting.authSetting[SCOPE]
    if (state === true) return 'granted'
    if (state === undefined) {
      return ask((cb) => wx.authorize({ scope: SCOPE, ...cb })).then(
        (): Access => 'granted',
        (): Access => 'denied',
      )
    }
    // Refused before: WeChat does not ask again, only the settings page can grant it now.
    return ask<WechatMiniprogram.ShowModalSuccessCallbackResult>((cb) =>
      wx.showModal({
        title: '需要相册权限',
        content: '保存海报需要使用你的相册，请在设置中打开「保存到相册」。',
        confirmText: '去设置',
        cancelText: '暂不',
        ...cb,
      }),
    ).then((choice) =>
      choice.confirm
        ? ask<WechatMiniprogram.OpenSettingSuccessCallbackResult>((cb) => wx.openSetting(cb)).then((after): Access => (after.authSetting[SCOPE] === true ? 'granted' : 'denied'))
        : 'cancelled',
    )
  })
}

/** Saves the image `filePath` gives (a temporary file, made once access is granted) to the album. */
export function saveToAlbum(filePath: () => Promise<string>): Promise<SaveResult> {
  return albumAccess()
    .then((access): SaveResult | Promise<SaveResult> =>
      access !== 'granted'
        ? access
        : filePath()
            .then((path) => ask((cb) => wx.saveImageToPhotosAlbum({ filePath: path, ...cb })))
            .then((): SaveResult => 'saved'),
    )
    .catch((err: unknown): SaveResult => {
      const message = String((err as { errMsg?: unknown } | null)?.errMsg ?? err)
      if (/cancel/i.test(message)) return 'cancelled'
      if (/auth|deny|denied|permission/i.test(message)) return 'denied'
      return 'failed'
    })
}
