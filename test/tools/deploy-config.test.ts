/**
 * The deploy configuration (tools/deploy/config.ts): the committed deploy.config.json is valid, a
 * bad one is refused with every problem and its path, secrets come only from the environment or
 * the gitignored .env.deploy, and `npm run build` writes the environment id into the mini-program
 * (miniprogram/config.ts evaluates to local mode in a development build, cloud in a release build).
 */
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { listFunctions } from '../../tools/build'
import { buildConfigSource, configuredEnvId, evaluateAppConfig, writeBuildConfig } from '../../tools/deploy/app-config'
import { DeployConfigError, loadSecrets, mask, parseDeployConfig, readDeployConfig, SECRET_VARIABLES } from '../../tools/deploy/config'
import { ROOT } from '../../tools/paths'

const FUNCTIONS = listFunctions()
const VALID = { appid: 'wx0123456789abcdef', envId: 'prod-4g1x2y3z' }

let tmp: string
beforeEach(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'deploy-config-'))
})
afterEach(() => rmSync(tmp, { recursive: true, force: true }))

describe('deploy.config.json', () => {
  test('the one a fresh clone ships is valid, with the placeholders the pre-flight refuses and the defaults filled in', () => {
    const config = readDeployConfig(FUNCTIONS)
    expect(config.appid).toBe('touristappid')
    expect(config.envId).toBe('your-env-id')
    expect(config.functionDefaults).toEqual({ runtime: 'Nodejs16.13', memorySize: 256 })
    expect(config.incentives.checkPath).toBe(false)
    expect(config.demo.experiments).toBe('stopped')
    expect(config.release).toEqual({ robot: 1, sourceMap: true })
  })

  test('the committed file and the repository agree: it is what `git ls-files` tracks, and the secrets files are ignored', () => {
    const tracked = execFileSync('git', ['ls-files', 'deploy.config.json'], { cwd: ROOT, encoding: 'utf8' }).trim()
    expect(tracked).toBe('deploy.config.json')
    const ignored = execFileSync('git', ['check-ignore', '.env.deploy', 'private.wx0123456789abcdef.key', 'miniprogram/config.build.ts', '.release/x.png'], { cwd: ROOT, encoding: 'utf8' })
    expect(ignored.trim().split('\n')).toHaveLength(4)
  })

  test('every problem is reported with its path, and nothing is accepted half-valid', () => {
    let error: unknown
    try {
      parseDeployConfig(
        {
          appid: 'wx123',
          envId: 'Prod Env',
          admins: ['not an openid!'],
          templates: { checkin_reminder: 'x', unknown_template: 'abcdefghijk' },
          functions: { nope: {}, monitor: { env: { MONITOR_WEBHOOK_URL: 'https://example.com/hook?key=1', lower: 'x' } }, feedback: { memorySize: 100, timeout: 9999 } },
          region: 'us-east-1',
          extra: true,
        },
        FUNCTIONS,
      )
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(DeployConfigError)
    const issues = (error as DeployConfigError).issues.join('\n')
    for (const path of ['appid', 'envId', 'admins.0', 'templates.checkin_reminder', 'templates', 'functions', 'functions.monitor.env.MONITOR_WEBHOOK_URL', 'functions.monitor.env.lower', 'functions.feedback.memorySize', 'functions.feedback.timeout', 'region', '(top level)']) {
      expect(issues).toContain(`${path}:`)
    }
    expect(issues).toContain('MONITOR_WEBHOOK_URL is a secret: set it in the environment or in .env.deploy')
  })

  test('a file that is not JSON is refused with the parser message', () => {
    const file = path.join(tmp, 'deploy.config.json')
    writeFileSync(file, '{ "appid": ')
    expect(() => readDeployConfig(FUNCTIONS, file)).toThrow(/deploy.config.json is not valid JSON/)
  })

  test('per-function runtime, memory, timeout and variables are accepted for the functions that exist', () => {
    const config = parseDeployConfig({ ...VALID, functions: { analytics: { runtime: 'Nodejs18.15', memorySize: 512, timeout: 120, env: { ADMIN_OPENIDS: 'o1,o2' } } } }, FUNCTIONS)
    expect(config.functions.analytics).toEqual({ runtime: 'Nodejs18.15', memorySize: 512, timeout: 120, env: { ADMIN_OPENIDS: 'o1,o2' } })
  })
})

describe('secrets', () => {
  const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n'

  test('come from the environment over .env.deploy, never from the committed config', () => {
    const file = path.join(tmp, '.env.deploy')
    writeFileSync(file, 'TENCENTCLOUD_SECRETID=file-id\nTENCENTCLOUD_SECRETKEY=file-key\nMONITOR_WEBHOOK_URL="https://hooks.example.com/from-file"\n')
    const fromFile = loadSecrets('wx0123456789abcdef', {}, file, tmp)
    expect(fromFile.tencentCloud).toEqual({ secretId: 'file-id', secretKey: 'file-key' })
    expect(fromFile.functionEnv).toEqual({ MONITOR_WEBHOOK_URL: 'https://hooks.example.com/from-file' })
    const fromEnv = loadSecrets('wx0123456789abcdef', { TENCENTCLOUD_SECRETID: 'env-id', TENCENTCLOUD_SECRETKEY: 'env-key', TENCENTCLOUD_SESSIONTOKEN: 'tok' }, file, tmp)
    expect(fromEnv.tencentCloud).toEqual({ secretId: 'env-id', secretKey: 'env-key', token: 'tok' })
    expect(fromEnv.problems).toEqual([])
  })

  test('half a key pair, a key that is not PEM, a missing key file and a webhook that is not a URL are problems', () => {
    const secrets = loadSecrets('wx0123456789abcdef', { TENCENTCLOUD_SECRETID: 'only-id', MINIPROGRAM_CI_PRIVATE_KEY: 'not a key', MONITOR_WEBHOOK_URL: 'hooks.example.com' }, path.join(tmp, 'none'), tmp)
    expect(secrets.tencentCloud).toBeUndefined()
    expect(secrets.uploadKey).toBeUndefined()
    expect(secrets.problems).toEqual([expect.stringContaining('Only one of TENCENTCLOUD_SECRETID'), expect.stringContaining('not a PEM private key'), expect.stringContaining('not an http(s) URL')])
    const missing = loadSecrets('wx0123456789abcdef', { MINIPROGRAM_CI_PRIVATE_KEY_PATH: 'keys/none.key' }, path.join(tmp, 'none'), tmp)
    expect(missing.problems).toEqual([expect.stringContaining('does not exist')])
  })

  test('the upload key: inline (a CI secret with \\n escapes), from a path, or private.<appid>.key by default', () => {
    expect(loadSecrets('wx0123456789abcdef', { MINIPROGRAM_CI_PRIVATE_KEY: pem.replace(/\n/g, '\\n') }, path.join(tmp, 'none'), tmp).uploadKey).toEqual({ pem, source: 'MINIPROGRAM_CI_PRIVATE_KEY' })
    mkdirSync(path.join(tmp, 'keys'))
    writeFileSync(path.join(tmp, 'keys/upload.key'), pem)
    expect(loadSecrets('wx0123456789abcdef', { MINIPROGRAM_CI_PRIVATE_KEY_PATH: 'keys/upload.key' }, path.join(tmp, 'none'), tmp).uploadKey).toEqual({ pem, source: 'keys/upload.key' })
    writeFileSync(path.join(tmp, 'private.wx0123456789abcdef.key'), pem)
    expect(loadSecrets('wx0123456789abcdef', {}, path.join(tmp, 'none'), tmp).uploadKey).toEqual({ pem, source: 'private.wx0123456789abcdef.key' })
  })

  test('DEPLOY_PROXY, else HTTPS_PROXY, sends both tools through a proxy', () => {
    expect(loadSecrets('wx0123456789abcdef', { HTTPS_PROXY: 'http://corp:3128' }, path.join(tmp, 'none'), tmp).proxy).toBe('http://corp:3128')
    expect(loadSecrets('wx0123456789abcdef', { HTTPS_PROXY: 'http://corp:3128', DEPLOY_PROXY: 'http://127.0.0.1:9' }, path.join(tmp, 'none'), tmp).proxy).toBe('http://127.0.0.1:9')
  })

  test('are printed masked', () => {
    expect(mask('https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc')).toBe('https://qyap••••')
    expect(mask('short')).toBe('••••')
  })
})

describe('the environment id in the mini-program', () => {
  test('npm run build wrote config.build.ts from deploy.config.json, and a development build stays in local mode', async () => {
    expect(readFileSync(path.join(ROOT, 'miniprogram/config.build.ts'), 'utf8')).toBe(buildConfigSource({ cloudEnv: configuredEnvId(), release: false }))
    expect(await evaluateAppConfig(ROOT)).toEqual({ mode: 'local', cloudEnv: 'your-env-id' })
  })

  test('a release build runs in cloud mode against the configured environment', async () => {
    cpSync(path.join(ROOT, 'miniprogram/config.ts'), path.join(tmp, 'miniprogram/config.ts'), { recursive: true })
    writeBuildConfig({ cloudEnv: 'prod-4g1x2y3z', release: true }, tmp)
    expect(await evaluateAppConfig(tmp)).toEqual({ mode: 'cloud', cloudEnv: 'prod-4g1x2y3z' })
  })

  test('the id is read from deploy.config.json even before the rest of it is filled in', () => {
    const file = path.join(tmp, 'deploy.config.json')
    writeFileSync(file, JSON.stringify({ envId: 'staging-1a2b3c' }))
    expect(configuredEnvId(file)).toBe('staging-1a2b3c')
    writeFileSync(file, JSON.stringify({ envId: 42 }))
    expect(() => configuredEnvId(file)).toThrow(/"envId" must be a string/)
  })
})

describe('the documentation of the deploy', () => {
  test('docs/deploy.md names every variable the deploy reads', () => {
    const doc = readFileSync(path.join(ROOT, 'docs/deploy.md'), 'utf8')
    for (const name of Object.keys(SECRET_VARIABLES)) expect(doc).toContain(name)
  })

  test('the GitHub Actions example runs scripts that exist and passes only variables the tools read', () => {
    const workflow = readFileSync(path.join(ROOT, 'docs/examples/github-actions.yml'), 'utf8')
    const scripts = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts
    const used = [...workflow.matchAll(/npm run (\S+)/g)].map((m) => m[1]!)
    expect(new Set(used)).toEqual(new Set(['deploy', 'preview', 'release']))
    for (const script of used) expect(scripts[script]).toBeDefined()
    const secrets = [...workflow.matchAll(/^\s+([A-Z_]+): \$\{\{ secrets\.([A-Z_]+) \}\}/gm)].map((m) => [m[1], m[2]])
    expect(secrets.length).toBeGreaterThan(0)
    for (const [variable, secret] of secrets) {
      expect(variable).toBe(secret)
      expect(Object.keys(SECRET_VARIABLES)).toContain(variable)
    }
  })
})
