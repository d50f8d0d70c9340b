/**
 * The harness resolves npm-style `usingComponents` as WeChat does: from each component's own folder
 * up, the nearest `miniprogram_npm/` first. So a subpackage page renders the subpackage's own copy
 * of a component, and a copy that points back into the main package renders what it points at.
 * (Its own file: simulate compiles a whole root with wcc into globals, one root per environment.)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { attach, loadPage, type SimWrapper } from './harness/mount'

/** A mini-program with `ui/badge` in the root's miniprogram_npm and a different one in subpackage `packages/shop`. */
function fixture(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'harness-npm-'))
  const write = (file: string, content: unknown) => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
    writeFileSync(path.join(root, file), typeof content === 'string' ? content : JSON.stringify(content))
  }
  const component = (base: string, wxml: string, usingComponents: Record<string, string> = {}) => {
    write(`${base}.json`, { component: true, usingComponents })
    write(`${base}.wxml`, wxml)
    write(`${base}.js`, 'Component({})')
  }
  component('miniprogram_npm/ui/badge/badge', '<view>main badge|</view>')
  component('miniprogram_npm/ui/dot/dot', '<view>main dot|</view>')
  // The subpackage's copy reaches back into the main package by a relative path, as the build writes it.
  component('packages/shop/miniprogram_npm/ui/badge/badge', '<view>shop badge|</view><ui-dot/>', { 'ui-dot': '../../../../../miniprogram_npm/ui/dot/dot' })
  component('packages/shop/card/card', '<view>card:</view><ui-badge/>', { 'ui-badge': 'ui/badge/badge' })
  component('packages/shop/index', '<ui-badge/><shop-card/>', { 'ui-badge': 'ui/badge/badge', 'shop-card': './card/card' })
  component('pages/home/index', '<ui-badge/>', { 'ui-badge': 'ui/badge/badge' })
  return root
}

function render(full: string, root: string): { text: string; components: string[] } {
  jest.resetModules()
  const { id, components } = loadPage(full, root)
  const simulate = require('miniprogram-simulate') as { render(id: string): SimWrapper }
  const comp = simulate.render(id)
  const unmount = attach(comp)
  const text = comp.dom.textContent?.replace(/\s+/g, ' ').trim() ?? ''
  unmount()
  return { text, components }
}

describe('npm-style components in the harness', () => {
  let root: string
  beforeAll(() => {
    root = fixture()
  })
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  test("a subpackage page and the subpackage's own components render the subpackage's copy", () => {
    const shop = render(path.join(root, 'packages/shop/index'), root)
    expect(shop.text).toBe('shop badge|main dot|card:shop badge|main dot|')
    expect(shop.components).toEqual(
      expect.arrayContaining(['packages/shop/miniprogram_npm/ui/badge/badge', 'packages/shop/card/card', 'miniprogram_npm/ui/dot/dot']),
    )
    expect(shop.components).not.toContain('miniprogram_npm/ui/badge/badge')
  })

  test("a main-package page renders the main package's", () => {
    const home = render(path.join(root, 'pages/home/index'), root)
    expect(home.text).toBe('main badge|')
    expect(home.components).toEqual(['pages/home/index', 'miniprogram_npm/ui/badge/badge'])
  })
})
