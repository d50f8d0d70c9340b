/**
 * A `wx` for pages under test: storage in memory, `request` as real HTTP (so pages talk to a real
 * local cloud), and the UI APIs recorded so tests can assert on navigation, toasts and refresh.
 * Only what the starter's pages and TDesign's components call is provided; anything else reads as
 * undefined (so feature detection works) and is recorded in `log.missing`.
 */
import http from 'node:http'

export interface WxLog {
  navigateTo: string[]
  reLaunch: string[]
  toasts: { title: string; icon?: string }[]
  stopPullDownRefresh: number
  titles: string[]
  shareMenus: unknown[]
  /** `at`: Date.now() when the request was made (tests check order against timers, not durations). */
  requests: { url: string; data: unknown; header: Record<string, string>; at: number }[]
  /** wx APIs something asked for that this fake does not provide. */
  missing: string[]
}

/** The app events the fake can fire: `error` is what wx.onError listens to, and so on. */
export type AppEvent = 'error' | 'unhandledRejection' | 'pageNotFound' | 'lazyLoadError'

export interface FakeWx {
  wx: Record<string, unknown>
  log: WxLog
  storage: Map<string, unknown>
  envVersion: 'develop' | 'trial' | 'release'
  /** What wx.getLaunchOptionsSync() returns. */
  launchOptions: { path: string; scene: number; query: Record<string, string>; referrerInfo: Record<string, unknown> }
  /**
   * What wx.getPrivacySetting() answers. The answer comes asynchronously (as on a device); with
   * `held`, only when the test calls answerPrivacy() (a user who has not answered yet).
   */
  privacy: { needAuthorization: boolean; held: boolean }
  /** Answers every wx.getPrivacySetting() call still waiting (see `privacy.held`). */
  answerPrivacy(): void
  /** The wx.onNeedPrivacyAuthorization listener (the last one registered wins, as on a device). */
  privacyListener: ((resolve: (answer: { event: string; buttonId?: string }) => void, info: { referrer: string }) => void) | null
  /** How many times wx.openPrivacyContract opened the agreement. */
  privacyContractsOpened: number
  /** Listeners registered with wx.onError / onUnhandledRejection / onPageNotFound / onLazyLoadError. */
  listeners: Record<AppEvent, ((payload: unknown) => void)[]>
  /** Calls the listeners of an app event, as the runtime would. */
  fire(event: AppEvent, payload: unknown): void
  /** Delivers performance entries to the observers created with wx.getPerformance().createObserver(). */
  firePerformance(entries: { name: string; entryType: string; duration: number; startTime?: number; path?: string }[]): void
  /** What the observers asked to observe (`observe({ entryTypes })`). */
  performanceObserved: unknown[]
}

type Callbacks<T> = { success?: (res: T) => void; fail?: (err: { errMsg: string }) => void; complete?: () => void }

export type RequestOptions = {
  url: string
  method?: string
  data?: unknown
  header?: Record<string, string>
  timeout?: number
} & Callbacks<{ statusCode: number; data: unknown; header: Record<string, string> }>

function request(log: WxLog, options: RequestOptions): void {
  log.requests.push({ url: options.url, data: options.data, header: options.header ?? {}, at: Date.now() })
  httpRequest(options)
}

/** `wx.request` as real HTTP: JSON bodies, the callbacks and error messages of the real API. */
export function httpRequest(options: RequestOptions): void {
  const url = new URL(options.url)
  const body = options.data === undefined ? '' : JSON.stringify(options.data)
  let settled = false
  const done = (fn: () => void) => {
    if (settled) return
    settled = true
    fn()
    options.complete?.()
  }
  const req = http.request(
    url,
    { method: options.method ?? 'GET', headers: { ...options.header, 'content-length': Buffer.byteLength(body) } },
    (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let data: unknown = text
        try {
          data = JSON.parse(text)
        } catch {
          // wx.request leaves non-JSON bodies as strings
        }
        done(() => options.success?.({ statusCode: res.statusCode ?? 0, data, header: res.headers as Record<string, string> }))
      })
    },
  )
  req.setTimeout(options.timeout ?? 60_000, () => {
    req.destroy()
    done(() => options.fail?.({ errMsg: 'request:fail timeout' }))
  })
  req.on('error', (err) => done(() => options.fail?.({ errMsg: `request:fail ${err.message}` })))
  req.end(body)
}

/**
 * Gives the fake a `wx.cloud` whose callFunction reaches the local cloud's gateway as the platform
 * would: the caller's identity set by WeChat (here `openid`), not by the page.
 */
export function installCloud(fake: FakeWx, url: string, openid: string): { inits: unknown[]; calls: { name: string; data: unknown }[] } {
  const record = { inits: [] as unknown[], calls: [] as { name: string; data: unknown }[] }
  ;(fake.wx as unknown as { cloud: unknown }).cloud = {
    init: (options: unknown) => void record.inits.push(options),
    callFunction: (options: { name: string; data: unknown } & Callbacks<{ result: unknown; requestID: string }>) => {
      record.calls.push({ name: options.name, data: options.data })
      request(fake.log, {
        url: `${url}/functions/${options.name}`,
        method: 'POST',
        data: options.data,
        header: { 'content-type': 'application/json', 'x-wx-openid': openid },
        success: (res) => {
          const body = res.data as { result?: unknown; requestID?: string; error?: { errCode?: number; message?: string } }
          if (res.statusCode === 200) options.success?.({ result: body.result, requestID: body.requestID ?? '' })
          else options.fail?.({ errMsg: `cloud.callFunction:fail ${body.error?.errCode ?? res.statusCode} ${body.error?.message ?? ''}` })
        },
        fail: (err) => options.fail?.({ errMsg: `cloud.callFunction:fail ${err.errMsg}` }),
      })
    },
  }
  return record
}

export function createWx(): FakeWx {
  const storage = new Map<string, unknown>()
  const log: WxLog = { navigateTo: [], reLaunch: [], toasts: [], stopPullDownRefresh: 0, titles: [], shareMenus: [], requests: [], missing: [] }
  const listeners: FakeWx['listeners'] = { error: [], unhandledRejection: [], pageNotFound: [], lazyLoadError: [] }
  const perfObservers: ((list: { getEntries(): unknown[] }) => void)[] = []
  const privacyWaiting: (() => void)[] = []
  const fake: FakeWx = {
    wx: {},
    log,
    storage,
    envVersion: 'develop',
    launchOptions: { path: 'pages/home/index', scene: 1001, query: {}, referrerInfo: {} },
    privacy: { needAuthorization: false, held: false },
    answerPrivacy: () => {
      for (const answer of privacyWaiting.splice(0)) answer()
    },
    privacyListener: null,
    privacyContractsOpened: 0,
    listeners,
    fire: (event, payload) => {
      for (const listener of [...listeners[event]]) listener(payload)
    },
    firePerformance: (entries) => {
      for (const observer of [...perfObservers]) observer({ getEntries: () => entries.map((e) => ({ startTime: 0, ...e })) })
    },
    performanceObserved: [],
  }
  const windowInfo = { pixelRatio: 2, screenWidth: 375, screenHeight: 812, windowWidth: 375, windowHeight: 812, statusBarHeight: 44, safeArea: { top: 44, bottom: 778, left: 0, right: 375, width: 375, height: 734 } }
  const clone = (value: unknown) => (value === undefined ? value : JSON.parse(JSON.stringify(value)))
  const api: Record<string, unknown> = {
    getStorageSync: (key: string) => (storage.has(key) ? clone(storage.get(key)) : ''),
    setStorageSync: (key: string, value: unknown) => void storage.set(key, clone(value)),
    removeStorageSync: (key: string) => void storage.delete(key),
    clearStorageSync: () => storage.clear(),
    request: (options: Parameters<typeof request>[1]) => request(log, options),
    navigateTo: ({ url }: { url: string }) => void log.navigateTo.push(url),
    reLaunch: ({ url }: { url: string }) => void log.reLaunch.push(url),
    showToast: (options: { title: string; icon?: string }) => void log.toasts.push({ title: options.title, icon: options.icon }),
    stopPullDownRefresh: () => void log.stopPullDownRefresh++,
    setNavigationBarTitle: ({ title }: { title: string }) => void log.titles.push(title),
    showShareMenu: (options: unknown) => void log.shareMenus.push(options),
    getAccountInfoSync: () => ({ miniProgram: { appId: 'wx0000000000000000', envVersion: fake.envVersion, version: '' } }),
    getSystemInfoSync: () => ({ ...windowInfo, platform: 'devtools', SDKVersion: '3.7.0', version: '8.0.50', brand: 'devtools', model: 'iPhone 13' }),
    getWindowInfo: () => windowInfo,
    getDeviceInfo: () => ({ platform: 'devtools', brand: 'devtools', model: 'iPhone 13', system: 'iOS 17' }),
    getAppBaseInfo: () => ({ SDKVersion: '3.7.0', version: '8.0.50', theme: 'light', language: 'zh_CN' }),
    getMenuButtonBoundingClientRect: () => ({ width: 87, height: 32, top: 48, right: 365, bottom: 80, left: 278 }),
    onMenuButtonBoundingClientRectWeightChange: () => undefined,
    offMenuButtonBoundingClientRectWeightChange: () => undefined,
    nextTick: (fn: () => void) => void setTimeout(fn, 0),
    pageScrollTo: () => undefined,
    hideKeyboard: () => undefined,
    vibrateShort: () => undefined,
    canIUse: () => true,
    getLaunchOptionsSync: () => clone(fake.launchOptions),
    getPrivacySetting: (options: Callbacks<{ needAuthorization: boolean; privacyContractName: string }>) => {
      const answer = () => {
        options.success?.({ needAuthorization: fake.privacy.needAuthorization, privacyContractName: '《小程序隐私保护指引》' })
        options.complete?.()
      }
      if (fake.privacy.held) privacyWaiting.push(answer)
      else setTimeout(answer, 0)
    },
    onNeedPrivacyAuthorization: (listener: FakeWx['privacyListener']) => void (fake.privacyListener = listener),
    openPrivacyContract: (options: Callbacks<Record<string, never>>) => {
      fake.privacyContractsOpened++
      options.success?.({})
      options.complete?.()
    },
    // What every privacy API does first: without the agreement, ask the app's listener and wait for its answer.
    requirePrivacyAuthorize: (options: Callbacks<Record<string, never>>) => {
      const refuse = () => options.fail?.({ errMsg: 'requirePrivacyAuthorize:fail privacy permission is not authorized', errno: 104 } as { errMsg: string })
      if (!fake.privacy.needAuthorization) return options.success?.({})
      if (!fake.privacyListener) return refuse()
      fake.privacyListener((answer) => {
        if (answer.event === 'exposureAuthorization') return
        // "agree" goes on only when the agree button was tapped (which cleared needAuthorization).
        if (answer.event === 'agree' && !fake.privacy.needAuthorization) options.success?.({})
        else refuse()
      }, { referrer: 'requirePrivacyAuthorize' })
    },
    onError: (listener: (error: unknown) => void) => void listeners.error.push(listener),
    onUnhandledRejection: (listener: (res: unknown) => void) => void listeners.unhandledRejection.push(listener),
    onPageNotFound: (listener: (res: unknown) => void) => void listeners.pageNotFound.push(listener),
    onLazyLoadError: (listener: (res: unknown) => void) => void listeners.lazyLoadError.push(listener),
    getPerformance: () => ({
      now: () => Date.now(),
      getEntries: () => [],
      getEntriesByName: () => [],
      getEntriesByType: () => [],
      setBufferSize: () => undefined,
      createObserver: (callback: (list: { getEntries(): unknown[] }) => void) => ({
        observe: (options: unknown) => {
          fake.performanceObserved.push(options)
          perfObservers.push(callback)
        },
        disconnect: () => {
          const at = perfObservers.indexOf(callback)
          if (at >= 0) perfObservers.splice(at, 1)
        },
      }),
    }),
    createSelectorQuery: () => {
      const query = {
        in: () => query,
        select: () => query,
        selectAll: () => query,
        selectViewport: () => query,
        boundingClientRect: (cb?: (rect: unknown) => void) => {
          cb?.({ width: 0, height: 0, top: 0, left: 0, right: 0, bottom: 0 })
          return query
        },
        scrollOffset: (cb?: (rect: unknown) => void) => {
          cb?.({ scrollTop: 0, scrollLeft: 0 })
          return query
        },
        fields: () => query,
        exec: (cb?: (res: unknown[]) => void) => cb?.([]),
      }
      return query
    },
  }
  fake.wx = new Proxy(api, {
    set(target, prop: string, value: unknown) {
      target[prop] = value
      return true
    },
    get(target, prop: string | symbol) {
      if (typeof prop === 'string' && prop in target) return target[prop]
      if (typeof prop === 'string' && !log.missing.includes(prop)) log.missing.push(prop)
      return undefined
    },
  })
  return fake
}
