/**
 * Pre-flight: what makes `npm run deploy` and `npm run release` refuse to run, each with the fix.
 * Pure checks over the configuration, the secrets, the environment's documents when they were read,
 * and (for a release) the configuration the uploaded mini-program will run with.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { templateKeys, templates } from '../../cloudfunctions/_shared/templates'
import { ROOT } from '../paths'
import type { BuiltAppConfig } from './app-config'
import { type DeployConfig, PLACEHOLDER_APPID, PLACEHOLDER_ENV_ID, type Secrets } from './config'
import type { Problem, Section } from './plan'
import type { RemoteDocuments } from './remote'

export type Command = 'deploy' | 'release' | 'preview'

export interface PreflightInput {
  command: Command
  config: DeployConfig
  secrets: Secrets
  /** The deploy's sections (for `deploy`). */
  sections?: readonly Section[]
  /** A dry run needs no credentials. */
  dryRun?: boolean
  /** The environment's config documents, when they were read. */
  remote?: RemoteDocuments | null
  /** For release/preview: the app config the uploaded build runs with. */
  built?: BuiltAppConfig
  /** project.config.json's appid (DevTools' view). */
  projectAppid?: string
}

const PLACEHOLDER_ENV = /^(your[-_]?env[-_]?id|env[-_]?id|example|placeholder|changeme|x{3,})$/i

export function isPlaceholderEnvId(envId: string): boolean {
  return envId === PLACEHOLDER_ENV_ID || PLACEHOLDER_ENV.test(envId)
}

export function readProjectAppid(root = ROOT): string | undefined {
  try {
    return (JSON.parse(readFileSync(path.join(root, 'project.config.json'), 'utf8')) as { appid?: string }).appid
  } catch {
    return undefined
  }
}

/** The checkPath the environment ends up with: the console's when it differs from what the last deploy wrote. */
function effectiveCheckPath(config: DeployConfig, remote: RemoteDocuments | null | undefined): { value: boolean; from: string } {
  const referral = (remote?.incentives?.referral ?? {}) as { checkPath?: unknown }
  const r = typeof referral.checkPath === 'boolean' ? referral.checkPath : undefined
  const applied = remote?.applied?.incentivesCheckPath
  if (r !== undefined && r !== config.incentives.checkPath && r !== applied) return { value: r, from: 'app_config/incentives in the console' }
  return { value: config.incentives.checkPath, from: 'deploy.config.json incentives.checkPath' }
}

/** Every check: the local ones, then those that depend on the environment's documents. */
export function preflight(input: PreflightInput): Problem[] {
  return [...preflightLocal(input), ...preflightDocuments(input)]
}

function collector() {
  const problems: Problem[] = []
  return {
    problems,
    error: (subject: string, message: string, fix: string) => void problems.push({ level: 'error', subject, message, fix }),
    warn: (subject: string, message: string, fix: string) => void problems.push({ level: 'warning', subject, message, fix }),
  }
}

/** Checks that need nothing but the repository and the secrets: run before any request is sent. */
export function preflightLocal(input: PreflightInput): Problem[] {
  const { config, secrets, command } = input
  const { problems, error, warn } = collector()

  if (config.appid === PLACEHOLDER_APPID) {
    error('appid', 'The AppID is the placeholder touristappid, which cannot have a cloud environment or upload code.', 'Put your AppID (公众平台 → 开发管理 → 开发设置 → AppID) in deploy.config.json "appid" (and in project.config.json for DevTools).')
  } else if (input.projectAppid && input.projectAppid !== PLACEHOLDER_APPID && input.projectAppid !== config.appid) {
    warn('appid', `project.config.json says ${input.projectAppid}, deploy.config.json says ${config.appid}: DevTools and the deploy talk to different mini-programs.`, 'Use the same AppID in both files.')
  }
  if (isPlaceholderEnvId(config.envId)) {
    error('envId', `The environment id "${config.envId}" is a placeholder.`, 'Put your environment id (云开发控制台 → 概览 → 环境 ID, e.g. prod-4g1x2y3z) in deploy.config.json "envId"; `npm run build` then writes it into the mini-program.')
  }

  if (input.built) {
    if (input.built.mode !== 'cloud') {
      error(
        'miniprogram/config.ts',
        `The ${command} build runs in "${input.built.mode}" mode: it would call a developer's laptop instead of WeChat Cloud.`,
        'Keep `mode: build.release ? \'cloud\' : ...` in miniprogram/config.ts: release and preview builds must use cloud mode.',
      )
    }
    if (input.built.cloudEnv !== config.envId) {
      error('miniprogram/config.ts', `The ${command} build calls environment "${input.built.cloudEnv}", deploy.config.json says "${config.envId}".`, 'Keep `cloudEnv: build.cloudEnv` in miniprogram/config.ts (written from deploy.config.json by the build).')
    }
  }

  for (const problem of secrets.problems) error('secrets', problem, 'Fix the variable in the environment or in .env.deploy (docs/deploy.md#credentials).')
  if (!input.dryRun) {
    if (command === 'deploy' && !secrets.tencentCloud) {
      error(
        'TENCENTCLOUD_SECRETID',
        'No Tencent Cloud API keys: functions, database, storage and config documents are set through the Tencent Cloud API.',
        'Create a key in the Tencent Cloud console (log in with 微信公众号登录 as the mini-program\'s admin → 访问管理 → API密钥管理) and set TENCENTCLOUD_SECRETID and TENCENTCLOUD_SECRETKEY in the environment or .env.deploy. Without keys, docs/deploy.md#without-api-keys lists the console steps.',
      )
    }
    if ((command === 'release' || command === 'preview') && !secrets.uploadKey) {
      error(
        'MINIPROGRAM_CI_PRIVATE_KEY',
        'No code-upload key: miniprogram-ci signs every upload with it.',
        `Download it from 公众平台 → 开发管理 → 开发设置 → 小程序代码上传 (生成), save it as private.${config.appid}.key in the repository (gitignored) or set MINIPROGRAM_CI_PRIVATE_KEY, and add this machine's IP to the allow-list there (or turn it off).`,
      )
    }
  }
  return problems
}

/** Checks that read the environment's documents when they were read (template ids and checkPath set in the console). */
export function preflightDocuments(input: PreflightInput): Problem[] {
  const { config, command } = input
  const { problems, error } = collector()
  const sections = new Set(input.sections ?? [])
  const writesConfig = command === 'deploy' ? sections.has('config') : true
  if (writesConfig) {
    const remoteIds = input.remote?.templates ?? {}
    const missing = templateKeys.filter((key) => !config.templates[key] && !remoteIds[key])
    for (const key of missing) {
      error(
        `templates.${key}`,
        `No subscription-message template id for ${key} (${templates[key].title}): its sends would be refused as not configured.`,
        `In 公众平台 → 订阅消息 → 公共模板库, pick 「${templates[key].title}」 with the fields of cloudfunctions/_shared/templates.ts (docs/subscriptions.md), then put its id from 我的模板 in deploy.config.json templates.${key}.`,
      )
    }
  }

  if (command !== 'preview' && (command === 'release' || sections.has('config'))) {
    const checkPath = effectiveCheckPath(config, input.remote)
    if (checkPath.value && !config.miniprogram.published) {
      error(
        'checkPath',
        `checkPath is on (${checkPath.from}) but no version is published: wxacode.getUnlimited refuses unpublished pages (41030), so invite codes get no image until the release is out.`,
        checkPath.from.startsWith('deploy')
          ? 'Set incentives.checkPath to false in deploy.config.json until the first release is published (发布), then set it to true and miniprogram.published to true.'
          : 'Set referral.checkPath to false in 云开发控制台 → 数据库 → app_config → incentives (or delete the field), or set miniprogram.published to true in deploy.config.json once the release is published.',
      )
    }
  }

  return problems
}

export function errorsOf(problems: readonly Problem[]): Problem[] {
  return problems.filter((p) => p.level === 'error')
}

export function formatProblems(problems: readonly Problem[]): string {
  return problems.map((p) => `  ${p.level === 'error' ? '✗' : '!'} ${p.subject}: ${p.message}\n    fix: ${p.fix}`).join('\n')
}
