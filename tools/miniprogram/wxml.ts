/**
 * Checks every .wxml of the project with the official WXML compiler (wcc, shipped in
 * miniprogram-compiler): the DevTools build reports syntax errors only when a page is opened, so
 * `npm test` runs wcc on each file.
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { ROOT } from '../paths'
import { MINIPROGRAM_ROOT } from './project'

const WCC = path.join(ROOT, 'node_modules/miniprogram-compiler/bin', process.platform === 'darwin' ? 'mac/wcc' : process.platform === 'win32' ? 'windows/wcc.exe' : 'linux/wcc')

export function listWxml(dir = MINIPROGRAM_ROOT): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (name === 'miniprogram_npm' || name.startsWith('.')) return []
    const full = path.join(dir, name)
    if (statSync(full).isDirectory()) return listWxml(full)
    return name.endsWith('.wxml') ? [full] : []
  })
}

export interface WxmlProblem {
  file: string
  message: string
}

export function checkWxml(files = listWxml(), root = MINIPROGRAM_ROOT): WxmlProblem[] {
  try {
    chmodSync(WCC, 0o755)
  } catch {
    // read-only install: try to run it as is
  }
  const problems: WxmlProblem[] = []
  for (const file of files) {
    const relative = path.relative(root, file).replace(/\\/g, '/')
    const run = spawnSync(WCC, ['-d', '-cc', '0', relative, '-gn', '$gwx'], { cwd: root, maxBuffer: 16 * 1024 * 1024 })
    if (run.error) throw run.error
    if (run.status !== 0) problems.push({ file: relative, message: run.stderr.toString().trim() || `wcc exited with ${run.status}` })
  }
  return problems
}
