/**
 * Renders a real page of the mini-program with miniprogram-simulate, using WeChat's official WXML
 * compiler (wcc) and the real TDesign components from miniprogram_npm, with a fake `wx` whose
 * `request` performs real HTTP. Pages are built with `Component()`, which is what lets simulate load
 * them; the page lifecycle (onLoad, onPullDownRefresh, onReachBottom...) is driven by the caller.
 *
 * Shared by the page tests (test/miniprogram/harness/mount.ts binds it to jest) and the screenshot
 * tool (tools/screenshots/, in plain Node with tools/miniprogram/simulate/node-env.ts): the caller
 * says how to get a fresh module registry for each page, since every load evaluates the page and
 * component modules afresh (they call Component() when required).
 */
import { existsSync, statSync } from 'node:fs'
import path from 'node:path'
import { createWx, type FakeWx } from '../fake-wx'
import { resolveComponent } from '../npm-resolve'

export const MP_ROOT = path.resolve(__dirname, '../../../miniprogram')

// Minimal typings for what callers use of miniprogram-simulate's component wrapper.
export interface SimWrapper {
  dom: HTMLElement
  instance: Record<string, any> & { data: Record<string, any>; setData(data: Record<string, unknown>): void }
  data: Record<string, any>
  querySelector(selector: string): SimWrapper | undefined
  querySelectorAll(selector: string): SimWrapper[]
  dispatchEvent(name: string, detail?: Record<string, unknown>): void
  triggerLifeTime(name: string): void
  triggerPageLifeTime(name: string, ...args: unknown[]): void
  attach(parent: HTMLElement): void
  detach(): void
}

interface SimulateUtils {
  readJson(file: string): { usingComponents?: Record<string, string> } | null
  resolvesNpm?: boolean
}

export interface Simulate {
  load(componentPath: string, options: Record<string, unknown>): string
  render(id: string, properties?: Record<string, unknown>): SimWrapper
  sleep(ms?: number): Promise<void>
}

export interface MountOptions {
  /** Page query, passed to the page as properties and to onLoad. */
  query?: Record<string, string>
  /** Reuse a fake wx (its storage), e.g. to render a repeat visit. */
  fake?: FakeWx
  /** Local cloud gateway the page's client calls. */
  cloudUrl: string
  timeoutMs?: number
  /** How many pages getCurrentPages() reports (1 = this page was opened directly). */
  stackDepth?: number
  /** Runs in the page's fresh module registry before the page loads, as App.onLaunch does on a device. */
  beforeLoad?: () => void
  /** The mini-program root the page is in (default: the project's `miniprogram/`). */
  root?: string
}

/**
 * What the mount uses of the mini-program's cloud client (core/cloud.ts). Its real type needs the
 * mini-program's `wx` typings, which Node tools do not load; the page tests' harness narrows it.
 */
export interface CloudModule {
  configureCloud(options: { mode: 'local'; localCloudUrl: string; retryBaseMs?: number; timeoutMs?: number }): void
}

export interface Mounted {
  /** The cloud client module the page uses (to re-point it, e.g. after a simulated outage); undefined for a root without one. */
  cloud: CloudModule | undefined
  comp: SimWrapper
  page: SimWrapper['instance']
  fake: FakeWx
  /** The page and every component it loaded, as paths from the mini-program root (`packages/me/miniprogram_npm/tdesign-miniprogram/cell/cell`). */
  components: string[]
  /** Visible text of the page, whitespace collapsed. */
  text(): string
  $(selector: string): SimWrapper | undefined
  $$(selector: string): SimWrapper[]
  /**
   * DOM elements by class, anywhere in the page including inside TDesign components (which use
   * virtualHost, so their inner nodes are reachable in the DOM but not as component wrappers).
   * `card` matches the page's own `.card` and TDesign's `.t-tabs__item` alike (simulate prefixes classes).
   */
  find(className: string): Element[]
  /** Taps a DOM element the way WeChat would: a `tap` event that bubbles through the component tree. */
  tap(target: Element | SimWrapper): Promise<void>
  /** Waits until `condition` holds, re-checking as the page updates; throws with the page text on timeout. */
  waitFor(condition: () => boolean, what: string, timeoutMs?: number): Promise<void>
  unmount(): void
}

/** The mini-program root npm paths resolve against, and the components read from it, for the load under way. */
const loading = { root: MP_ROOT, components: [] as string[] }

/**
 * Loads a page (or component) into simulate, in the current module registry, and returns its id
 * with the page and every component it brought in (paths from `root`, no extension). simulate resolves
 * `usingComponents` only as file paths, so its JSON reader is wrapped to resolve npm-style ones
 * (`tdesign-miniprogram/...`) as WeChat does, for the page and each component it loads: from the
 * component's own folder up, the nearest `miniprogram_npm/` first, so a subpackage's own copy of a
 * component (tools/miniprogram/subpackage-npm.ts) wins over the main package's.
 */
export function loadPage(full: string, root = MP_ROOT): { id: string; components: string[] } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const utils = require('miniprogram-simulate/src/utils') as SimulateUtils
  if (!utils.resolvesNpm) {
    const readJson = utils.readJson
    utils.readJson = (file) => {
      const json = readJson(file)
      const rel = path.relative(loading.root, file).split(path.sep).join('/')
      if (!json || rel.startsWith('..')) return json
      loading.components.push(rel.replace(/\.json$/, ''))
      const isFile = (p: string) => statSync(path.join(loading.root, p), { throwIfNoEntry: false })?.isFile() ?? false
      for (const [tag, target] of Object.entries(json.usingComponents ?? {})) {
        if (target.startsWith('.') || target.startsWith('/')) continue
        const base = resolveComponent(isFile, path.posix.dirname(rel), target)
        if (base) json.usingComponents![tag] = `/${base}`
      }
      return json
    }
    utils.resolvesNpm = true
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const simulate = require('miniprogram-simulate') as Simulate
  loading.root = root
  loading.components = []
  const id = simulate.load(full, { rootPath: root, compiler: 'official' })
  return { id, components: [...new Set(loading.components)] }
}

/**
 * How long waitFor waits by default. Generous: on a 2-core CI machine running every suite, a page's
 * first calls (cloud function cold start, bundling) take several seconds; this is a wait, not a timing check.
 */
const WAIT_MS = 25_000
/**
 * The cloud client's timeout for pages under test: generous for the same reason (tests of the
 * timeout itself pass their own `timeoutMs`).
 */
const CALL_TIMEOUT_MS = 30_000

/** Unmounts of the pages attached and not yet unmounted (see unmountAll). */
const live = new Set<() => void>()

/** Unmounts every page still attached (a test file's leftovers, or the screenshot tool's last page). */
export function unmountAll(): void {
  for (const unmount of [...live]) unmount()
}

/**
 * Attaches a rendered page (or component) to the document and returns its unmount, which may be
 * called more than once. After it, the page's setData does nothing, as WeChat ignores setData on an
 * unloaded page: a request the page started may settle after its test, or after the test file when
 * jsdom's document is gone, and must not render.
 */
export function attach(comp: SimWrapper): () => void {
  const parent = document.createElement('parent-wrapper')
  document.body.appendChild(parent)
  comp.attach(parent)
  const unmount = () => {
    if (!live.delete(unmount)) return
    comp.instance.setData = () => undefined
    comp.detach()
    parent.remove()
  }
  live.add(unmount)
  return unmount
}

interface Exparser {
  Event: { dispatchEvent(node: unknown, event: unknown): void; create(name: string, detail: unknown, options: unknown): unknown }
}

/** A built-in behavior simulate does not know; the components that ask for it render without it. */
function dropUnknownBehaviors(): void {
  const g = globalThis as unknown as { Component: ((definition: { behaviors?: unknown[] }) => void) & { dropsUnknown?: boolean } }
  if (g.Component.dropsUnknown) return
  const register = g.Component
  const wrapped = (definition: { behaviors?: unknown[] }) =>
    register({ ...definition, behaviors: (definition.behaviors ?? []).filter((b) => b !== 'wx://proxy-scroll-view') })
  g.Component = Object.assign(wrapped, { dropsUnknown: true })
}

/**
 * Mounts a page: a fresh module registry (`resetModules`), the fake `wx` and the page stack as
 * globals, the cloud client pointed at `cloudUrl`, then the page loaded, rendered, attached and
 * its onLoad called with the query.
 */
export async function mountPageWith(resetModules: () => void, pagePath: string, options: MountOptions): Promise<Mounted> {
  resetModules()
  const root = options.root ?? MP_ROOT
  const fake = options.fake ?? createWx()
  const g = globalThis as Record<string, unknown>
  g.wx = fake.wx
  g.getApp = () => ({})
  // The page stack: pages below this one (their routes do not matter), then this page.
  const depth = options.stackDepth ?? 2
  g.getCurrentPages = () => [...Array.from({ length: depth - 1 }, () => ({ route: 'pages/home/index' })), { route: pagePath }]
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const simulate = require('miniprogram-simulate') as Simulate
  dropUnknownBehaviors()

  let cloud: CloudModule | undefined
  // The sources (.ts), or a compiled package (.js: test/miniprogram/compiled-output.test.ts).
  if (existsSync(path.join(root, 'core/cloud.ts')) || existsSync(path.join(root, 'core/cloud.js'))) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    cloud = require(path.join(root, 'core/cloud')) as CloudModule
    cloud.configureCloud({ mode: 'local', localCloudUrl: options.cloudUrl, retryBaseMs: 5, timeoutMs: options.timeoutMs ?? CALL_TIMEOUT_MS })
  }
  options.beforeLoad?.()

  const full = path.join(root, pagePath)
  const { id, components } = loadPage(full, root)
  const comp = simulate.render(id, options.query ?? {})
  if (!comp) throw new Error(`${pagePath} did not register a component (does its .ts call Component()?)`)
  const unmount = attach(comp)
  const page = comp.instance
  ;(page.onLoad as ((query: Record<string, string>) => void) | undefined)?.call(page, options.query ?? {})

  const text = () => comp.dom.textContent?.replace(/\s+/g, ' ').trim() ?? ''
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const exparser = require('miniprogram-exparser') as Exparser
  const find = (className: string) =>
    [...comp.dom.querySelectorAll('*')].filter((el) => [...el.classList].some((c) => c === className || c.endsWith(`--${className}`)))
  return {
    cloud,
    comp,
    page,
    fake,
    components,
    text,
    $: (selector) => comp.querySelector(selector),
    $$: (selector) => comp.querySelectorAll(selector),
    find,
    async tap(target) {
      const el = target instanceof Element ? target : target.dom
      const node = (el as Element & { __wxElement?: unknown }).__wxElement
      if (!node) throw new Error('not a rendered mini-program node')
      exparser.Event.dispatchEvent(node, exparser.Event.create('tap', {}, { bubbles: true, composed: true, capturePhase: true, extraFields: { touches: {}, changedTouches: {} } }))
      await simulate.sleep(0)
    },
    async waitFor(condition, what, timeoutMs = WAIT_MS) {
      const deadline = Date.now() + timeoutMs
      while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; page text: "${text().slice(0, 300)}"`)
        await simulate.sleep(10)
      }
    },
    unmount,
  }
}
