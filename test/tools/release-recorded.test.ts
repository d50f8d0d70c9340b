/**
 * `npm run release` and `npm run preview` end to end: the real miniprogram-ci compiles a staged
 * copy of the project and uploads it, through its proxy setting, to the local stand-in for
 * servicewechat.com (test/helpers/fake-wechat-cloud.ts), which checks the upload key's signature
 * inside the package. The tests read what was uploaded: the version, description and robot, the
 * compiled files with cloud mode and the configured environment, the source map fetched back, and
 * the preview QR code written as a PNG and printed in the terminal.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import jpeg from 'jpeg-js'
import jsQR from 'jsqr'
import { PNG } from 'pngjs'
import QRCode from 'qrcode'
import { allPages, readAppJson } from '../../tools/miniprogram/project'
import { ROOT } from '../../tools/paths'
import { expectToolOk, runTool, startTestCloud, TEST_APPID, TEST_ENV, TEST_TEMPLATES, type TestCloud, type ToolRun, toolEnv } from '../helpers/deploy-tools'
import { type FakeWeChatCloud, readZip } from '../helpers/fake-wechat-cloud'

const APPID = TEST_APPID
const ENV = TEST_ENV
const PREVIEW_LINK = `https://open.weixin.qq.com/sns/getexpappinfo?appid=${APPID}&path=pages%2Fhome%2Findex.html#wechat-redirect`
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version

let cloud: TestCloud
let fake: FakeWeChatCloud
let dir: string
let configFile: string

function release(command: 'upload' | 'preview', args: string[], options: { uploadKey?: boolean; config?: string } = {}): Promise<ToolRun> {
  const env = toolEnv(cloud, options.uploadKey === false ? {} : { MINIPROGRAM_CI_PRIVATE_KEY: cloud.uploadKeyPem })
  return runTool('tools/deploy/release.ts', [command, '--config', options.config ?? configFile, '--secrets', path.join(dir, 'none'), '--out-dir', path.join(dir, 'out'), ...args], env)
}

const expectOk = (run: ToolRun) => expectToolOk(run, fake)

beforeAll(async () => {
  cloud = await startTestCloud('unused', 'unused')
  fake = cloud.fake
  dir = cloud.dir
  // WeChat sends the preview QR code as a JPEG.
  const png = PNG.sync.read(await QRCode.toBuffer(PREVIEW_LINK, { width: 280 }))
  fake.previewImage = jpeg.encode({ data: png.data, width: png.width, height: png.height }, 90).data.toString('base64')
  configFile = path.join(dir, 'deploy.config.json')
  writeFileSync(configFile, JSON.stringify({ appid: APPID, envId: ENV, templates: TEST_TEMPLATES, release: { robot: 3 } }))
})

afterAll(async () => {
  await fake.stop()
  rmSync(dir, { recursive: true, force: true })
})

beforeEach(() => {
  fake.calls.length = 0
  fake.uploads.length = 0
})

describe('npm run release', () => {
  let run: ToolRun
  /** What the release sent (each test below reads it). */
  let uploads: FakeWeChatCloud['uploads']
  let calls: FakeWeChatCloud['calls']
  beforeAll(async () => {
    fake.calls.length = 0
    fake.uploads.length = 0
    run = await release('upload', [])
    uploads = [...fake.uploads]
    calls = [...fake.calls]
  }, 240_000)

  test('uploads one version: package.json version, description from git, the configured robot, signed with the upload key', () => {
    expectOk(run)
    expect(uploads).toHaveLength(1)
    const [upload] = uploads
    expect(upload!.kind).toBe('upload')
    expect(upload!.query).toEqual(expect.objectContaining({ appid: APPID, type: 'miniProgram', version: VERSION, robot: '3', codeprotect: '0' }))
    expect(upload!.query.desc).toMatch(new RegExp(`^v${VERSION.replace(/\./g, '\\.')} [0-9a-f]{8}(\\+uncommitted)?: `))
    expect(upload!.files.has('/ci.signature')).toBe(true)
  })

  test('the uploaded build runs in cloud mode against the configured environment, with every page and its source maps', () => {
    const files = uploads[0]!.files
    const buildConfig = files.get('/config.build.js')!.toString('utf8')
    expect(buildConfig).toContain(`"${ENV}"`)
    expect(buildConfig).toMatch(/release:\s*(!0|true)/)
    expect(buildConfig).not.toContain('your-env-id')
    for (const page of allPages(readAppJson())) {
      expect(files.has(`/${page}.js`)).toBe(true)
      expect(files.has(`/${page}.wxml`)).toBe(true)
    }
    expect(files.has('/app.js.map')).toBe(true)
    // Only the mini-program: no functions, tools or tests.
    expect([...files.keys()].filter((f) => /cloudfunctions|\/tools\/|\/test\//.test(f))).toEqual([])
  })

  test('fetches the version\'s source map back into the output folder', () => {
    expect(calls.filter((c) => c.path.startsWith('/wxa/ci/get_dev_sourcemap')).map((c) => [c.path, c.params.robot])).toEqual([
      ['/wxa/ci/get_dev_sourcemap_info', 3],
      ['/wxa/ci/get_dev_sourcemap', 3],
    ])
    const zip = readZip(readFileSync(path.join(dir, 'out', `sourcemap-${VERSION}-robot3.zip`)))
    expect([...zip.keys()]).toEqual(['/__APP__/app-service.map.map'])
    expect(run.stdout).toContain('提交审核')
  })
})

describe('npm run preview', () => {
  test('uploads a preview of the page asked for and writes its QR code as a PNG and in the terminal', async () => {
    const run = await release('preview', ['--page', 'packages/incentives/checkin/index', '--query', 'from=qa'])
    expectOk(run)
    expect(fake.uploads.map((u) => u.kind)).toEqual(['preview'])
    const launch = JSON.parse(fake.uploads[0]!.query.debugLaunchInfo!) as { path?: string; query?: unknown }
    expect(launch).toEqual({ scene: 1011, path: 'packages/incentives/checkin/index', query: { from: 'qa' } })
    expect(fake.uploads[0]!.query.path).toBe('packages/incentives/checkin/index?from=qa')
    const png = PNG.sync.read(readFileSync(path.join(dir, 'out', 'preview.png')))
    expect(jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data).toBe(PREVIEW_LINK)
    expect(run.stdout).toContain('▄')
    expect(run.stdout).toContain('Preview QR code')
  }, 240_000)
})

describe('refusals', () => {
  test('the placeholder configuration is refused before anything is compiled or sent', async () => {
    const run = await release('upload', [], { config: path.join(ROOT, 'deploy.config.json') })
    expect(run.status).toBe(1)
    expect(run.stdout).toContain('✗ appid')
    expect(run.stdout).toContain('✗ envId')
    expect(run.stderr).toContain('Nothing was uploaded')
    expect(fake.calls).toEqual([])
  }, 60_000)

  test('without the code-upload key nothing is sent, and the fix says where to get it', async () => {
    const run = await release('upload', [], { uploadKey: false })
    expect(run.status).toBe(1)
    expect(run.stdout).toContain('小程序代码上传')
    expect(fake.calls).toEqual([])
  }, 60_000)
})
