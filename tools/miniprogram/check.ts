/**
 * `npm run check:miniprogram`, part of `npm test`: every .wxml through wcc, a placeholder for each
 * component used from another subpackage (placeholders.ts: the compiler does not check it), the npm
 * components only one subpackage uses laid out in that subpackage (as `npm run build` does, so the
 * check measures what ships), the whole project through the official compiler, and the package-size
 * budget on its output.
 *
 *   tsx tools/miniprogram/check.ts [--project <dir>]   (default: this repository)
 */
import path from 'node:path'
import { parseArgs } from 'node:util'
import { ROOT } from '../paths'
import { compile } from './ci'
import { checkPlaceholders } from './placeholders'
import { readAppJson } from './project'
import { formatReport, measure, overBudget } from './size'
import { describePlan, layoutSubpackageNpm } from './subpackage-npm'
import { checkWxml, listWxml } from './wxml'

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { project: { type: 'string' } } })
  const projectPath = path.resolve(values.project ?? ROOT)
  const root = path.join(projectPath, 'miniprogram')

  const files = listWxml(root)
  const wxml = checkWxml(files, root)
  for (const p of wxml) console.error(`wxml: ${p.file}: ${p.message}`)
  console.log(`wcc: ${files.length - wxml.length}/${files.length} .wxml files compile`)
  const placeholders = checkPlaceholders(root)
  for (const p of placeholders) console.error(`componentPlaceholder: ${p}`)

  try {
    console.log(describePlan(layoutSubpackageNpm(root)))
  } catch (err) {
    console.error(`subpackage npm: ${(err as Error).message}`)
    return 1
  }

  const started = Date.now()
  const output = await compile({ projectPath })
  console.log(`miniprogram-ci: compiled ${output.size} files in ${Date.now() - started} ms`)
  const report = measure(output, readAppJson(root))
  console.log(formatReport(report))
  const budget = overBudget(report)
  for (const line of budget) console.error(`size budget: ${line}`)
  return wxml.length + placeholders.length + budget.length === 0 ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    // miniprogram-ci reports app.json, page and component errors as exceptions with a path.
    const e = err as { message?: string; path?: string }
    console.error(`miniprogram-ci: ${e.path ? `${e.path}: ` : ''}${e.message ?? String(err)}`)
    process.exit(1)
  },
)
