/**
 * miniprogram-ci, the compiler extracted from WeChat DevTools, used offline: `packNpm` builds
 * miniprogram_npm (what DevTools' "构建 npm" does) and `compile` compiles the whole project with the
 * official toolchain. It catches broken app.json, missing pages and missing components.
 *
 * miniprogram-ci leaves handles open and prints its own logs: callers run it in a process they end
 * with process.exit(), and it works in a scratch directory because it leaves an empty folder behind.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ROOT } from '../paths'
import { MINIPROGRAM_ROOT, NPM_DIST } from './project'

type Ci = typeof import('miniprogram-ci')

let ci: Ci | undefined
function loadCi(): Ci {
  // Loaded lazily: requiring it costs about a second and prints log lines.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  ci ??= require('miniprogram-ci') as Ci
  return ci
}

/** Records which dependency versions miniprogram_npm was built from (kept outside the mini-program). */
const STAMP = path.join(ROOT, 'node_modules/.cache/miniprogram-npm.json')

/** The installed version of every mini-program dependency (package.json `dependencies`). */
function dependencyVersions(): string {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }
  const versions: Record<string, string | null> = {}
  for (const name of Object.keys(pkg.dependencies ?? {}).sort()) {
    const file = path.join(ROOT, 'node_modules', name, 'package.json')
    versions[name] = existsSync(file) ? ((JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? null) : null
  }
  return JSON.stringify(versions)
}

/** Builds miniprogram/miniprogram_npm from package.json dependencies, unless it is already current. */
export async function packNpm(force = false): Promise<{ built: boolean; packages: number; warnings: string[] }> {
  const wanted = dependencyVersions()
  const current = existsSync(STAMP) && existsSync(NPM_DIST) && readFileSync(STAMP, 'utf8') === wanted
  if (!force && current) return { built: false, packages: 0, warnings: [] }
  const result = await loadCi().packNpmManually({
    packageJsonPath: path.join(ROOT, 'package.json'),
    miniprogramNpmDistDir: MINIPROGRAM_ROOT,
  })
  mkdirSync(path.dirname(STAMP), { recursive: true })
  writeFileSync(STAMP, wanted)
  return {
    built: true,
    packages: result.miniProgramPackNum + result.otherNpmPackNum,
    warnings: result.warnList.map((w) => `${w.jsPath ?? ''} ${w.msg ?? ''}`.trim()),
  }
}

export interface CompileOptions {
  /** Project folder (holds project.config.json); defaults to the repository. */
  projectPath?: string
  appid?: string
}

/**
 * Runs miniprogram-ci work with the working directory in a scratch folder, removed afterwards:
 * miniprogram-ci leaves its cache folder in the cwd.
 */
export async function inScratchDir<T>(run: () => Promise<T>): Promise<T> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'mp-ci-'))
  const cwd = process.cwd()
  process.chdir(scratch)
  try {
    return await run()
  } finally {
    process.chdir(cwd)
    rmSync(scratch, { recursive: true, force: true })
  }
}

/**
 * The compile settings of project.config.json, which DevTools and the upload (`useProjectConfig`)
 * use: the ES6-to-ES5 transform (`es6`) and enhanced compile (`enhance`) are the project's choice,
 * so the size check measures what users download.
 */
function projectSetting(projectPath: string): { es6: boolean; es7: boolean } {
  const config = JSON.parse(readFileSync(path.join(projectPath, 'project.config.json'), 'utf8')) as { setting?: { es6?: boolean; enhance?: boolean } }
  return { es6: config.setting?.es6 ?? true, es7: config.setting?.enhance ?? false }
}

/** miniprogram-ci's two lines when it cannot fetch WeChat's list of allowed file extensions (offline). */
const WHITE_EXT_LIST_FAILURE = /getwhiteextlist|get white ext list fail/

/**
 * Runs `work` with miniprogram-ci's "[error] ... getwhiteextlist ENOTFOUND" lines replaced by one
 * that says what they mean: offline, it falls back to the list of allowed file extensions it ships
 * (the same list), so the compile is unaffected. Its other log lines pass through.
 */
export async function explainOfflineWhiteList<T>(work: () => Promise<T>): Promise<T> {
  const original = console.log
  let explained = false
  console.log = (...args: unknown[]) => {
    if (args.some((a) => typeof a === 'string' && WHITE_EXT_LIST_FAILURE.test(a))) {
      if (!explained) original('[info] miniprogram-ci: servicewechat.com is unreachable (offline), so it uses the allowed-file-extension list it ships; the compile is unaffected')
      explained = true
      return
    }
    original(...args)
  }
  try {
    return await work()
  } finally {
    console.log = original
  }
}

/** Compiles the project as DevTools does for an upload (the project's ES settings, minified). Returns path → bytes. */
export async function compile(options: CompileOptions = {}): Promise<Map<string, Buffer>> {
  const ciModule = loadCi()
  const projectPath = options.projectPath ?? ROOT
  return inScratchDir(async () => {
    const project = new ciModule.Project({
      appid: options.appid ?? 'wx0000000000000000',
      type: 'miniProgram',
      projectPath,
      // Compiling offline needs a key string; nothing is uploaded.
      privateKey: 'offline-compile',
      ignores: ['node_modules/**/*', 'cloudfunctions/**/*', 'tools/**/*', 'test/**/*', 'docs/**/*', '.cloud/**/*'],
    })
    project.attr = async () => ciModule.DefaultProjectAttr
    const out = await explainOfflineWhiteList(() =>
      ciModule.getCompiledResult({
        project,
        version: '0.0.0',
        setting: { ...projectSetting(projectPath), minify: true, minifyJS: true, minifyWXML: true, minifyWXSS: true, autoPrefixWXSS: true },
      }),
    )
    const files = new Map<string, Buffer>()
    for (const [file, content] of Object.entries(out)) {
      files.set(file, typeof content === 'string' ? Buffer.from(content) : Buffer.from(content))
    }
    return files
  })
}
