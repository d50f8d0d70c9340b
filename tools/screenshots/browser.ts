/**
 * Headless Chromium (Debian's `chromium`, driven by playwright-core; nothing is ever downloaded):
 * lays out a page's HTML to answer its layout queries, measures text for its canvases, and takes
 * the screenshots. Every request leaving the machine is refused, so a stylesheet that names a CDN
 * (TDesign's icon font) costs nothing and the shots never depend on the network.
 */
import { type Browser as PwBrowser, type BrowserContext, chromium, type Page } from 'playwright-core'

/** Where Debian installs Chromium; CHROMIUM_PATH overrides it. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--hide-scrollbars', '--font-render-hinting=none']

export interface Rect {
  left: number
  top: number
  right: number
  bottom: number
  width: number
  height: number
}

/** Advance widths at 100px of the characters canvases draw, for `measureText` (which must answer synchronously). */
export interface TextMetrics {
  /** `${weight}` → character → width at 100px. */
  widths: Record<string, Record<string, number>>
  /** Width at 100px of a character not in the table: a CJK ideograph, which Noto Sans CJK draws 1em wide. */
  wide: Record<string, number>
}

/** Letters, digits and punctuation measured one by one; anything else is as wide as 中. */
const MEASURED = [...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)), ...'·…—–‘’“”×÷°¥￥•→←↑↓']

// Code run in the page is written as strings: functions passed to evaluate() would be serialized
// after tsx's transform, which adds helpers (__name) that the page does not have.

const MEASURE = `(() => {
  const out = []
  for (const el of document.querySelectorAll('[data-sid]')) {
    const r = el.getBoundingClientRect()
    out.push([Number(el.getAttribute('data-sid')), r.left, r.top, r.width, r.height])
  }
  return out
})()`

const PAGE_INFO = `(() => {
  const height = Math.ceil(Math.max(document.documentElement.scrollHeight, document.body.scrollHeight))
  const bodyColor = getComputedStyle(document.body).backgroundColor
  const visible = (el) => {
    const r = el.getBoundingClientRect()
    if (r.width < 1 || r.height < 1 || r.bottom <= 0 || r.top >= innerHeight) return false
    for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e)
      if (s.position === 'fixed' || s.visibility === 'hidden' || s.opacity === '0') return false
    }
    return true
  }
  const content = [...document.body.querySelectorAll('*')].some((el) => {
    if (!visible(el)) return false
    if (el.tagName === 'IMG' || el.tagName === 'CANVAS') return true
    const s = getComputedStyle(el)
    const filled = s.backgroundColor !== 'rgba(0, 0, 0, 0)' && s.backgroundColor !== bodyColor
    const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() !== '')
    return text || filled || s.backgroundImage !== 'none' || parseFloat(s.borderTopWidth) > 0
  })
  return { height, content }
})()`

const TEXT_METRICS = `(chars) => {
  const ctx = document.createElement('canvas').getContext('2d')
  const widths = {}
  const wide = {}
  for (const weight of ['normal', 'bold']) {
    ctx.font = weight + ' 100px sans-serif'
    widths[weight] = Object.fromEntries(chars.map((c) => [c, ctx.measureText(c).width]))
    wide[weight] = ctx.measureText('中').width
  }
  return { widths, wide }
}`

const IMAGE_SIZE = `(src) => new Promise((resolve) => {
  const img = new Image()
  img.onload = () => resolve({ width: img.naturalWidth, height: img.naturalHeight })
  img.onerror = () => resolve(null)
  img.src = src
})`

export class Browser {
  private constructor(
    private readonly browser: PwBrowser,
    private readonly context: BrowserContext,
    private measurer: Page | null = null,
  ) {}

  static async launch(options: { dark?: boolean } = {}): Promise<Browser> {
    // playwright gives each launch a fresh profile (--user-data-dir) in the temp folder and removes it on close.
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS }).catch((err: Error) => {
      throw new Error(`cannot start Chromium at ${CHROMIUM} (apt-get install chromium fonts-noto-cjk, or set CHROMIUM_PATH): ${err.message.split('\n')[0]}`)
    })
    const context = await browser.newContext({ viewport: { width: 375, height: 812 }, deviceScaleFactor: 2, colorScheme: options.dark ? 'dark' : 'light', locale: 'zh-CN' })
    // Only what the machine serves itself (the local cloud's files) and inline data may load.
    await context.route('**/*', (route) => {
      const url = route.request().url()
      if (/^(data:|about:|blob:)/.test(url) || /^https?:\/\/(127\.0\.0\.1|localhost)[:/]/.test(url)) return route.continue()
      return route.abort()
    })
    return new Browser(browser, context)
  }

  /**
   * Lays out `html` (a page as its own document) in a viewport the size of the page's window and
   * returns the bounding box of every element carrying `data-sid`, by that id, as WeChat's
   * `boundingClientRect` gives them: relative to the viewport, the page scrolled to the top.
   */
  async measure(html: string, viewport: { width: number; height: number }): Promise<Map<number, Rect>> {
    this.measurer ??= await this.context.newPage()
    await this.measurer.setViewportSize(viewport)
    await this.measurer.setContent(html, { waitUntil: 'load' })
    const rects = (await this.measurer.evaluate(MEASURE)) as [number, number, number, number, number][]
    return new Map(rects.map(([id, left, top, width, height]) => [id, { left, top, width, height, right: left + width, bottom: top + height }]))
  }

  /**
   * The page's full height (for the full-length shot), and whether its window shows anything: text,
   * an image, a canvas, or a box with a fill or a border, other than fixed overlays such as the
   * floating feedback entry.
   */
  async pageInfo(html: string, viewport: { width: number; height: number }): Promise<{ height: number; content: boolean }> {
    this.measurer ??= await this.context.newPage()
    await this.measurer.setViewportSize(viewport)
    await this.measurer.setContent(html, { waitUntil: 'load' })
    return (await this.measurer.evaluate(PAGE_INFO)) as { height: number; content: boolean }
  }

  /** Advance widths for the canvases' `measureText`, measured once with the fonts this machine has. */
  async textMetrics(): Promise<TextMetrics> {
    const page = await this.context.newPage()
    try {
      return (await page.evaluate(`(${TEXT_METRICS})(${JSON.stringify(MEASURED)})`)) as TextMetrics
    } finally {
      await page.close()
    }
  }

  /** Natural size of an image (any format Chromium decodes), or null when it does not decode. */
  async imageSize(dataUrl: string): Promise<{ width: number; height: number } | null> {
    this.measurer ??= await this.context.newPage()
    return (await this.measurer.evaluate(`(${IMAGE_SIZE})(${JSON.stringify(dataUrl)})`)) as { width: number; height: number } | null
  }

  /**
   * Screenshots `html` (a framed page: tools/screenshots/frame.ts) at its full size, after its
   * canvases are replayed (`window.__ready`, a promise the frame sets).
   */
  async shoot(html: string, size: { width: number; height: number }, file: string): Promise<void> {
    const page = await this.context.newPage()
    try {
      await page.setViewportSize(size)
      await page.setContent(html, { waitUntil: 'load' })
      await page.evaluate('window.__ready')
      await page.screenshot({ path: file, clip: { x: 0, y: 0, ...size } })
    } finally {
      await page.close()
    }
  }

  async close(): Promise<void> {
    await this.browser.close().catch(() => undefined)
  }
}
