/**
 * `npm run release` and `npm run preview`: the mini-program's code to WeChat with miniprogram-ci.
 *
 *   npm run release                          upload a version (package.json version, description from git)
 *   npm run release -- --version 1.2.0 --desc "..." --robot 2
 *   npm run preview                          a preview QR code (PNG in .release/ and in the terminal)
 *   npm run preview -- --page packages/incentives/checkin/index --query from=qa
 *   (both)  --config deploy.staging.json --secrets .env.staging --out-dir .release
 *
 * Both upload a staged copy of the project: project.config.json with the deploy config's AppID,
 * and miniprogram/config.build.ts written for release (cloud mode, the configured environment).
 * The pre-flight evaluates that staged config.ts and refuses a build that would run in local mode.
 */
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import jsQR from 'jsqr'
import jpeg from 'jpeg-js'
import { PNG } from 'pngjs'
import QRCode from 'qrcode'
import { listFunctions } from '../build'
import { inScratchDir } from '../miniprogram/ci'
import { ROOT } from '../paths'
import { evaluateAppConfig, writeBuildConfig } from './app-config'
import { hintFor } from './apply'
import { Clients } from './clients'
import { type DeployConfig, DeployConfigError, loadSecrets, readDeployConfig } from './config'
import { desiredState } from './desired'
import { exitAfterOutput } from './exit'
import { type Command, errorsOf, formatProblems, preflight, readProjectAppid } from './preflight'
import { readRemoteState, type RemoteDocuments } from './remote'

export const RELEASE_DIR = path.join(ROOT, '.release')

/** What the upload shows in 公众平台 → 版本管理: the version and where it came from. */
export interface VersionInfo {
  version: string
  description: string
  dirty: boolean
}

function git(args: string[], root: string): string | null {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return null
  }
}

/** The version (package.json unless given) and a description from git: short commit, uncommitted changes, subject. */
export function versionInfo(root = ROOT, overrides: { version?: string; desc?: string } = {}): VersionInfo {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: string }
  const version = overrides.version ?? pkg.version ?? '0.0.0'
  if (!/^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/.test(version)) throw new DeployConfigError(`The version "${version}" is not x.y.z (package.json "version", or --version).`)
  const sha = git(['rev-parse', '--short=8', 'HEAD'], root)
  const dirty = Boolean(git(['status', '--porcelain', '--untracked-files=no'], root))
  const subject = git(['log', '-1', '--format=%s'], root)
  const origin = sha ? `${sha}${dirty ? '+uncommitted' : ''}` : 'not a git checkout'
  const description = overrides.desc ?? `v${version} ${origin}${subject ? `: ${subject}` : ''}`
  // The console shows a short line: keep it readable.
  return { version, description: description.length > 200 ? `${description.slice(0, 199)}…` : description, dirty }
}

/** The project as it is uploaded: project.config.json with the AppID, the mini-program with release settings. */
export function stageProject(config: DeployConfig, root = ROOT): string {
  if (!existsSync(path.join(root, 'miniprogram/miniprogram_npm'))) {
    throw new DeployConfigError('miniprogram/miniprogram_npm is missing: run `npm run build` (npm install runs it) before a release or preview.')
  }
  const stage = mkdtempSync(path.join(os.tmpdir(), 'release-project-'))
  const project = JSON.parse(readFileSync(path.join(root, 'project.config.json'), 'utf8')) as Record<string, unknown>
  writeFileSync(path.join(stage, 'project.config.json'), JSON.stringify({ ...project, appid: config.appid }, null, 2))
  for (const file of ['package.json', 'tsconfig.json']) if (existsSync(path.join(root, file))) cpSync(path.join(root, file), path.join(stage, file))
  cpSync(path.join(root, 'miniprogram'), path.join(stage, 'miniprogram'), { recursive: true, dereference: true })
  writeBuildConfig({ cloudEnv: config.envId, release: true }, stage)
  return stage
}

/** Reads the preview's QR code image (PNG or JPEG) and returns the link it encodes. */
export function decodeQrImage(image: Buffer): string | null {
  let decoded: { width: number; height: number; data: Uint8Array | Buffer }
  if (image.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) decoded = PNG.sync.read(image)
  else if (image[0] === 0xff && image[1] === 0xd8) decoded = jpeg.decode(image, { useTArray: true })
  else return null
  const found = jsQR(new Uint8ClampedArray(decoded.data.buffer, decoded.data.byteOffset, decoded.data.byteLength), decoded.width, decoded.height)
  return found?.data ?? null
}

interface Options {
  command: Exclude<Command, 'deploy'>
  config?: string
  secrets?: string
  version?: string
  desc?: string
  robot?: string
  page?: string
  query?: string
  'out-dir'?: string
}

async function run(options: Options): Promise<number> {
  const config = readDeployConfig(listFunctions(), options.config ? path.resolve(options.config) : undefined)
  const secrets = loadSecrets(config.appid, process.env, options.secrets ? path.resolve(options.secrets) : undefined)
  const clients = new Clients(config, secrets)
  const robot = options.robot ? Number(options.robot) : config.release.robot
  if (!Number.isInteger(robot) || robot < 1 || robot > 30) throw new DeployConfigError(`--robot takes 1 to 30; got "${options.robot}".`)

  const stage = stageProject(config)
  try {
    const built = await evaluateAppConfig(stage)
    let remote: RemoteDocuments | null = null
    if (options.command === 'release' && clients.hasTencentCloud) {
      // Template ids and checkPath set in the console count: read them when the keys are there.
      remote = (await readRemoteState(desiredState(config, secrets), clients, new Set(['config']), false)).documents
    }
    const problems = preflight({ command: options.command, config, secrets, built, remote, projectAppid: readProjectAppid() })
    if (problems.length) console.log(formatProblems(problems))
    if (errorsOf(problems).length) {
      console.error(`\nNothing was uploaded: fix the problems above, then run \`npm run ${options.command}\` again.`)
      return 1
    }
    const ci = clients.requireCi()
    const project = clients.ciProject(stage, ['node_modules/**/*'])
    const info = versionInfo(ROOT, { version: options.version, desc: options.desc })
    if (info.dirty) console.warn(`! uploading uncommitted changes (the description says "+uncommitted").`)
    const outDir = path.resolve(options['out-dir'] ?? RELEASE_DIR)
    mkdirSync(outDir, { recursive: true })
    console.log(`${options.command === 'release' ? 'Uploading' : 'Previewing'} ${config.appid} as robot ${robot}: ${info.description} (cloud mode, environment ${built.cloudEnv})`)

    return await inScratchDir(async () => {
      if (options.command === 'release') {
        const result = await ci.upload({ project, version: info.version, desc: info.description, robot, setting: { useProjectConfig: true }, onProgressUpdate: () => {} })
        for (const pkg of result.subPackageInfo ?? []) console.log(`  ${pkg.name === '__FULL__' ? 'total' : pkg.name === '__APP__' ? 'main package' : pkg.name}: ${(pkg.size / 1024).toFixed(1)} KB`)
        if (config.release.sourceMap) {
          const file = path.join(outDir, `sourcemap-${info.version}-robot${robot}.zip`)
          await ci.getDevSourceMap({ project, robot, sourceMapSavePath: file })
          console.log(`Source map saved: ${file} (keep it to read the stacks monitor reports for this version).`)
        }
        console.log(`\nUploaded ${info.version}. Next: 公众平台 → 管理 → 版本管理 → 开发版本 → 提交审核 (docs/deploy.md#release); once it is published, set miniprogram.published to true in deploy.config.json.`)
        return 0
      }
      const raw = path.join(outDir, `preview-robot${robot}.img`)
      await ci.preview({ project, version: info.version, desc: info.description, robot, setting: { useProjectConfig: true }, qrcodeFormat: 'image', qrcodeOutputDest: raw, ...(options.page ?? config.release.previewPage ? { pagePath: options.page ?? config.release.previewPage } : {}), ...(options.query ? { searchQuery: options.query } : {}), onProgressUpdate: () => {} })
      const image = readFileSync(raw)
      rmSync(raw)
      const out = path.join(outDir, 'preview.png')
      const link = decodeQrImage(image)
      if (link) {
        await QRCode.toFile(out, link, { type: 'png', width: 430, margin: 2 })
        console.log(await QRCode.toString(link, { type: 'terminal', small: true }))
        console.log(`Preview QR code (scan with WeChat as a developer of ${config.appid}; valid for a limited time): ${out}`)
      } else {
        const asIs = out.replace(/\.png$/, image[0] === 0xff ? '.jpg' : '.img')
        writeFileSync(asIs, image)
        console.log(`Preview QR code image as WeChat sent it: ${asIs} (it could not be read back to print it here).`)
      }
      return 0
    })
  } finally {
    rmSync(stage, { recursive: true, force: true })
  }
}

if (require.main === module) {
  const [command, ...rest] = process.argv.slice(2)
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string' },
      secrets: { type: 'string' },
      version: { type: 'string' },
      desc: { type: 'string' },
      robot: { type: 'string' },
      page: { type: 'string' },
      query: { type: 'string' },
      'out-dir': { type: 'string' },
    },
  })
  if (command !== 'upload' && command !== 'preview') {
    console.error('usage: tsx tools/deploy/release.ts upload|preview [options] (npm run release / npm run preview)')
    exitAfterOutput(2)
  } else {
    run({ command: command === 'upload' ? 'release' : 'preview', ...values }).then(exitAfterOutput, (err: unknown) => {
      const e = err as { message?: string }
      console.error(`\n${e?.message ?? String(err)}${hintFor('miniprogram-ci', err)}`)
      exitAfterOutput(1)
    })
  }
}
