/**
 * The phone around a page: an iPhone-sized screen (375 × 812 CSS px) with iOS's status bar,
 * WeChat's navigation bar (back or home button, the page's title, the capsule: 87 × 32 at the
 * place wx.getMenuButtonBoundingClientRect reports), the page in its window below, a toast when
 * the page showed one, and the home indicator. The page itself is a document of its own in an
 * iframe of the window's size, so `position: fixed`, `100vh` and the viewport behave as in
 * WeChat's web view.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { REPLAY_SCRIPT } from './canvas'

export const SCREEN = { width: 375, height: 812 }
export const STATUS_BAR = 44
export const NAV_BAR = 44
/** The page's window: below the navigation bar, down to the bottom of the screen (the home indicator floats over it). */
export const WINDOW = { width: SCREEN.width, height: SCREEN.height - STATUS_BAR - NAV_BAR }
/** env(safe-area-inset-bottom) on such a phone. */
export const SAFE_BOTTOM = 34
/** wx.getMenuButtonBoundingClientRect() there (tools/miniprogram/fake-wx.ts answers the same). */
export const CAPSULE = { width: 87, height: 32, top: 48, right: 365 }

export type Theme = 'light' | 'dark'

export interface Bar {
  title: string
  background: string
  /** WeChat's navigationBarTextStyle: the title, the status bar and the capsule's icons. */
  textStyle: 'black' | 'white'
  /** What the left of the bar shows: back (a page below this one), home (opened directly, not the home page), none. */
  button: 'back' | 'home' | 'none'
}

interface WindowJson {
  navigationBarTitleText?: string
  navigationBarBackgroundColor?: string
  navigationBarTextStyle?: string
  navigationStyle?: string
  darkmode?: boolean
  themeLocation?: string
}

/**
 * The navigation bar a page gets: the page's `.json` over app.json's `window`, `@name` values read
 * from theme.json for the theme (WeChat's dark mode), the title last set by wx.setNavigationBarTitle.
 */
export function barOf(root: string, page: string, theme: Theme, setTitles: string[], button: Bar['button']): Bar {
  const app = JSON.parse(readFileSync(path.join(root, 'app.json'), 'utf8')) as { window?: WindowJson; darkmode?: boolean; themeLocation?: string }
  const own = JSON.parse(readFileSync(path.join(root, `${page}.json`), 'utf8')) as WindowJson
  const merged = { ...app.window, ...own }
  let vars: Record<string, string> = {}
  if (app.darkmode && app.themeLocation) {
    const themes = JSON.parse(readFileSync(path.join(root, app.themeLocation), 'utf8')) as Record<Theme, Record<string, string>>
    vars = themes[theme] ?? {}
  }
  const value = (v: string | undefined) => (v?.startsWith('@') ? vars[v.slice(1)] : v)
  return {
    title: setTitles.at(-1) ?? value(merged.navigationBarTitleText) ?? '',
    background: value(merged.navigationBarBackgroundColor) ?? '#000000',
    textStyle: value(merged.navigationBarTextStyle) === 'white' ? 'white' : 'black',
    button,
  }
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!)

function statusBar(color: string): string {
  return `<div class="status" style="color:${color}">
  <span class="time">9:41</span>
  <span class="icons">
    <svg width="18" height="12" viewBox="0 0 18 12"><rect x="0" y="8" width="3" height="4" rx="1" fill="currentColor"/><rect x="5" y="6" width="3" height="6" rx="1" fill="currentColor"/><rect x="10" y="3" width="3" height="9" rx="1" fill="currentColor"/><rect x="15" y="0" width="3" height="12" rx="1" fill="currentColor"/></svg>
    <svg width="16" height="12" viewBox="0 0 16 12"><path d="M8 11.5 5.6 9a3.4 3.4 0 0 1 4.8 0L8 11.5Zm-4.2-4.3L2.3 5.7a8 8 0 0 1 11.4 0l-1.5 1.5a5.9 5.9 0 0 0-8.4 0ZM.9 4.3-.6 2.8a12.2 12.2 0 0 1 17.2 0l-1.5 1.5a10.1 10.1 0 0 0-14.2 0Z" fill="currentColor"/></svg>
    <svg width="27" height="13" viewBox="0 0 27 13"><rect x="0.5" y="0.5" width="23" height="12" rx="3.5" fill="none" stroke="currentColor" opacity="0.4"/><rect x="2" y="2" width="20" height="9" rx="2" fill="currentColor"/><path d="M25 4.5v4c.8-.3 1.3-1.1 1.3-2s-.5-1.7-1.3-2Z" fill="currentColor" opacity="0.5"/></svg>
  </span>
</div>`
}

function navBar(bar: Bar): string {
  const ink = bar.textStyle === 'white' ? '#ffffff' : '#000000'
  const capsuleBg = bar.textStyle === 'white' ? 'rgba(0,0,0,0.15)' : 'rgba(255,255,255,0.6)'
  const capsuleLine = bar.textStyle === 'white' ? 'rgba(255,255,255,0.25)' : 'rgba(0,0,0,0.1)'
  const button =
    bar.button === 'back'
      ? `<svg class="nav__button" width="12" height="20" viewBox="0 0 12 20"><path d="M10 2 2 10l8 8" fill="none" stroke="${ink}" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round"/></svg>`
      : bar.button === 'home'
        ? `<div class="nav__home" style="border-color:${capsuleLine};background:${capsuleBg}"><svg width="18" height="18" viewBox="0 0 18 18"><path d="M3 8.5 9 3l6 5.5V15a1 1 0 0 1-1 1h-3.2v-4.2H7.2V16H4a1 1 0 0 1-1-1V8.5Z" fill="none" stroke="${ink}" stroke-width="1.5" stroke-linejoin="round"/></svg></div>`
        : ''
  return `<div class="nav" style="background:${bar.background};color:${ink}">
  ${button}
  <div class="nav__title">${escapeHtml(bar.title)}</div>
  <div class="capsule" style="border-color:${capsuleLine};background:${capsuleBg}">
    <svg width="20" height="6" viewBox="0 0 20 6"><circle cx="3" cy="3" r="2.2" fill="${ink}"/><circle cx="10" cy="3" r="3" fill="${ink}"/><circle cx="17" cy="3" r="2.2" fill="${ink}"/></svg>
    <span class="capsule__line" style="background:${capsuleLine}"></span>
    <svg width="18" height="18" viewBox="0 0 18 18"><circle cx="9" cy="9" r="7.2" fill="none" stroke="${ink}" stroke-width="1.6"/><circle cx="9" cy="9" r="2.6" fill="${ink}"/></svg>
  </div>
</div>`
}

function toast(title: string, icon: string | undefined): string {
  const withIcon = icon === 'success' || icon === 'error'
  const mark =
    icon === 'success'
      ? '<svg width="40" height="40" viewBox="0 0 40 40"><path d="M9 21l7 7 15-16" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round" stroke-linejoin="round"/></svg>'
      : icon === 'error'
        ? '<svg width="40" height="40" viewBox="0 0 40 40"><circle cx="20" cy="20" r="15" fill="none" stroke="#fff" stroke-width="3"/><path d="M20 12v10M20 27v1" stroke="#fff" stroke-width="3" stroke-linecap="round"/></svg>'
        : ''
  return `<div class="toast ${withIcon ? 'toast--icon' : ''}">${mark}<div class="toast__text">${escapeHtml(title)}</div></div>`
}

const FRAME_CSS = `
html, body { margin: 0; padding: 0; }
body { font-family: "PingFang SC", "Noto Sans CJK SC", sans-serif; -webkit-font-smoothing: antialiased; }
.phone { position: relative; width: ${SCREEN.width}px; overflow: hidden; background: #000; }
.status { position: absolute; left: 0; right: 0; top: 0; height: ${STATUS_BAR}px; display: flex; align-items: center; justify-content: space-between; padding: 0 20px 0 32px; box-sizing: border-box; z-index: 3; }
.status .time { font-size: 15px; font-weight: 600; letter-spacing: -0.2px; }
.status .icons { display: flex; gap: 6px; align-items: center; }
.nav { position: absolute; left: 0; right: 0; top: 0; height: ${STATUS_BAR + NAV_BAR}px; z-index: 2; }
.nav__title { position: absolute; top: ${STATUS_BAR}px; left: 96px; right: 96px; height: ${NAV_BAR}px; line-height: ${NAV_BAR}px; text-align: center; font-size: 17px; font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.nav__button { position: absolute; left: 14px; top: ${STATUS_BAR + 12}px; }
.nav__home { position: absolute; left: 10px; top: ${CAPSULE.top}px; width: 32px; height: 32px; border-radius: 16px; border: 0.5px solid; box-sizing: border-box; display: flex; align-items: center; justify-content: center; }
.capsule { position: absolute; top: ${CAPSULE.top}px; left: ${CAPSULE.right - CAPSULE.width}px; width: ${CAPSULE.width}px; height: ${CAPSULE.height}px; border-radius: ${CAPSULE.height / 2}px; border: 0.5px solid; box-sizing: border-box; display: flex; align-items: center; justify-content: space-around; padding: 0 8px; }
.capsule__line { width: 0.5px; height: 18px; }
.window { position: absolute; left: 0; top: ${STATUS_BAR + NAV_BAR}px; width: ${WINDOW.width}px; border: 0; display: block; background: #fff; }
.indicator { position: absolute; left: 50%; bottom: 8px; width: 134px; height: 5px; margin-left: -67px; border-radius: 3px; z-index: 4; }
.toast { position: absolute; left: 50%; top: ${STATUS_BAR + NAV_BAR + WINDOW.height / 2}px; transform: translate(-50%, -50%); max-width: 240px; padding: 10px 16px; border-radius: 8px; background: rgba(17, 17, 17, 0.8); color: #fff; font-size: 15px; line-height: 1.5; text-align: center; z-index: 5; box-sizing: border-box; }
.toast--icon { width: 136px; min-height: 136px; display: flex; flex-direction: column; align-items: center; justify-content: center; padding: 16px 12px; }
.toast--icon svg { margin-bottom: 8px; }
`

export interface FrameInput {
  /** The page's own document (render.ts). */
  page: string
  bar: Bar
  /** The page window's height: WINDOW.height for the screen shot, the content's height for the full length. */
  windowHeight: number
  toast?: { title: string; icon?: string }
  /** The page's canvases, replayed into it (canvas.ts). */
  canvases: unknown[]
  theme: Theme
}

/** The page tells the frame when it has loaded, so its canvases are drawn into it (not into the frame's first, blank document). */
function withLoadHook(page: string): string {
  const hook = '<script>addEventListener("load", () => parent.__pageLoaded(document))</script>'
  return page.includes('</body>') ? page.replace('</body>', `${hook}</body>`) : page + hook
}

/** The framed page as one document of SCREEN.width × (bars + windowHeight) CSS px. */
export function framed(input: FrameInput): { html: string; size: { width: number; height: number } } {
  const height = STATUS_BAR + NAV_BAR + input.windowHeight
  const statusInk = input.bar.textStyle === 'white' ? '#ffffff' : '#000000'
  const indicator = input.theme === 'dark' ? '#ffffff' : '#000000'
  const html = `<!doctype html><html><head><meta charset="utf-8"><style>${FRAME_CSS}</style>
<script>${REPLAY_SCRIPT}
window.__ready = new Promise((resolve) => {
  window.__pageLoaded = (doc) => window.__replay(doc, ${JSON.stringify(input.canvases).replace(/</g, '\\u003c')}).then(resolve, resolve)
})
</script>
</head><body>
<div class="phone" style="height:${height}px">
${navBar(input.bar)}
${statusBar(statusInk)}
<iframe class="window" style="height:${input.windowHeight}px" srcdoc="${escapeHtml(withLoadHook(input.page))}"></iframe>
${input.toast ? toast(input.toast.title, input.toast.icon) : ''}
<div class="indicator" style="background:${indicator}"></div>
</div>
</body></html>`
  return { html, size: { width: SCREEN.width, height } }
}
