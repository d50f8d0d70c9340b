/**
 * TDesign (and the packages it brings, such as tinycolor2's ESM build) ship ES modules. The
 * mini-program runtime has only CommonJS `require`: DevTools' ES6-to-ES5 transform used to turn
 * `import`/`export` into `require`/`exports`, and the project turns that transform off (`es6: false`
 * in project.config.json, a base library with ES2020 as the floor; see docs/miniprogram.md) to ship
 * modern syntax instead of its ES5 helpers. So the npm build converts what it laid out in
 * `miniprogram_npm/` once, here: ES modules become CommonJS (swc, module transform only: the syntax
 * stays as TDesign wrote it), minified again. CommonJS files are left as they are, except that a
 * package entry gets `exports.default` (itself) when it has none, for the ES modules that import it
 * by default (`import dayjs from "dayjs"`). Idempotent: converted files are CommonJS.
 *
 * tslib, which every TDesign component requires, is cut down to the helpers TDesign imports (three
 * of its forty: 1 KB instead of 12 in the main package).
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import * as esbuild from 'esbuild'
import { ROOT } from '../paths'
import { isEsModule, toCommonJs } from './es-module'
import { MINIPROGRAM_ROOT } from './project'

const DEFAULT_OF_ITSELF = ';module.exports&&module.exports.default===void 0&&Object.defineProperty(module.exports,"default",{value:module.exports});'

function jsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name)
    if (statSync(full).isDirectory()) return jsFiles(full)
    return name.endsWith('.js') ? [full] : []
  })
}

/** A package's own entry (`miniprogram_npm/<name>/index.js`) written as CommonJS (not converted here: those start with "use strict"). */
function isCommonJsEntry(file: string, code: string): boolean {
  const parts = file.split(path.sep)
  return parts.at(-1) === 'index.js' && parts.at(-3) === 'miniprogram_npm' && !code.startsWith('"use strict";')
}

const TDESIGN_DIST = path.join(ROOT, 'node_modules/tdesign-miniprogram/miniprogram_dist')

/** The tslib helpers TDesign's modules import (`import{__decorate,__rest}from"tslib"`). */
export function tslibHelpersUsed(dist = TDESIGN_DIST): string[] {
  const names = new Set<string>()
  for (const file of jsFiles(dist)) {
    for (const m of readFileSync(file, 'utf8').matchAll(/import\s*\{([^}]*)\}\s*from\s*["']tslib["']/g)) {
      for (const part of m[1]!.split(',')) if (part.trim()) names.add(part.trim().split(/\s+as\s+/)[0]!)
    }
  }
  return [...names].sort()
}

/** tslib's helpers `names` only, as one minified CommonJS module, headed by the list. */
function trimmedTslib(names: string[]): string {
  const header = `/* tslib, trimmed to ${names.join(',')} */`
  const out = esbuild.buildSync({
    stdin: { contents: `export { ${names.join(', ')} } from 'tslib/tslib.es6.js'`, resolveDir: ROOT, loader: 'js' },
    bundle: true,
    format: 'cjs',
    target: 'es2020',
    minify: true,
    write: false,
    legalComments: 'none',
  })
  return `${header}\n${out.outputFiles[0]!.text}`
}

export function commonJsNpm(root = MINIPROGRAM_ROOT): { converted: number; entries: number; tslib: string[] } {
  let converted = 0
  let entries = 0
  const helpers = tslibHelpersUsed()
  const tslib = trimmedTslib(helpers)
  for (const file of jsFiles(path.join(root, 'miniprogram_npm'))) {
    if (file.endsWith(`${path.sep}tslib${path.sep}index.js`) && helpers.length > 0) {
      if (readFileSync(file, 'utf8') !== tslib) writeFileSync(file, tslib)
      continue
    }
    const code = readFileSync(file, 'utf8')
    if (isEsModule(code)) {
      writeFileSync(file, toCommonJs(code))
      converted++
    } else if (isCommonJsEntry(file, code) && !code.endsWith(DEFAULT_OF_ITSELF)) {
      writeFileSync(file, code + DEFAULT_OF_ITSELF)
      entries++
    }
  }
  return { converted, entries, tslib: helpers }
}
