/**
 * Every subpackage page loads each npm component from where `npm run build` put it
 * (tools/miniprogram/subpackage-npm.ts): the subpackage's own miniprogram_npm for the components
 * only it uses, the main package's for the rest; and it renders.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { allPages, packageOf, readAppJson } from '../../tools/miniprogram/project'
import { planSubpackageNpm } from '../../tools/miniprogram/subpackage-npm'
import { mountPage, MP_ROOT } from './harness/mount'
import { deadUrl } from './harness/net'

describe('pages of this project', () => {
  const app = readAppJson()
  const plan = planSubpackageNpm()
  const subpackagePages = allPages(app).filter((page) => packageOf(page, app) !== 'main')

  test.each(subpackagePages)('%s loads each npm component from where the build put it', async (page) => {
    const sub = plan.subpackages.find((s) => s.root === packageOf(page, app))
    const json = JSON.parse(readFileSync(path.join(MP_ROOT, `${page}.json`), 'utf8')) as { usingComponents?: Record<string, string> }
    const npm = Object.values(json.usingComponents ?? {}).filter((target) => !target.startsWith('.') && !target.startsWith('/'))
    expect(npm.length).toBeGreaterThan(0)
    const m = await mountPage(page, { cloudUrl: await deadUrl(), timeoutMs: 200 })
    try {
      for (const target of npm) {
        const local = sub?.files.includes(`${target}.json`) === true
        expect(m.components).toContain(local ? `${sub!.root}/miniprogram_npm/${target}` : `miniprogram_npm/${target}`)
      }
      // With the cloud unreachable, every page ends up saying so (or what it can show without it).
      await m.waitFor(() => m.text().length > 0, 'text on the page')
    } finally {
      m.unmount()
    }
  })
})
