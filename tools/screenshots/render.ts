/**
 * Renders a page state: the real page code, the real TDesign components and the real WXSS, through
 * the same mount as the page tests (tools/miniprogram/simulate/mount.ts) in a jsdom document, then
 * turned into a document Chromium shows as WeChat would.
 *
 * What simulate does differently from WeChat, and what is done about it here:
 * - 1rpx is 1px in its stylesheets and in j-component's inline styles: both become 0.5px (a 375 px
 *   wide screen is 750 rpx).
 * - `:host` in a component's WXSS stays as is: it becomes the component's tag.
 * - app.wxss is not loaded: it is added, `page` as the document's `body` (in every stylesheet).
 * - Built-in components lose their attributes and have no styles: builtins.ts.
 * - jsdom has no layout: every layout query the page makes (SelectorQuery: `boundingClientRect`,
 *   `fields({ size })`, canvas nodes) waits while the document as it is at that moment is laid out
 *   in Chromium, and is answered from there. So TDesign's tabs underline, sticky and the canvases'
 *   sizes come out as on a device, including when a page measures too early.
 * - Canvases record their drawing and are replayed in Chromium (canvas.ts).
 * - env(safe-area-inset-*) is the phone's (34 px at the bottom), icons are SVG (icons.ts).
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { FakeWx } from '../miniprogram/fake-wx'
import { type Mounted, mountPageWith, type MountOptions, unmountAll } from '../miniprogram/simulate/mount'
import { clearDocument, freshMiniprogramModules, installPageEnvironment } from '../miniprogram/simulate/node-env'
import type { Browser, Rect, TextMetrics } from './browser'
import { BUILTIN_CSS, BUILTIN_CSS_V2, reflect, type Reflection } from './builtins'
import { measureWith, ReplayCanvas } from './canvas'
import { SAFE_BOTTOM, type Theme, WINDOW } from './frame'
import { iconCss } from './icons'

/** 1rpx on a 375 px wide screen. */
const RPX = WINDOW.width / 750

const rpxToPx = (style: string) => style.replace(/(-?\d*\.?\d+)rpx/gi, (_m, n: string) => `${+(Number(n) * RPX).toFixed(3)}px`)

const SAFE_AREA: Record<string, number> = { top: 0, bottom: SAFE_BOTTOM, left: 0, right: 0 }

/** env()/constant() safe-area insets as the phone's; `page` (the page element) as the document's body; no remote fonts. */
export function deviceCss(css: string): string {
  return css
    .replace(/(?:env|constant)\(\s*safe-area-inset-(top|bottom|left|right)\s*(?:,[^)]*)?\)/g, (_m, side: string) => `${SAFE_AREA[side]}px`)
    .replace(/(^|[\s,>+~(}])page(?=[\s,.:{>+~#[)]|$)/g, '$1body')
    .replace(/@font-face\s*{[^}]*url\(\s*['"]?https?:[^}]*}/g, '')
}

/** Fonts as on an iPhone, by the names the WXSS asks for: PingFang SC is Noto Sans CJK SC here. */
const FONT_CSS = `
@font-face { font-family: "PingFang SC"; src: local("Noto Sans CJK SC"), local("NotoSansCJKsc-Regular"); font-weight: 400; }
@font-face { font-family: "PingFang SC"; src: local("Noto Sans CJK SC Medium"), local("NotoSansCJKsc-Medium"), local("Noto Sans CJK SC"); font-weight: 500; }
@font-face { font-family: "PingFang SC"; src: local("Noto Sans CJK SC Bold"), local("NotoSansCJKsc-Bold"), local("Noto Sans CJK SC"); font-weight: 600 700; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font-family: "PingFang SC", "Noto Sans CJK SC", sans-serif; font-size: 16px; line-height: normal; -webkit-font-smoothing: antialiased; }
main { display: block; }
`

interface JComponentSelectorQuery {
  prototype: { exec(this: { _queue: QueueItem[] }, cb?: (res: unknown[]) => void): void; __screenshots?: boolean }
}

interface QueueItem {
  selector: string
  exparserNode: { $$: Element; shadowRoot: { querySelector(selector: string): { is?: string; $$: Element } | null } } | 0 | null
  isSelectSingle: boolean
  fields: { node?: boolean; size?: boolean; rect?: boolean }
}

/** What a page needs from the tool while it renders: its layout, its canvases, and the page being rendered now. */
interface Session {
  root: Element
  sids: Map<number, Element>
  rects: WeakMap<Element, Rect>
  canvases: Map<object, ReplayCanvas>
  /** Layout queries waiting (the page is not settled while any is). */
  pendingLayout: number
}

export interface RenderedPage {
  /** The page as a document of its own. */
  html: string
  canvases: ReturnType<ReplayCanvas['toJSON']>[]
  /** Icons the page used that have no glyph (a typo in a name shows nothing on a device either). */
  missingIcons: string[]
}

export class PageRenderer {
  private session: Session | null = null
  private next: Promise<void> | null = null
  private running: Promise<void> = Promise.resolve()
  private readonly measureText: (font: string, text: string) => number
  private readonly baseCss: string

  constructor(
    readonly root: string,
    private readonly browser: Browser,
    metrics: TextMetrics,
    readonly theme: Theme,
  ) {
    this.measureText = measureWith(metrics)
    const app = JSON.parse(readFileSync(path.join(root, 'app.json'), 'utf8')) as { style?: string }
    let appWxss = ''
    try {
      appWxss = readFileSync(path.join(root, 'app.wxss'), 'utf8')
    } catch {
      // an app without app.wxss
    }
    this.baseCss = FONT_CSS + BUILTIN_CSS + (app.style === 'v2' ? BUILTIN_CSS_V2 : '') + deviceCss(rpxToPx(appWxss))
    this.install()
  }

  /** Patches simulate, j-component and jsdom once per process (see the file's header). */
  private install(): void {
    installPageEnvironment(this.root)
    /* eslint-disable @typescript-eslint/no-require-imports */
    const simUtils = require('miniprogram-simulate/src/utils') as { transformRpx(s: string): string }
    const jUtils = require('j-component/src/tool/utils') as { transformRpx(s: string): string }
    const wxss = require('miniprogram-simulate/src/wxss') as { compile(css: string, options: { prefix?: string }): string; __host?: boolean }
    const SelectorQuery = require('j-component/src/tool/selectorquery') as JComponentSelectorQuery
    /* eslint-enable @typescript-eslint/no-require-imports */
    simUtils.transformRpx = rpxToPx
    jUtils.transformRpx = rpxToPx
    if (!wxss.__host) {
      const compile = wxss.compile
      wxss.compile = (css, options) => compile(css.replace(/:host\b/g, options.prefix || 'main'), options)
      wxss.__host = true
    }

    const self = this
    Element.prototype.getBoundingClientRect = function (this: Element) {
      const r = self.session?.rects.get(this)
      return (r ?? { left: 0, top: 0, right: 0, bottom: 0, width: 0, height: 0, x: 0, y: 0 }) as DOMRect
    }
    Object.defineProperty(document.documentElement, 'clientWidth', { configurable: true, get: () => WINDOW.width })
    Object.defineProperty(document.documentElement, 'clientHeight', { configurable: true, get: () => WINDOW.height })

    if (SelectorQuery.prototype.__screenshots) return
    const exec = SelectorQuery.prototype.exec
    SelectorQuery.prototype.exec = function (callback) {
      const query = this
      const queue = [...query._queue]
      const session = self.session
      if (!session) return exec.call(query, callback)
      session.pendingLayout++
      self.layout().then(
        () => {
          session.pendingLayout--
          if (self.session !== session) return // the page is gone
          exec.call(query, (res: unknown[]) => {
            queue.forEach((item, i) => {
              if (!item.fields.node || !item.isSelectSingle || !item.exparserNode) return
              const node = item.exparserNode.shadowRoot.querySelector(item.selector)
              if (!node || (node.is !== 'canvas' && node.is !== 'wx-canvas')) return
              let canvas = session.canvases.get(node)
              if (!canvas) {
                canvas = new ReplayCanvas(self.measureText, (src) => self.loadImage(src))
                session.canvases.set(node, canvas)
              }
              res[i] = { ...(res[i] as object), node: canvas }
            })
            callback?.(res)
          })
        },
        () => {
          session.pendingLayout--
        },
      )
    }
    SelectorQuery.prototype.__screenshots = true
  }

  /** Mounts a page for a state (fresh modules, empty document), answering its layout queries from Chromium. */
  async mount(pagePath: string, options: MountOptions & { fake: FakeWx }): Promise<Mounted> {
    this.unmount()
    clearDocument()
    const fake = options.fake
    const windowInfo = { pixelRatio: 2, screenWidth: 375, screenHeight: 812, windowWidth: WINDOW.width, windowHeight: WINDOW.height, statusBarHeight: 44, safeArea: { top: 44, bottom: 812 - SAFE_BOTTOM, left: 0, right: 375, width: 375, height: 812 - 44 - SAFE_BOTTOM } }
    const wx = fake.wx as Record<string, unknown>
    const system = (wx.getSystemInfoSync as () => Record<string, unknown>)()
    wx.getWindowInfo = () => windowInfo
    wx.getSystemInfoSync = () => ({ ...system, ...windowInfo, theme: this.theme, platform: 'ios', system: 'iOS 17.5', model: 'iPhone 11 Pro' })
    wx.getAppBaseInfo = () => ({ SDKVersion: '3.7.0', version: '8.0.50', theme: this.theme, language: 'zh_CN' })
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const SelectorQuery = require('j-component/src/tool/selectorquery') as new () => unknown
    wx.createSelectorQuery = () => new SelectorQuery()
    this.session = { root: document.body, sids: new Map(), rects: new WeakMap(), canvases: new Map(), pendingLayout: 0 }
    const m = await mountPageWith(freshMiniprogramModules, pagePath, { ...options, root: this.root })
    this.session.root = m.comp.dom
    return m
  }

  /** Layout queries still waiting for Chromium. */
  get layoutPending(): number {
    return this.session?.pendingLayout ?? 0
  }

  unmount(): void {
    this.session = null
    unmountAll()
  }

  /**
   * Lays the document out in Chromium as it is now and keeps every element's box for
   * getBoundingClientRect. Calls close together share one layout; a call made while one is
   * running waits for the next, so no answer predates the call.
   */
  private layout(): Promise<void> {
    this.next ??= (async () => {
      await this.running.catch(() => undefined)
      await new Promise((resolve) => setTimeout(resolve, 0))
      this.next = null
      const session = this.session
      if (!session) return
      const run = (async () => {
        const { html, sids } = this.document(session, true)
        const rects = await this.browser.measure(html, WINDOW)
        for (const [sid, rect] of rects) {
          const el = sids.get(sid)
          if (el) session.rects.set(el, rect)
        }
      })()
      this.running = run
      await run
    })()
    return this.next
  }

  private async loadImage(src: string): Promise<{ dataUrl: string; width: number; height: number }> {
    const res = await fetch(src)
    if (!res.ok) throw new Error(`image ${src}: HTTP ${res.status}`)
    const type = res.headers.get('content-type') ?? 'image/png'
    const dataUrl = `data:${type};base64,${Buffer.from(await res.arrayBuffer()).toString('base64')}`
    const size = await this.browser.imageSize(dataUrl)
    if (!size) throw new Error(`image ${src} does not decode`)
    return { dataUrl, ...size }
  }

  /** The page as it is now, as its own document (see the file's header). */
  private document(session: Session, forLayout: boolean): { html: string; sids: Map<number, Element>; reflection: Reflection } {
    const live = session.root
    const clone = live.cloneNode(true) as Element
    const reflection: Reflection = { canvases: [] }
    const after: (() => void)[] = []
    const sids = new Map<number, Element>()
    let sid = 0
    const walk = (a: Element, b: Element) => {
      sids.set(++sid, a)
      b.setAttribute('data-sid', String(sid))
      const todo = reflect(a, b, reflection, (src) => src)
      if (todo) after.push(todo)
      const ac = a.children
      const bc = b.children
      for (let i = 0; i < ac.length; i++) walk(ac[i]!, bc[i]!)
    }
    walk(live, clone)
    for (const todo of after) todo()
    // Inline styles as the device has them (the safe area).
    for (const el of clone.querySelectorAll('[style*="safe-area"]')) el.setAttribute('style', deviceCss(el.getAttribute('style') ?? ''))
    const icons = iconCss(clone)
    const simulated = [...document.head.querySelectorAll('style')].map((s) => s.textContent ?? '').join('\n')
    const css = `${this.baseCss}\n${deviceCss(simulated)}\n${icons.css}`
    const html = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><style>${css}</style></head><body>${clone.outerHTML}</body></html>`
    if (!forLayout) this.missing = icons.missing
    return { html, sids, reflection }
  }

  private missing: string[] = []

  /** The page as it is on screen now, with its canvases' drawings. */
  snapshot(): RenderedPage {
    const session = this.session
    if (!session) throw new Error('no page mounted')
    const { html, reflection } = this.document(session, false)
    const canvases = reflection.canvases.map((el) => {
      const node = (el as Element & { __wxElement?: object }).__wxElement
      const canvas = node ? session.canvases.get(node) : undefined
      return canvas ? canvas.toJSON() : { width: 0, height: 0, images: [], ops: [] }
    })
    return { html, canvases, missingIcons: this.missing }
  }
}
