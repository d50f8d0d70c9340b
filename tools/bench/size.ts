/**
 * `npm run bench:size`: package sizes from the official compiler's output — main package, each
 * subpackage, total and TDesign's share — for this project, and for the same project with all of
 * TDesign registered globally and its full icon stylesheet (what pruning saves).
 *
 *   npm run bench:size -- --json
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { compile } from '../miniprogram/ci'
import { readAppJson } from '../miniprogram/project'
import { formatReport, kb, measure, type SizeReport } from '../miniprogram/size'
import { layoutSubpackageNpm } from '../miniprogram/subpackage-npm'
import { ROOT } from '../paths'

const TDESIGN_DIST = path.join(ROOT, 'node_modules/tdesign-miniprogram/miniprogram_dist')

function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((sum, name) => {
    const full = path.join(dir, name)
    const stat = statSync(full)
    return sum + (stat.isDirectory() ? dirBytes(full) : stat.size)
  }, 0)
}

/** A copy of the project whose app.json registers every TDesign component, with the full icon set. */
function allOfTdesignProject(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-size-'))
  cpSync(path.join(ROOT, 'project.config.json'), path.join(dir, 'project.config.json'))
  cpSync(path.join(ROOT, 'miniprogram'), path.join(dir, 'miniprogram'), { recursive: true })
  const npm = path.join(dir, 'miniprogram/miniprogram_npm/tdesign-miniprogram')
  cpSync(path.join(TDESIGN_DIST, 'icon/icon.wxss'), path.join(npm, 'icon/icon.wxss'))
  const components: Record<string, string> = {}
  for (const name of readdirSync(npm)) {
    if (statSync(path.join(npm, name)).isDirectory() && readdirSync(path.join(npm, name)).includes(`${name}.json`)) {
      components[`t-${name}`] = `tdesign-miniprogram/${name}/${name}`
    }
  }
  const appJsonPath = path.join(dir, 'miniprogram/app.json')
  const app = JSON.parse(readFileSync(appJsonPath, 'utf8')) as { usingComponents?: Record<string, string> }
  app.usingComponents = { ...app.usingComponents, ...components }
  writeFileSync(appJsonPath, JSON.stringify(app, null, 2))
  // Now that the main package uses every component, none belongs in a subpackage.
  layoutSubpackageNpm(path.join(dir, 'miniprogram'))
  return dir
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { json: { type: 'boolean', default: false } } })
  const ours = measure(await compile(), readAppJson())
  const fullDir = allOfTdesignProject()
  let full: SizeReport
  try {
    full = measure(await compile({ projectPath: fullDir }), readAppJson(path.join(fullDir, 'miniprogram')))
  } finally {
    rmSync(fullDir, { recursive: true, force: true })
  }
  const tdesignDistBytes = dirBytes(TDESIGN_DIST)
  if (values.json) {
    console.log(JSON.stringify({ project: ours, allOfTdesign: full, tdesignDistBytes }, null, 2))
    return
  }
  console.log('\nThis project (official compiler output, minified as on upload):\n')
  console.log(formatReport(ours))
  console.log('\nThe same project with all of TDesign registered in app.json and its full icon stylesheet:\n')
  console.log(formatReport(full))
  console.log(
    `\nTDesign's dist on disk: ${kb(tdesignDistBytes)} KB. Pruning saves ${kb(full.main.bytes - ours.main.bytes)} KB of the main package` +
      ` (${((100 * (full.main.bytes - ours.main.bytes)) / full.main.bytes).toFixed(0)}%).\n`,
  )
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
