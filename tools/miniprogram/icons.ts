/**
 * TDesign's icon stylesheet (icon/icon.wxss) holds a rule for each of its 2,350 icons, about 105 KB,
 * and nearly every TDesign component pulls it into the main package. The font itself loads from a
 * CDN; only the rules are bundled. This keeps the rules for icons something can actually show:
 * every icon name that appears as a string in the project's own files, in TDesign's component
 * code (its built-in icons: close, chevron-right, ...), and in icons-keep.json (for names that
 * only arrive at runtime, e.g. from the server). Run by `npm run build`; re-run it after using a
 * new icon (`npm start` and `npm test` do).
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { ROOT } from '../paths'
import { MINIPROGRAM_ROOT, NPM_DIST } from './project'

const PRISTINE = path.join(ROOT, 'node_modules/tdesign-miniprogram/miniprogram_dist/icon/icon.wxss')
const TARGET = path.join(NPM_DIST, 'tdesign-miniprogram/icon/icon.wxss')
const TDESIGN_DIST = path.join(ROOT, 'node_modules/tdesign-miniprogram/miniprogram_dist')
export const KEEP_FILE = path.join(ROOT, 'tools/miniprogram/icons-keep.json')

const ICON_RULE = /^\.t-icon-([a-z0-9-]+):before\{content:'\\[0-9A-F]+';\}$/
const QUOTED_NAME = /["'`]([a-z0-9]+(?:-[a-z0-9]+)*)["'`]/g

function walk(dir: string, accept: (file: string) => boolean, skip: (dir: string) => boolean = () => false): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name)
    if (statSync(full).isDirectory()) return skip(full) ? [] : walk(full, accept, skip)
    return accept(full) ? [full] : []
  })
}

function namesIn(files: string[]): Set<string> {
  const names = new Set<string>()
  for (const file of files) {
    for (const match of readFileSync(file, 'utf8').matchAll(QUOTED_NAME)) names.add(match[1]!)
  }
  return names
}

/** Every string that could name an icon: in the project, in TDesign's code, in the keep list. */
export function candidateIconNames(): Set<string> {
  const project = walk(
    MINIPROGRAM_ROOT,
    (f) => /\.(ts|js|wxml|json)$/.test(f),
    (d) => path.basename(d) === 'miniprogram_npm',
  )
  const tdesign = walk(TDESIGN_DIST, (f) => /\.(js|wxml)$/.test(f) && !f.includes(`${path.sep}icon${path.sep}`))
  const keep = JSON.parse(readFileSync(KEEP_FILE, 'utf8')) as { keep: string[] }
  return new Set([...namesIn(project), ...namesIn(tdesign), ...keep.keep])
}

/** Icon names the project's own files use (a subset of the candidates, for checks). */
export function projectIconNames(): Set<string> {
  const all = allIconNames()
  const files = walk(MINIPROGRAM_ROOT, (f) => /\.(ts|wxml)$/.test(f), (d) => path.basename(d) === 'miniprogram_npm')
  return new Set([...namesIn(files)].filter((name) => all.has(name)))
}

export function allIconNames(css = readFileSync(PRISTINE, 'utf8')): Set<string> {
  const names = new Set<string>()
  for (const line of css.split('\n')) {
    const match = ICON_RULE.exec(line)
    if (match) names.add(match[1]!)
  }
  return names
}

export function pruneIconCss(css: string, keep: Set<string>): { css: string; kept: number; total: number } {
  let kept = 0
  let total = 0
  const lines = css.split('\n').filter((line) => {
    const match = ICON_RULE.exec(line)
    if (!match) return true
    total++
    if (!keep.has(match[1]!)) return false
    kept++
    return true
  })
  return { css: lines.join('\n'), kept, total }
}

/** Rewrites miniprogram_npm's icon.wxss from TDesign's pristine copy. */
export function pruneIcons(): { kept: number; total: number; bytesBefore: number; bytesAfter: number } {
  const pristine = readFileSync(PRISTINE, 'utf8')
  const result = pruneIconCss(pristine, candidateIconNames())
  writeFileSync(TARGET, result.css)
  return { kept: result.kept, total: result.total, bytesBefore: Buffer.byteLength(pristine), bytesAfter: Buffer.byteLength(result.css) }
}
