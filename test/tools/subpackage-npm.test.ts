/**
 * Components only one subpackage uses leave the main package (tools/miniprogram/subpackage-npm.ts):
 * which files move, which references are pointed back into the main package, what the layout on
 * disk looks like, and — with the official compiler — that the result compiles, resolves the
 * components from the subpackage and keeps them out of the main package. On a small library laid
 * out as TDesign's dist is, and on this project.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { resolveComponent, resolveModule } from '../../tools/miniprogram/npm-resolve'
import { checkPlaceholders } from '../../tools/miniprogram/placeholders'
import { type AppJson, allPages, packageOf, readAppJson } from '../../tools/miniprogram/project'
import { layoutSubpackageNpm, planSubpackageNpm, referencesIn, type SubpackageNpmPlan } from '../../tools/miniprogram/subpackage-npm'
import { ROOT } from '../../tools/paths'
import { compileProject } from '../helpers/compile-miniprogram'

type Files = Record<string, string>

/** Every file under `dir`, relative to it. */
function listFiles(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(path.join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
  )
}

/**
 * A project whose library `ui` is built into miniprogram_npm the way TDesign is: ES modules, shared
 * `common/` code and styles, a nested miniprogram_npm (tslib, dayjs), components that use each other
 * by relative paths, and a parent/child pair linked by `relations`.
 *   main:       button (which uses icon and a WXS module), tabs
 *   packages/a: calendar (popup → icon, button; dayjs, a helper, a WXS module, a style), picker, button
 *   packages/b: picker, tab-panel (related to main's tabs)
 *   packages/c: badge (independent subpackage)
 */
function libraryFiles(): Files {
  const files: Files = {}
  const component = (name: string, options: { using?: Record<string, string>; js?: string; wxml?: string; wxss?: string } = {}) => {
    const base = `miniprogram/miniprogram_npm/ui/${name}/${name}`
    files[`${base}.json`] = JSON.stringify({ component: true, usingComponents: options.using ?? {} })
    files[`${base}.wxml`] = options.wxml ?? `<view class="${name}"><slot/></view>`
    files[`${base}.wxss`] = options.wxss ?? `@import '../common/style.wxss';.${name}{display:block}`
    files[`${base}.js`] =
      `import{__assign}from"tslib";import{prefix}from"../common/base";${options.js ?? ''}Component(__assign({},{data:{prefix:prefix}}));`
  }
  Object.assign(files, {
    'miniprogram/miniprogram_npm/ui/common/base.js': 'export const prefix="t";',
    'miniprogram/miniprogram_npm/ui/common/style.wxss': '.t-hidden{display:none}',
    'miniprogram/miniprogram_npm/ui/common/utils.wxs': 'module.exports={upper:function(s){return s.toUpperCase()}};',
    'miniprogram/miniprogram_npm/ui/miniprogram_npm/tslib/index.js': 'exports.__assign=Object.assign;',
    'miniprogram/miniprogram_npm/ui/miniprogram_npm/dayjs/index.js': 'module.exports=function(){return{year:function(){return 2026}}};',
    'miniprogram/miniprogram_npm/ui/calendar/helper.js': 'import dayjs from"dayjs";export const thisYear=()=>dayjs().year();',
  })
  component('icon')
  component('button', { using: { 't-icon': '../icon/icon' }, wxml: '<wxs src="../common/utils.wxs" module="_"/><button><t-icon/>{{_.upper(prefix)}}<slot/></button>' })
  component('popup', { using: { 't-icon': '../icon/icon' } })
  component('calendar', {
    using: { 't-popup': '../popup/popup', 't-button': '../button/button' },
    js: 'import{thisYear}from"./helper";',
    wxml: '<wxs src="../common/utils.wxs" module="_"/><t-popup><t-button>{{_.upper(prefix)}}</t-button></t-popup>',
  })
  component('picker')
  component('tabs', { js: 'const relations={"../tab-panel/tab-panel":{type:"descendant"}};' })
  component('tab-panel', { js: 'const relations={"../tabs/tabs":{type:"ancestor"}};' })
  component('badge')
  return files
}

function projectFiles(): Files {
  const page = (pagePath: string, using: Record<string, string>) => ({
    [`miniprogram/${pagePath}.json`]: JSON.stringify({ usingComponents: using }),
    [`miniprogram/${pagePath}.wxml`]: Object.keys(using).map((tag) => `<${tag}/>`).join(''),
    [`miniprogram/${pagePath}.js`]: 'Component({})',
  })
  const app: AppJson = {
    pages: ['pages/home/index'],
    subpackages: [
      { root: 'packages/a', pages: ['index'] },
      { root: 'packages/b', pages: ['index'] },
      { root: 'packages/c', pages: ['index'], independent: true },
    ],
  }
  return {
    // As in this project: the compiler leaves out what nothing references ("上传时过滤无依赖文件").
    'project.config.json': JSON.stringify({
      appid: 'touristappid',
      compileType: 'miniprogram',
      miniprogramRoot: 'miniprogram/',
      setting: { es6: true, ignoreUploadUnusedFiles: true },
    }),
    'miniprogram/app.json': JSON.stringify(app),
    'miniprogram/app.js': 'App({})',
    ...page('pages/home/index', { 't-button': 'ui/button/button', 't-tabs': 'ui/tabs/tabs' }),
    ...page('packages/a/index', { 't-calendar': 'ui/calendar/calendar', 't-picker': 'ui/picker/picker', 't-button': 'ui/button/button' }),
    ...page('packages/b/index', { 't-picker': 'ui/picker/picker', 't-tab-panel': 'ui/tab-panel/tab-panel' }),
    ...page('packages/c/index', { 't-badge': 'ui/badge/badge' }),
    ...libraryFiles(),
  }
}

function writeProject(files: Files): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'subpackage-npm-'))
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
    writeFileSync(path.join(dir, file), content)
  }
  return dir
}

const byRoot = (plan: SubpackageNpmPlan, root: string) => plan.subpackages.find((sub) => sub.root === root)

describe('resolution as WeChat does it', () => {
  const files = new Set([
    'miniprogram_npm/ui/x/x.json',
    'miniprogram_npm/ui/x/x.wxml',
    'packages/a/miniprogram_npm/ui/x/x.json',
    'packages/a/miniprogram_npm/ui/x/x.wxml',
    'packages/a/local/index.json',
    'packages/a/local/index.wxml',
    'miniprogram_npm/ui/miniprogram_npm/tslib/index.js',
    'miniprogram_npm/ui/common/base.js',
  ])
  const isFile = (rel: string) => files.has(rel)

  test('an npm-style component resolves from the nearest miniprogram_npm, walking up', () => {
    expect(resolveComponent(isFile, 'packages/a/deep/page', 'ui/x/x')).toBe('packages/a/miniprogram_npm/ui/x/x')
    expect(resolveComponent(isFile, 'packages/b', 'ui/x/x')).toBe('miniprogram_npm/ui/x/x')
    expect(resolveComponent(isFile, 'pages/home', 'ui/x/x')).toBe('miniprogram_npm/ui/x/x')
    expect(resolveComponent(isFile, 'pages/home', 'ui/missing/missing')).toBeUndefined()
  })

  test('relative and absolute paths, and a folder with an index component', () => {
    expect(resolveComponent(isFile, 'packages/a', './local')).toBe('packages/a/local/index')
    expect(resolveComponent(isFile, 'packages/b', '/packages/a/local/index')).toBe('packages/a/local/index')
    expect(resolveComponent(isFile, 'packages/b', '../a/miniprogram_npm/ui/x/x')).toBe('packages/a/miniprogram_npm/ui/x/x')
    expect(resolveComponent(isFile, 'pages', '../../outside/x')).toBeUndefined()
  })

  test('require: a package through the nested miniprogram_npm, a relative module with or without .js', () => {
    expect(resolveModule(isFile, 'miniprogram_npm/ui/button', 'tslib')).toBe('miniprogram_npm/ui/miniprogram_npm/tslib/index.js')
    expect(resolveModule(isFile, 'miniprogram_npm/ui/button', '../common/base')).toBe('miniprogram_npm/ui/common/base.js')
    expect(resolveModule(isFile, 'miniprogram_npm/ui/button', '../common/base.js')).toBe('miniprogram_npm/ui/common/base.js')
    expect(resolveModule(isFile, 'pages/home', 'tslib')).toBeUndefined()
  })

  test('references are read from minified modules, JSON, WXML, WXSS and WXS', () => {
    const targets = (file: string, content: string) => referencesIn(file, content, true).map((r) => `${r.kind}:${r.target}`)
    expect(targets('a.js', 'import{a as b}from"tslib";export*from"./x";import"./side";const d=require("dayjs");const r={"../tabs/tabs":{}};const k=["from","to"];')).toEqual([
      'module:tslib',
      'module:./x',
      'module:./side',
      'module:dayjs',
      'component:./x',
      'component:./side',
      'component:../tabs/tabs',
    ])
    // The project's own sources: type-only imports are erased by the compiler, and only imports count.
    expect(referencesIn('a.ts', "import type { T } from './types'\nimport { v } from '../core/v'", false).map((r) => r.target)).toEqual(['../core/v'])
    expect(targets('a.json', '{"usingComponents":{"t-a":"ui/a/a","p":"plugin://x/y"},"componentGenerics":{"g":{"default":"./g"},"h":true}}')).toEqual([
      'component:ui/a/a',
      'component:./g',
    ])
    expect(targets('a.wxml', '<import src="../t/x.wxml"/><wxs src="./u.wxs" module="u"/><include src="{{dynamic}}"/>')).toEqual(['asset:../t/x.wxml', 'asset:./u.wxs'])
    expect(targets('a.wxss', "@import '../common/style.wxss';.a{}")).toEqual(['asset:../common/style.wxss'])
    expect(targets('a.wxs', "var u = require('../common/utils.wxs')")).toEqual(['asset:../common/utils.wxs'])
    expect(() => referencesIn('broken.json', '{', false)).toThrow(/broken\.json: invalid JSON/)
  })
})

describe('the plan, on a library laid out as TDesign is', () => {
  let dir: string
  let plan: SubpackageNpmPlan
  beforeAll(() => {
    dir = writeProject(projectFiles())
    plan = planSubpackageNpm(path.join(dir, 'miniprogram'))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  test('a component the main package uses stays in the main package, and the main package reaches what it needs', () => {
    for (const sub of plan.subpackages.filter((s) => !s.independent)) {
      expect(sub.files.filter((f) => f.startsWith('ui/button/') || f.startsWith('ui/icon/') || f.startsWith('ui/common/base'))).toEqual([])
    }
    expect(plan.mainFiles).toEqual(
      expect.arrayContaining(['ui/button/button.js', 'ui/icon/icon.wxml', 'ui/tabs/tabs.json', 'ui/common/base.js', 'ui/miniprogram_npm/tslib/index.js']),
    )
    expect(plan.mainFiles.filter((f) => /calendar|popup|picker|badge|dayjs/.test(f))).toEqual([])
  })

  test('a component two subpackages use stays in the main package', () => {
    expect(plan.subpackages.flatMap((sub) => sub.files).filter((f) => f.startsWith('ui/picker/'))).toEqual([])
  })

  test('a component related to one the main package uses stays with it', () => {
    expect(byRoot(plan, 'packages/b')).toBeUndefined()
  })

  test('a component only one subpackage uses moves there with what only it needs; what stays is referenced in the main package', () => {
    const a = byRoot(plan, 'packages/a')!
    expect(a.moved).toEqual(['ui/calendar/calendar', 'ui/popup/popup'])
    expect(a.files).toEqual([
      'ui/calendar/calendar.js',
      'ui/calendar/calendar.json',
      'ui/calendar/calendar.wxml',
      'ui/calendar/calendar.wxss',
      'ui/calendar/helper.js',
      'ui/common/style.wxss',
      'ui/common/utils.wxs',
      'ui/miniprogram_npm/dayjs/index.js',
      'ui/popup/popup.js',
      'ui/popup/popup.json',
      'ui/popup/popup.wxml',
      'ui/popup/popup.wxss',
    ])
    // Styles and WXS are copied (the main package keeps its own); code and components are not.
    expect(a.copied).toEqual(['ui/common/style.wxss', 'ui/common/utils.wxs'])
    // From packages/a/miniprogram_npm/ui/<name>/ up to the root's miniprogram_npm/ui/...; dayjs moved, so `require("dayjs")` stays.
    const back = '../../../../../miniprogram_npm/ui'
    expect(a.rewrites).toEqual({
      'ui/calendar/calendar.js': { tslib: `${back}/miniprogram_npm/tslib/index`, '../common/base': `${back}/common/base` },
      'ui/calendar/calendar.json': { '../button/button': `${back}/button/button` },
      'ui/popup/popup.js': { tslib: `${back}/miniprogram_npm/tslib/index`, '../common/base': `${back}/common/base` },
      'ui/popup/popup.json': { '../icon/icon': `${back}/icon/icon` },
    })
    expect(a.bytes).toBeGreaterThan(0)
  })

  test('an independent subpackage gets a full copy of what it uses, pointing nowhere else', () => {
    const c = byRoot(plan, 'packages/c')!
    expect(c).toMatchObject({ independent: true, moved: ['ui/badge/badge'], rewrites: {} })
    expect(c.files).toEqual([
      'ui/badge/badge.js',
      'ui/badge/badge.json',
      'ui/badge/badge.wxml',
      'ui/badge/badge.wxss',
      'ui/common/base.js',
      'ui/common/style.wxss',
      'ui/miniprogram_npm/tslib/index.js',
    ])
  })

  test('an import in library code that resolves to nothing stops the build, naming the file', () => {
    const broken = writeProject({ ...projectFiles(), 'miniprogram/miniprogram_npm/ui/calendar/helper.js': 'import{x}from"../common/missing";' })
    try {
      expect(() => planSubpackageNpm(path.join(broken, 'miniprogram'))).toThrow('miniprogram_npm/ui/calendar/helper.js: cannot resolve module "../common/missing"')
    } finally {
      rmSync(broken, { recursive: true, force: true })
    }
  })
})

describe('the layout on disk', () => {
  let dir: string
  let root: string
  beforeEach(() => {
    dir = writeProject(projectFiles())
    root = path.join(dir, 'miniprogram')
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  test('writes each subpackage exactly its files, rewritten, and the same bytes every run', () => {
    const plan = layoutSubpackageNpm(root)
    const a = path.join(root, 'packages/a/miniprogram_npm')
    expect(listFiles(a).sort()).toEqual(byRoot(plan, 'packages/a')!.files)
    expect(listFiles(path.join(root, 'packages/b/miniprogram_npm'))).toEqual([])
    expect(JSON.parse(readFileSync(path.join(a, 'ui/calendar/calendar.json'), 'utf8'))).toEqual({
      component: true,
      usingComponents: { 't-popup': '../popup/popup', 't-button': '../../../../../miniprogram_npm/ui/button/button' },
    })
    expect(readFileSync(path.join(a, 'ui/calendar/calendar.js'), 'utf8')).toBe(
      'import{__assign}from"../../../../../miniprogram_npm/ui/miniprogram_npm/tslib/index";import{prefix}from"../../../../../miniprogram_npm/ui/common/base";' +
        'import{thisYear}from"./helper";Component(__assign({},{data:{prefix:prefix}}));',
    )
    // Copied and moved files are byte for byte the root's when nothing in them points elsewhere.
    for (const file of ['ui/calendar/helper.js', 'ui/common/utils.wxs', 'ui/popup/popup.wxml']) {
      expect(readFileSync(path.join(a, file), 'utf8')).toBe(readFileSync(path.join(root, 'miniprogram_npm', file), 'utf8'))
    }
    const snapshot = () => Object.fromEntries(listFiles(path.join(root, 'packages')).map((f) => [f, readFileSync(path.join(root, 'packages', f), 'utf8')]))
    const first = snapshot()
    expect(layoutSubpackageNpm(root)).toEqual(plan)
    expect(snapshot()).toEqual(first)
    // The root's miniprogram_npm is left complete.
    expect(existsSync(path.join(root, 'miniprogram_npm/ui/calendar/calendar.js'))).toBe(true)
  })

  test('removes what a subpackage no longer gets, and leaves its other npm packages alone', () => {
    layoutSubpackageNpm(root)
    const own = path.join(root, 'packages/a/miniprogram_npm/their-own/index.js')
    mkdirSync(path.dirname(own), { recursive: true })
    writeFileSync(own, 'module.exports = 1')
    // The main package starts using the calendar: it leaves packages/a.
    const home = path.join(root, 'pages/home/index.json')
    writeFileSync(home, JSON.stringify({ usingComponents: { 't-button': 'ui/button/button', 't-tabs': 'ui/tabs/tabs', 't-calendar': 'ui/calendar/calendar' } }))
    const plan = layoutSubpackageNpm(root)
    expect(byRoot(plan, 'packages/a')).toBeUndefined()
    expect(listFiles(path.join(root, 'packages/a/miniprogram_npm'))).toEqual(['their-own/index.js'])
    // The independent subpackage keeps its copy; with nothing left, a subpackage's miniprogram_npm goes.
    writeFileSync(path.join(root, 'packages/c/index.json'), JSON.stringify({ usingComponents: {} }))
    writeFileSync(path.join(root, 'packages/c/index.wxml'), '<view/>')
    layoutSubpackageNpm(root)
    expect(existsSync(path.join(root, 'packages/c/miniprogram_npm'))).toBe(false)
  })

  test('the official compiler resolves each component where the plan says, and ships moved ones only in their subpackage', () => {
    const plan = layoutSubpackageNpm(root)
    const compiled = compileProject(dir)
    const emitted = Object.keys(compiled.sizes)
    const app = readAppJson(root)
    // Every page's usingComponents, as the compiler resolved them, against the resolver the build and the harness use.
    const isFile = (rel: string) => existsSync(path.join(root, rel))
    for (const page of allPages(app)) {
      const source = JSON.parse(readFileSync(path.join(root, `${page}.json`), 'utf8')) as { usingComponents: Record<string, string> }
      const resolved = compiled.json[`${page}.json`]!.usingComponents!
      for (const [tag, target] of Object.entries(source.usingComponents)) {
        expect(path.posix.join(path.posix.dirname(page), resolved[tag]!)).toBe(resolveComponent(isFile, path.posix.dirname(page), target))
      }
    }
    expect(compiled.json['packages/a/index.json']!.usingComponents).toEqual({
      't-calendar': './miniprogram_npm/ui/calendar/calendar',
      't-picker': '../../miniprogram_npm/ui/picker/picker',
      't-button': '../../miniprogram_npm/ui/button/button',
    })
    expect(compiled.json['packages/a/miniprogram_npm/ui/calendar/calendar.json']!.usingComponents).toEqual({
      't-popup': '../popup/popup',
      't-button': '../../../../../miniprogram_npm/ui/button/button',
    })
    // What moved is emitted in its subpackage and not in the main package; the rest of the library stays.
    for (const file of byRoot(plan, 'packages/a')!.files) expect(emitted).toContain(`packages/a/miniprogram_npm/${file}`)
    expect(emitted.filter((f) => /^miniprogram_npm\/ui\/(calendar|popup|badge|miniprogram_npm\/dayjs)\//.test(f))).toEqual([])
    expect(emitted).toEqual(expect.arrayContaining(['miniprogram_npm/ui/button/button.js', 'miniprogram_npm/ui/picker/picker.js', 'miniprogram_npm/ui/tab-panel/tab-panel.js']))
    expect(emitted).toContain('packages/c/miniprogram_npm/ui/badge/badge.js')
  }, 150_000)
})

/**
 * 分包异步化: a main-package page uses a component of subpackage `packages/d` (a subpackage of
 * components only, no pages), with a `componentPlaceholder` that WeChat renders until `packages/d`
 * has loaded. What that component uses is packages/d's alone, so it moves there: the main page's
 * reference does not hold it in the main package.
 */
describe('a subpackage component that a main-package page uses asynchronously (componentPlaceholder)', () => {
  let dir: string
  let root: string
  beforeAll(() => {
    const files = projectFiles()
    const app = JSON.parse(files['miniprogram/app.json']!) as AppJson
    app.subpackages!.push({ root: 'packages/d', pages: [] })
    const tour = 'miniprogram/miniprogram_npm/ui/tour/tour'
    dir = writeProject({
      ...files,
      'miniprogram/app.json': JSON.stringify(app),
      'miniprogram/pages/home/index.json': JSON.stringify({
        usingComponents: { 't-button': 'ui/button/button', 't-tabs': 'ui/tabs/tabs', 'app-tour': '/packages/d/tour/index' },
        componentPlaceholder: { 'app-tour': 'view' },
      }),
      'miniprogram/pages/home/index.wxml': '<t-button/><t-tabs/><app-tour/>',
      'miniprogram/packages/d/tour/index.json': JSON.stringify({ component: true, usingComponents: { 't-tour': 'ui/tour/tour' } }),
      'miniprogram/packages/d/tour/index.wxml': '<t-tour/>',
      'miniprogram/packages/d/tour/index.js': 'Component({})',
      [`${tour}.json`]: JSON.stringify({ component: true, usingComponents: { 't-button': '../button/button' } }),
      [`${tour}.wxml`]: '<view class="tour"><t-button/></view>',
      [`${tour}.wxss`]: ".tour{position:fixed}",
      [`${tour}.js`]: 'import{__assign}from"tslib";Component(__assign({},{}));',
    })
    root = path.join(dir, 'miniprogram')
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  test('the component it uses moves to that subpackage; what the main package uses stays', () => {
    const plan = planSubpackageNpm(root)
    expect(plan.mainFiles.filter((f) => f.startsWith('ui/tour/'))).toEqual([])
    expect(plan.mainFiles).toEqual(expect.arrayContaining(['ui/button/button.json', 'ui/tabs/tabs.json']))
    const d = byRoot(plan, 'packages/d')!
    expect(d).toMatchObject({ moved: ['ui/tour/tour'], files: ['ui/tour/tour.js', 'ui/tour/tour.json', 'ui/tour/tour.wxml', 'ui/tour/tour.wxss'], copied: [] })
    const back = '../../../../../miniprogram_npm/ui'
    expect(d.rewrites).toEqual({
      'ui/tour/tour.js': { tslib: `${back}/miniprogram_npm/tslib/index` },
      'ui/tour/tour.json': { '../button/button': `${back}/button/button` },
    })
    // The other subpackages are planned as before.
    expect(byRoot(plan, 'packages/a')!.moved).toEqual(['ui/calendar/calendar', 'ui/popup/popup'])
  })

  test('each use of another subpackage\'s component needs a placeholder that is there at once (the compiler does not check it)', () => {
    expect(checkPlaceholders(root)).toEqual([])
    const home = path.join(root, 'pages/home/index.json')
    const original = readFileSync(home, 'utf8')
    const using = { 't-button': 'ui/button/button', 't-tabs': 'ui/tabs/tabs', 'app-tour': '/packages/d/tour/index', 'a-page': '/packages/a/index' }
    try {
      writeFileSync(home, JSON.stringify({ usingComponents: using, componentPlaceholder: { 'a-page': 'view' } }))
      expect(checkPlaceholders(root)).toEqual([
        'pages/home/index.json: "app-tour" is a component of packages/d, loaded after the page renders: give it a componentPlaceholder (e.g. "view")',
      ])
      // A placeholder from another subpackage would be missing too; a main-package one is there at once.
      writeFileSync(home, JSON.stringify({ usingComponents: using, componentPlaceholder: { 'app-tour': 'a-page', 'a-page': 't-button' } }))
      expect(checkPlaceholders(root)).toEqual([
        'pages/home/index.json: the placeholder of "app-tour", "a-page", is a component of packages/a: a placeholder must be a built-in or of this package or the main package',
      ])
    } finally {
      writeFileSync(home, original)
    }
  })

  test('the official compiler accepts it and ships the component in the subpackage only', () => {
    const plan = layoutSubpackageNpm(root)
    const compiled = compileProject(dir)
    const emitted = Object.keys(compiled.sizes)
    expect(compiled.json['packages/d/tour/index.json']!.usingComponents).toEqual({ 't-tour': '../miniprogram_npm/ui/tour/tour' })
    for (const file of byRoot(plan, 'packages/d')!.files) expect(emitted).toContain(`packages/d/miniprogram_npm/${file}`)
    expect(emitted).toContain('packages/d/tour/index.js')
    expect(emitted.filter((f) => f.startsWith('miniprogram_npm/ui/tour/'))).toEqual([])
    expect(emitted).toContain('miniprogram_npm/ui/button/button.js')
  }, 150_000)
})

describe('this project', () => {
  const mpRoot = path.join(ROOT, 'miniprogram')
  const app = readAppJson(mpRoot)
  const plan = planSubpackageNpm(mpRoot, app)

  test('what a main-package page names stays in the main package; a moved file is no other package\'s', () => {
    const mainPages = allPages(app).filter((page) => packageOf(page, app) === 'main')
    const named = mainPages.flatMap((page) => {
      const json = JSON.parse(readFileSync(path.join(mpRoot, `${page}.json`), 'utf8')) as { usingComponents?: Record<string, string> }
      return Object.values(json.usingComponents ?? {}).filter((t) => !t.startsWith('.') && !t.startsWith('/'))
    })
    expect(named.length).toBeGreaterThan(0)
    for (const target of named) expect(plan.mainFiles).toContain(`${target}.json`)
    const moved = plan.subpackages.flatMap((sub) => sub.files.filter((f) => !sub.copied.includes(f)).map((f) => [sub.root, f] as const))
    for (const [root, file] of moved) {
      expect(plan.mainFiles).not.toContain(file)
      expect(plan.subpackages.filter((s) => s.root !== root && s.files.includes(file) && !s.copied.includes(file))).toEqual([])
    }
  })

  test("every component of TDesign's dist resolves completely: used by one subpackage, each moves there", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mp-all-tdesign-'))
    try {
      symlinkSync(path.join(mpRoot, 'miniprogram_npm'), path.join(dir, 'miniprogram_npm'))
      const tdesign = path.join(mpRoot, 'miniprogram_npm/tdesign-miniprogram')
      const names = readdirSync(tdesign).filter((name) => existsSync(path.join(tdesign, name, `${name}.json`)))
      expect(names.length).toBeGreaterThan(90)
      const all: AppJson = { pages: ['pages/home/index'], subpackages: [{ root: 'packages/all', pages: ['index'] }] }
      writeFileSync(path.join(dir, 'app.json'), JSON.stringify(all))
      for (const [page, using] of [
        ['pages/home/index', {}],
        ['packages/all/index', Object.fromEntries(names.map((name) => [`t-${name}`, `tdesign-miniprogram/${name}/${name}`]))],
      ] as const) {
        mkdirSync(path.dirname(path.join(dir, page)), { recursive: true })
        writeFileSync(path.join(dir, `${page}.json`), JSON.stringify({ usingComponents: using }))
        writeFileSync(path.join(dir, `${page}.wxml`), '<view/>')
      }
      const everything = planSubpackageNpm(dir)
      expect(everything.mainFiles).toEqual([])
      const moved = everything.subpackages[0]!.moved
      for (const name of names) expect(moved).toContain(`tdesign-miniprogram/${name}/${name}`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('every component used from another subpackage has a placeholder', () => {
    expect(checkPlaceholders(mpRoot, app)).toEqual([])
  })

  test('planning is deterministic', () => {
    // (How long it takes is not a test's business: the build prints it.)
    const again = planSubpackageNpm(mpRoot, app)
    expect(again).toEqual(plan)
  })

  describe('with t-calendar used by the admin subpackage only', () => {
    let copy: string
    beforeAll(() => {
      copy = mkdtempSync(path.join(os.tmpdir(), 'mp-calendar-'))
      cpSync(path.join(ROOT, 'project.config.json'), path.join(copy, 'project.config.json'))
      cpSync(mpRoot, path.join(copy, 'miniprogram'), { recursive: true })
      const json = path.join(copy, 'miniprogram/packages/admin/index.json')
      const page = JSON.parse(readFileSync(json, 'utf8')) as { usingComponents: Record<string, string> }
      page.usingComponents['t-calendar'] = 'tdesign-miniprogram/calendar/calendar'
      writeFileSync(json, JSON.stringify(page))
      writeFileSync(path.join(copy, 'miniprogram/packages/admin/index.wxml'), `${readFileSync(path.join(mpRoot, 'packages/admin/index.wxml'), 'utf8')}<t-calendar visible="{{false}}"/>`)
    })
    afterAll(() => rmSync(copy, { recursive: true, force: true }))

    test('the calendar and what only it needs compile into the subpackage, and the main package ships none of it', () => {
      const calendarPlan = layoutSubpackageNpm(path.join(copy, 'miniprogram'))
      expect(plan.mainFiles.filter((f) => f.startsWith('tdesign-miniprogram/calendar/'))).toEqual([])
      const admin = byRoot(calendarPlan, 'packages/admin')!
      expect(admin.moved).toContain('tdesign-miniprogram/calendar/calendar')
      // No main-package page uses t-popup any more (the privacy popup draws its own sheet): the main package ships none of it.
      expect(calendarPlan.mainFiles.filter((f) => f.startsWith('tdesign-miniprogram/popup/'))).toEqual([])

      const compiled = compileProject(copy)
      const emitted = Object.keys(compiled.sizes)
      expect(compiled.json['packages/admin/index.json']!.usingComponents!['t-calendar']).toBe('./miniprogram_npm/tdesign-miniprogram/calendar/calendar')
      // Each file that moved ships in its subpackage and not in the main package; what the main package reaches stays there.
      for (const sub of calendarPlan.subpackages) {
        for (const file of sub.files) {
          expect(emitted).toContain(`${sub.root}/miniprogram_npm/${file}`)
          if (!sub.copied.includes(file)) expect(emitted).not.toContain(`miniprogram_npm/${file}`)
        }
      }
      for (const file of calendarPlan.mainFiles) expect(emitted).toContain(`miniprogram_npm/${file}`)
    }, 150_000)
  })
})
