/**
 * Takes the screenshots: each state of the table rendered (render.ts) on a phone of its own (a fake
 * `wx` with its storage and network), driven into its state, checked (it threw? it shows
 * nothing?), then photographed in its frame at screen size and at full length.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { createWx, type FakeWx, type RequestOptions } from '../miniprogram/fake-wx'
import { launchApp, type AppLaunch } from '../miniprogram/simulate/launch'
import { Browser } from './browser'
import { barOf, framed, type Theme, WINDOW } from './frame'
import { PageRenderer } from './render'
import type { NetworkRule, State, StatePage } from './state'
import type { World } from './world'

/** Where core/cloud.ts keeps the local-mode OPENID. */
const LOCAL_OPENID_KEY = 'local-cloud:openid'
/** The longest a state may take to get ready and settle. */
const STATE_TIMEOUT_MS = 45_000

export interface Shot {
  state: State
  file: string
  fullFile: string
  ms: number
}

export interface Failure {
  state: State
  error: string
}

interface Exparser {
  addGlobalErrorListener(fn: (err: Error) => unknown): void
  removeGlobalErrorListener(fn: (err: Error) => unknown): void
  Event: { dispatchEvent(node: unknown, event: unknown): void; create(name: string, detail: unknown, options: unknown): unknown }
}

/** wx.request with the state's network: calls to the cloud's functions pass, hang or fail; the rest pass. Counts what is in flight. */
function shapeNetwork(fake: FakeWx, rule: State['network'], inflight: { n: number }): void {
  const wx = fake.wx as Record<string, unknown>
  const request = wx.request as (options: RequestOptions) => void
  wx.request = (options: RequestOptions) => {
    const fn = /\/functions\/([^/?]+)/.exec(options.url)?.[1] ?? ''
    const action = String((options.data as { action?: unknown } | undefined)?.action ?? '')
    const what: NetworkRule = fn && rule ? rule({ fn, action }) : 'pass'
    if (what === 'hang') return { abort: () => undefined }
    if (what === 'fail') {
      setTimeout(() => {
        options.fail?.({ errMsg: 'request:fail net::ERR_INTERNET_DISCONNECTED' })
        options.complete?.()
      }, 0)
      return { abort: () => undefined }
    }
    inflight.n++
    let done = false
    const finish = () => {
      if (!done) inflight.n--
      done = true
    }
    request({ ...options, success: (res) => (finish(), options.success?.(res)), fail: (err) => (finish(), options.fail?.(err)), complete: () => options.complete?.() })
    return { abort: () => undefined }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export interface RunOptions {
  root: string
  states: State[]
  world: World
  out: string
  theme: Theme
  /** Also write each state's framed page as <state>.html (to inspect it in a browser). */
  keepHtml?: boolean
  log?: (line: string) => void
}

export async function takeScreenshots(options: RunOptions): Promise<{ shots: Shot[]; failures: Failure[] }> {
  const log = options.log ?? (() => undefined)
  mkdirSync(options.out, { recursive: true })
  const browser = await Browser.launch({ dark: options.theme === 'dark' })
  const shots: Shot[] = []
  const failures: Failure[] = []
  try {
    const renderer = new PageRenderer(options.root, browser, await browser.textMetrics(), options.theme)
    for (const state of options.states) {
      const started = performance.now()
      try {
        const suffix = options.theme === 'light' ? '' : `.${options.theme}`
        const file = path.join(options.out, `${state.name}${suffix}.png`)
        const fullFile = path.join(options.out, `${state.name}${suffix}.full.png`)
        await shootState(renderer, browser, options, state, file, fullFile)
        const ms = performance.now() - started
        shots.push({ state, file, fullFile, ms })
        log(`  ✓ ${state.name.padEnd(24)} ${(ms / 1000).toFixed(1)} s`)
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err)
        failures.push({ state, error })
        log(`  ✗ ${state.name.padEnd(24)} ${error}`)
      } finally {
        renderer.unmount()
      }
    }
  } finally {
    await browser.close()
  }
  return { shots, failures }
}

async function shootState(renderer: PageRenderer, browser: Browser, options: RunOptions, state: State, file: string, fullFile: string): Promise<void> {
  const { world } = options
  const fake = createWx()
  fake.storage.set(LOCAL_OPENID_KEY, world.users[state.user ?? 'reader'])
  const below = state.below ?? 1
  fake.launchOptions = { path: state.page, scene: below === 0 ? 1007 : 1001, query: state.query ?? {}, referrerInfo: {} }
  state.device?.(fake, world)
  const inflight = { n: 0 }
  shapeNetwork(fake, state.network, inflight)

  // What the page throws: in a handler or observer (exparser reports it), or in a promise nobody awaited.
  const errors: string[] = []
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const exparser = require('miniprogram-exparser') as Exparser
  const onError = (err: Error) => {
    errors.push(err?.stack ?? String(err))
    return false
  }
  const onRejection = (reason: unknown) => errors.push(reason instanceof Error ? (reason.stack ?? reason.message) : String(reason))
  exparser.addGlobalErrorListener(onError)
  process.on('unhandledRejection', onRejection)
  let app: AppLaunch | null = null
  let page: Record<string, unknown> | undefined
  try {
    const m = await loading(renderer.mount(state.page, {
      cloudUrl: world.url,
      fake,
      query: state.query,
      stackDepth: below + 1,
      timeoutMs: 60_000,
      beforeLoad: () => {
        const g = globalThis as Record<string, unknown>
        // The page on screen is the page itself (the privacy popup is found through it).
        const stack = Array.from({ length: below }, () => ({ route: 'pages/home/index' }))
        g.getCurrentPages = () => [...stack, page ?? { route: state.page }]
        if (state.launch) app = launchApp(options.root, fake, { experiments: true })
      },
    }))
    page = m.page
    const text = m.text
    const handle: StatePage = {
      ...m,
      world,
      app,
      waitText: (wanted, timeoutMs) => m.waitFor(() => text().includes(wanted), `"${wanted}"`, timeoutMs ?? 20_000),
      async tapText(wanted) {
        const shows = (el: Element) => el.textContent?.includes(wanted) ?? false
        const target = [...m.comp.dom.querySelectorAll('*')].find((el) => shows(el) && ![...el.children].some(shows))
        if (!target) throw new Error(`nothing shows "${wanted}" to tap; page text: "${text().slice(0, 200)}"`)
        await m.tap(target)
      },
      fire(target, name, detail = {}) {
        const node = (target as Element & { __wxElement?: unknown }).__wxElement
        if (!node) throw new Error('not a rendered mini-program node')
        exparser.Event.dispatchEvent(node, exparser.Event.create(name, detail, { bubbles: false, composed: false }))
      },
    }
    await withTimeout(state.ready(handle), STATE_TIMEOUT_MS, `${state.name} did not get ready`)
    await settle(renderer, inflight)
    if (errors.length > 0) throw new Error(`the page threw: ${errors[0]!.split('\n').slice(0, 3).join(' | ')}`)

    const rendered = renderer.snapshot()
    if (rendered.missingIcons.length > 0) throw new Error(`icons with no glyph: ${rendered.missingIcons.join(', ')}`)
    const button = below > 0 ? 'back' : state.page === 'pages/home/index' ? 'none' : 'home'
    const bar = barOf(options.root, state.page, options.theme, fake.log.titles, button)
    const info = await browser.pageInfo(rendered.html, WINDOW)
    if (!info.content) throw new Error('the page renders nothing (no text, image, canvas or filled box in its window)')
    const toast = state.toast ? fake.log.toasts.at(-1) : undefined
    const screen = framed({ page: rendered.html, bar, windowHeight: WINDOW.height, toast, canvases: rendered.canvases, theme: options.theme })
    await browser.shoot(screen.html, screen.size, file)
    if (options.keepHtml) writeFileSync(file.replace(/\.png$/, '.html'), screen.html)
    const full = framed({ page: rendered.html, bar, windowHeight: Math.max(WINDOW.height, info.height), canvases: rendered.canvases, theme: options.theme })
    await browser.shoot(full.html, full.size, fullFile)
  } finally {
    exparser.removeGlobalErrorListener(onError)
    process.off('unhandledRejection', onRejection)
    ;(app as AppLaunch | null)?.tracker.stopTracker()
  }
}

/** Waits until nothing is in flight (cloud calls, layout queries) and the page has not changed for a moment. */
async function settle(renderer: PageRenderer, inflight: { n: number }): Promise<void> {
  const deadline = Date.now() + 15_000
  let changed = 0
  const observer = new MutationObserver(() => changed++)
  observer.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true })
  try {
    let quietSince = Date.now()
    let seen = changed
    while (Date.now() < deadline) {
      await sleep(50)
      if (inflight.n > 0 || renderer.layoutPending > 0 || changed !== seen) {
        seen = changed
        quietSince = Date.now()
      } else if (Date.now() - quietSince >= 300) {
        return
      }
    }
  } finally {
    observer.disconnect()
  }
}

/** A page that throws while it loads (its module, a component's, or onLoad) fails its state with that error. */
function loading<T>(mount: Promise<T>): Promise<T> {
  return mount.catch((err: unknown) => {
    throw new Error(`the page threw while loading: ${err instanceof Error ? err.message : String(err)}`)
  })
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms)))]).finally(() => clearTimeout(timer))
}

export function writeGallery(out: string, shots: Shot[], failures: Failure[], meta: { theme: Theme; took: number }): string {
  const file = path.join(out, 'index.html')
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!)
  const cards = shots
    .map((s) => {
      const name = path.basename(s.file)
      const full = path.basename(s.fullFile)
      return `<figure><a href="${esc(full)}" title="full length"><img src="${esc(name)}" width="375" height="812" loading="lazy" alt="${esc(s.state.name)}"></a><figcaption><b>${esc(s.state.name)}</b> <code>${esc(s.state.page)}</code><br>${esc(s.state.description)} · <a href="${esc(full)}">full length</a></figcaption></figure>`
    })
    .join('\n')
  const failed = failures.map((f) => `<li><b>${esc(f.state.name)}</b>: ${esc(f.error)}</li>`).join('')
  writeFileSync(
    file,
    `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>Screenshots</title><style>
body{margin:24px;font:14px/1.5 -apple-system,"Noto Sans CJK SC",sans-serif;background:#eef0f3;color:#222}
h1{font-size:20px;margin:0 0 4px}.meta{color:#666;margin-bottom:20px}
.grid{display:flex;flex-wrap:wrap;gap:24px}figure{margin:0;width:375px}figure img{display:block;border-radius:24px;box-shadow:0 2px 12px rgba(0,0,0,.15);background:#fff}
figcaption{margin-top:8px;font-size:13px}code{color:#666}.failed{color:#b00}
</style></head><body><h1>Every page state</h1><div class="meta">${shots.length} states, ${meta.theme} theme, ${new Date().toISOString()}, ${(meta.took / 1000).toFixed(0)} s${failures.length ? ` · <span class="failed">${failures.length} failed</span>` : ''}</div>
${failed ? `<ul class="failed">${failed}</ul>` : ''}<div class="grid">
${cards}
</div></body></html>`,
  )
  return file
}
