/**
 * What jest's jsdom environment and module registry give the page tests, for a plain Node process
 * (the screenshot tool): a jsdom document as the globals miniprogram-simulate renders into, module
 * resolution as WeChat does it for the mini-program's own files, and a fresh module registry for
 * the mini-program's code before each page (mountPageWith's `resetModules`).
 *
 * Resolution, for files inside a mini-program root: a bare name (`dayjs/locale/zh-cn`, `tslib`) is
 * looked up as WeChat does, in the nearest `miniprogram_npm/` first (tools/miniprogram/npm-resolve.ts);
 * an absolute path without extension (what simulate requires for a component) is its `.ts`, then its
 * `.js` — Node alone would pick the component's `.json`. TypeScript and TDesign's ES modules are
 * compiled by tsx, which runs the tool.
 */
import { statSync } from 'node:fs'
import Module from 'node:module'
import path from 'node:path'
import { JSDOM } from 'jsdom'
import { resolveModule } from '../npm-resolve'

const isFile = (file: string) => statSync(file, { throwIfNoEntry: false })?.isFile() ?? false

let dom: JSDOM | undefined
const roots: string[] = []

type Resolve = (request: string, parent: { filename?: string } | undefined, ...rest: unknown[]) => string

/** Installs the environment once per process (idempotent) and registers `root` as a mini-program root. */
export function installPageEnvironment(root: string): JSDOM {
  if (!roots.includes(root)) roots.push(root)
  if (dom) return dom
  dom = new JSDOM('<!doctype html><html><head></head><body></body></html>', { pretendToBeVisual: true, url: 'http://localhost/' })
  const g = globalThis as Record<string, unknown>
  const win = dom.window as unknown as Record<string, unknown>
  // Every browser global jsdom has and Node does not (document, Element, Event, getComputedStyle...).
  for (const key of Object.getOwnPropertyNames(win)) {
    if (key in g) continue
    try {
      g[key] = win[key]
    } catch {
      // a getter jsdom does not allow off its window
    }
  }
  g.window = dom.window
  g.document = dom.window.document

  const M = Module as unknown as { _resolveFilename: Resolve }
  const resolve = M._resolveFilename
  M._resolveFilename = function (request, parent, ...rest) {
    const from = parent?.filename
    const root = from ? roots.find((r) => from.startsWith(r + path.sep)) : undefined
    if (root && !request.startsWith('.') && !path.isAbsolute(request) && !request.startsWith('node:')) {
      const found = resolveModule((p) => isFile(path.join(root, p)), path.posix.dirname(path.relative(root, from!).split(path.sep).join('/')), request)
      if (found) return path.join(root, found)
    }
    if (path.isAbsolute(request) && !path.extname(request) && roots.some((r) => request.startsWith(r + path.sep))) {
      for (const ext of ['.ts', '.js']) if (isFile(request + ext)) return request + ext
    }
    return resolve.call(this, request, parent, ...rest)
  }
  return dom
}

/** Forgets every loaded module of the mini-program roots: the next page starts from fresh module state, as after a cold start. */
export function freshMiniprogramModules(): void {
  const cache = (Module as unknown as { _cache: Record<string, unknown> })._cache
  for (const file of Object.keys(cache)) {
    if (roots.some((r) => file.startsWith(r + path.sep))) delete cache[file]
  }
}

/** Empties the document between pages (simulate's injected styles, anything a page left). */
export function clearDocument(): void {
  document.head.innerHTML = ''
  document.body.innerHTML = ''
}
