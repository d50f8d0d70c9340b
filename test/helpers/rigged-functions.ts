/**
 * The built functions, copied into a temporary folder with test-only environment variables and
 * preloaded test modules (test/fixtures/preload: a movable clock, fault injection). The functions'
 * code is the real bundle, unchanged; only how their workers start differs. Load the folder with
 * `startCloud({ functionsDir: rigged.dir })`.
 */
import { copyFileSync, mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'

const FUNCTIONS = path.resolve(__dirname, '../../cloudfunctions')
const PRELOAD = path.resolve(__dirname, '../fixtures/preload')
const TMP = path.resolve(__dirname, '../.tmp')

export interface RiggedFunctions {
  dir: string
  /** Moves the clock of every rigged function that preloads `clock` (an ISO instant; '' = the real clock). */
  setClock(iso: string): void
  remove(): void
}

export function riggedFunctions(
  names: string[],
  options: { env?: Record<string, string>; preload?: ('clock' | 'failpoint')[]; perFunctionEnv?: Record<string, Record<string, string>> } = {},
): RiggedFunctions {
  // One recursive mkdir: it recreates test/.tmp should another test file remove it meanwhile.
  const dir = path.join(TMP, `rigged-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`)
  mkdirSync(dir, { recursive: true })
  const clockFile = path.join(dir, 'clock.txt')
  writeFileSync(clockFile, '')
  const preload = (options.preload ?? []).map((name) => `--require ${path.join(PRELOAD, `${name}.js`)}`).join(' ')
  for (const name of names) {
    const src = path.join(FUNCTIONS, name)
    mkdirSync(path.join(dir, name))
    copyFileSync(path.join(src, 'index.js'), path.join(dir, name, 'index.js'))
    copyFileSync(path.join(src, 'package.json'), path.join(dir, name, 'package.json'))
    const config = JSON.parse(readFileSync(path.join(src, 'config.json'), 'utf8')) as { envVariables?: Record<string, string> }
    config.envVariables = {
      ...config.envVariables,
      ...options.env,
      ...options.perFunctionEnv?.[name],
      TEST_CLOCK_FILE: clockFile,
      ...(preload ? { NODE_OPTIONS: preload } : {}),
    }
    writeFileSync(path.join(dir, name, 'config.json'), JSON.stringify(config))
  }
  return {
    dir,
    setClock: (iso) => writeFileSync(clockFile, iso),
    remove() {
      rmSync(dir, { recursive: true, force: true })
      try {
        rmdirSync(TMP)
      } catch {
        // another test file still uses it
      }
    },
  }
}
