/**
 * The mini-program's build-time settings: `miniprogram/config.build.ts` (gitignored), written from
 * deploy.config.json by `npm run build` (a development build: `release: false`) and by
 * `npm run release` / `npm run preview` into their staged copy (`release: true`).
 * miniprogram/config.ts reads it: the environment id, and cloud mode for release builds.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as esbuild from 'esbuild'
import { ROOT } from '../paths'
import { DEPLOY_CONFIG_FILE } from './config'

export const BUILD_CONFIG_NAME = 'config.build.ts'

/** What the mini-program's miniprogram/config.ts evaluates to in a build. */
export interface BuiltAppConfig {
  mode: string
  cloudEnv: string
}

export interface BuildSettings {
  cloudEnv: string
  /** A build for upload (release or preview): cloud mode, whatever a developer set for DevTools. */
  release: boolean
}

export function buildConfigSource(settings: BuildSettings): string {
  return [
    '// Generated from deploy.config.json by `npm run build` (tools/deploy/app-config.ts). Do not edit: it is',
    '// rewritten on every build; `npm run release` and `npm run preview` write release: true into their staged copy.',
    `export const build: { cloudEnv: string; release: boolean } = { cloudEnv: ${JSON.stringify(settings.cloudEnv)}, release: ${settings.release} }`,
    '',
  ].join('\n')
}

/**
 * The environment id from deploy.config.json, read without the full schema: a development build
 * must work before the deploy configuration is complete.
 */
export function configuredEnvId(file = DEPLOY_CONFIG_FILE): string {
  if (!existsSync(file)) return 'your-env-id'
  const raw = JSON.parse(readFileSync(file, 'utf8')) as { envId?: unknown }
  if (typeof raw.envId !== 'string' || !raw.envId) throw new Error(`${path.basename(file)}: "envId" must be a string (云开发控制台 → 概览 → 环境 ID).`)
  return raw.envId
}

/** Writes miniprogram/config.build.ts under `root` when its content changes; returns the path. */
export function writeBuildConfig(settings: BuildSettings, root = ROOT): string {
  const file = path.join(root, 'miniprogram', BUILD_CONFIG_NAME)
  const source = buildConfigSource(settings)
  if (!existsSync(file) || readFileSync(file, 'utf8') !== source) writeFileSync(file, source)
  return file
}

/**
 * What `miniprogram/config.ts` evaluates to in the project at `root`: bundled with esbuild and run,
 * so the check reads the configuration the uploaded code will really have.
 */
export async function evaluateAppConfig(root: string): Promise<BuiltAppConfig> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'app-config-'))
  try {
    const out = path.join(dir, 'config.js')
    await esbuild.build({ entryPoints: [path.join(root, 'miniprogram/config.ts')], outfile: out, bundle: true, platform: 'node', format: 'cjs', logLevel: 'silent' })
    const module = { exports: {} as { config?: { mode?: unknown; cloudEnv?: unknown } } }
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    new Function('module', 'exports', readFileSync(out, 'utf8'))(module, module.exports)
    const config = module.exports.config
    return { mode: String(config?.mode), cloudEnv: String(config?.cloudEnv) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
