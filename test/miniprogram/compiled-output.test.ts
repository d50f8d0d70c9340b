/**
 * What the official compiler emits is what a device runs: with the ES6-to-ES5 transform off
 * (project.config.json `es6: false`), nothing rewrites modules or syntax on the way, so the package
 * must run as compiled. Here the compiled package (miniprogram-ci, the project's settings) is laid
 * out in a folder and the app's launch and the home page are run from it, not from the sources,
 * with miniprogram-simulate against a real local cloud: TDesign's modules load (made CommonJS by the
 * npm build, tslib cut down), the page renders the guides and the tabs.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { isEsModule } from '../../tools/miniprogram/es-module'
import { ROOT } from '../../tools/paths'
import { launchApp } from '../../tools/miniprogram/simulate/launch'
import { createWx } from '../../tools/miniprogram/fake-wx'
import { compileProject } from '../helpers/compile-miniprogram'
import { type CloudProcess, startCloudProcess } from './harness/cloud'
import { mountPage } from './harness/mount'

jest.setTimeout(180_000)

let cloud: CloudProcess
let compiled: string
beforeAll(async () => {
  compiled = mkdtempSync(path.join(os.tmpdir(), 'compiled-mp-'))
  const [started] = await Promise.all([startCloudProcess(), Promise.resolve(compileProject(ROOT, compiled))])
  cloud = started
  // WeChat resolves `require("tslib")` in TDesign to the nearest miniprogram_npm/tslib: the trimmed
  // copy the package ships. Node (jest) looks in node_modules: point it at that same copy.
  mkdirSync(path.join(compiled, 'node_modules'))
  symlinkSync(path.join(compiled, 'miniprogram_npm/tdesign-miniprogram/miniprogram_npm/tslib'), path.join(compiled, 'node_modules/tslib'))
}, 180_000)
afterAll(async () => {
  await cloud?.stop()
  if (compiled) rmSync(compiled, { recursive: true, force: true })
})

const jsFiles = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => (statSync(path.join(dir, name)).isDirectory() ? (name === 'node_modules' ? [] : jsFiles(path.join(dir, name))) : name.endsWith('.js') ? [path.join(dir, name)] : []))

test('the compiled package keeps modern syntax and CommonJS modules (no ES5 helpers, no import statements)', () => {
  // jest's transform would turn an ES module into CommonJS on the way in: checked here, file by file, as WeChat gets them.
  const files = jsFiles(compiled)
  expect(files.length).toBeGreaterThan(100)
  expect(files.filter((f) => isEsModule(readFileSync(f, 'utf8'))).map((f) => path.relative(compiled, f))).toEqual([])
  const home = readFileSync(path.join(compiled, 'pages/home/index.js'), 'utf8')
  expect(home).toMatch(/require\("\.\.\/\.\.\/core\/launch"\)/)
  const tabs = readFileSync(path.join(compiled, 'miniprogram_npm/tdesign-miniprogram/tabs/tabs.js'), 'utf8')
  expect(tabs).not.toMatch(/(^|[;}])import[{\s*"]/)
  expect(tabs).toMatch(/require\("tslib"\)/)
  expect(tabs).toMatch(/class extends/) // ES2015 classes as written, not Babel's _createClass
})

test('the launch and the home page run from the compiled package: guides and tabs on screen', async () => {
  const fake = createWx()
  fake.privacy = { needAuthorization: false, held: false }
  let page: Record<string, unknown> | undefined
  const m = await mountPage('pages/home/index', {
    root: compiled,
    cloudUrl: cloud.url,
    fake,
    stackDepth: 1,
    timeoutMs: 30_000,
    beforeLoad: () => {
      ;(globalThis as Record<string, unknown>).getCurrentPages = () => (page ? [page] : [])
      const app = launchApp(compiled, fake, { experiments: true })
      afterTracker = app.tracker
    },
  })
  page = m.page
  await m.waitFor(() => m.page.data.status === 'ready' && m.page.data.tabs.length > 1, 'the guides and tabs', 30_000)
  expect(m.find('card__title').length).toBe(10)
  expect(m.text()).toContain('全部')
  // One call brought it all (the launch's), from the compiled client core.
  expect(fake.log.requests.map((r) => (r.data as { action?: string }).action)).toEqual(['bootstrap'])
  afterTracker?.stopTracker()
  m.unmount()
})

let afterTracker: { stopTracker(): void } | undefined
