/**
 * The mini-program's quality gates: the wcc check, the official compile (through the same CLI
 * `npm test` runs), the size accounting, and the icon pruning.
 */
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { allIconNames, projectIconNames, pruneIconCss } from '../../tools/miniprogram/icons'
import { type AppJson, readAppJson } from '../../tools/miniprogram/project'
import { BUDGET_KB, measure, overBudget } from '../../tools/miniprogram/size'
import { checkWxml, listWxml } from '../../tools/miniprogram/wxml'
import { ROOT } from '../../tools/paths'

const NPM_ICON_CSS = path.join(ROOT, 'miniprogram/miniprogram_npm/tdesign-miniprogram/icon/icon.wxss')
const PRISTINE_ICON_CSS = path.join(ROOT, 'node_modules/tdesign-miniprogram/miniprogram_dist/icon/icon.wxss')

describe('wcc check', () => {
  test('every .wxml of the project compiles', () => {
    const files = listWxml()
    expect(files.length).toBeGreaterThanOrEqual(3)
    expect(checkWxml(files)).toEqual([])
  })

  test('reports a syntax error with the file and position', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'wxml-'))
    writeFileSync(path.join(dir, 'ok.wxml'), '<view>{{a}}</view>')
    writeFileSync(path.join(dir, 'broken.wxml'), '<view><text>x</view>')
    const problems = checkWxml(listWxml(dir), dir)
    rmSync(dir, { recursive: true, force: true })
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatchObject({ file: 'broken.wxml' })
    expect(problems[0]!.message).toMatch(/broken\.wxml:1:\d+/)
  })
})

describe('size accounting', () => {
  const app: AppJson = { pages: ['pages/home/index'], subpackages: [{ root: 'packages/me', pages: ['index'] }] }
  const files = new Map<string, Buffer>([
    ['app.js', Buffer.alloc(1000)],
    ['pages/home/index.js', Buffer.alloc(2000)],
    ['miniprogram_npm/tdesign-miniprogram/button/button.js', Buffer.alloc(3000)],
    ['packages/me/index.js', Buffer.alloc(500)],
    ['project.config.json', Buffer.alloc(9999)],
  ])

  test('attributes each compiled file to its package and counts TDesign', () => {
    const report = measure(files, app)
    expect(report.main).toMatchObject({ bytes: 6000, tdesignBytes: 3000, files: 3 })
    expect(report.subpackages).toEqual([{ name: 'packages/me', bytes: 500, tdesignBytes: 0, files: 1 }])
    expect(report.totalBytes).toBe(6500)
  })

  test('names every package over its budget', () => {
    const report = measure(files, app)
    expect(overBudget(report)).toEqual([])
    expect(overBudget(report, { main: 5, subpackage: 0.4, total: 6 })).toEqual([
      'main package is 5.9 KB, budget 5 KB',
      'subpackage packages/me is 0.5 KB, budget 0.4 KB',
      'total is 6.3 KB, budget 6 KB',
    ])
    expect(overBudget(report, { main: 6, subpackage: 0.4, total: 7, subpackages: { 'packages/me': 0.5 } })).toEqual([])
    expect(overBudget(report, { main: 6, subpackage: 1, total: 7, subpackages: { 'packages/me': 0.4 } })).toEqual(['subpackage packages/me is 0.5 KB, budget 0.4 KB'])
    // The first screen's budget (issue 14): what every user downloads before anything shows.
    expect(BUDGET_KB.main).toBeLessThanOrEqual(150)
    expect(BUDGET_KB.subpackage).toBeLessThanOrEqual(40)
  })
})

describe('TDesign icon pruning', () => {
  test('keeps the rules of the given icons and every non-icon rule', () => {
    const css = [
      "@import '../common/style/index.wxss';@font-face{font-family:t;}",
      '.t-icon-base{font-style:normal;}',
      ".t-icon-add:before{content:'\\E00D';}",
      ".t-icon-close:before{content:'\\E0A1';}",
      ".t-icon-zoom-in:before{content:'\\E92E';}",
    ].join('\n')
    const pruned = pruneIconCss(css, new Set(['close']))
    expect(pruned).toMatchObject({ kept: 1, total: 3 })
    expect(pruned.css).toContain('.t-icon-base')
    expect(pruned.css).toContain('@font-face')
    expect(pruned.css).toContain('.t-icon-close:before')
    expect(pruned.css).not.toContain('.t-icon-add:before')
  })

  test('the built stylesheet has every icon the project and TDesign use, and is a fraction of the original', () => {
    const built = readFileSync(NPM_ICON_CSS, 'utf8')
    const used = [...projectIconNames(), 'close', 'chevron-right', 'close-circle-filled', 'check']
    expect(used).toEqual(expect.arrayContaining(['error-circle', 'info-circle']))
    for (const name of used) expect(built).toContain(`.t-icon-${name}:before`)
    expect(allIconNames(readFileSync(PRISTINE_ICON_CSS, 'utf8')).size).toBeGreaterThan(2000)
    expect(built.length).toBeLessThan(readFileSync(PRISTINE_ICON_CSS, 'utf8').length / 10)
  })
})

describe('official compile (the check:miniprogram CLI)', () => {
  const run = (project: string) =>
    spawnSync(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'tools/miniprogram/check.ts', '--project', project], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    })

  let copy: string
  beforeAll(() => {
    copy = mkdtempSync(path.join(os.tmpdir(), 'mp-project-'))
    cpSync(path.join(ROOT, 'project.config.json'), path.join(copy, 'project.config.json'))
    cpSync(path.join(ROOT, 'miniprogram'), path.join(copy, 'miniprogram'), { recursive: true })
  })
  afterAll(() => rmSync(copy, { recursive: true, force: true }))

  test('fails on a page app.json lists but that does not exist', () => {
    const appJsonPath = path.join(copy, 'miniprogram/app.json')
    const app = readAppJson(path.join(copy, 'miniprogram'))
    writeFileSync(appJsonPath, JSON.stringify({ ...app, pages: [...app.pages, 'pages/missing/index'] }))
    const result = run(copy)
    writeFileSync(appJsonPath, JSON.stringify(app))
    expect(result.status).toBe(1)
    expect(result.stderr).toContain('pages/missing/index')
  }, 120_000)

  test('fails on a component a page uses but that does not exist', () => {
    const jsonPath = path.join(copy, 'miniprogram/packages/me/index.json')
    const original = readFileSync(jsonPath, 'utf8')
    const json = JSON.parse(original) as { usingComponents: Record<string, string> }
    json.usingComponents['t-nope'] = 'tdesign-miniprogram/nope/nope'
    writeFileSync(jsonPath, JSON.stringify(json))
    const result = run(copy)
    writeFileSync(jsonPath, original)
    expect(result.status).toBe(1)
    expect(result.stderr).toMatch(/t-nope|nope\/nope/)
  }, 120_000)

  test('fails on a component of another subpackage used without a componentPlaceholder (the compiler accepts it)', () => {
    const jsonPath = path.join(copy, 'miniprogram/pages/home/index.json')
    const original = readFileSync(jsonPath, 'utf8')
    const { componentPlaceholder: _, ...json } = JSON.parse(original) as { componentPlaceholder?: Record<string, string> }
    writeFileSync(jsonPath, JSON.stringify(json))
    const result = run(copy)
    writeFileSync(jsonPath, original)
    expect(result.status).toBe(1)
    expect(result.stderr).toContain('componentPlaceholder: pages/home/index.json: "onboarding-guide" is a component of packages/onboarding')
  }, 120_000)
})
