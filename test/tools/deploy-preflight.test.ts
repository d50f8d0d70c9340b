/**
 * Pre-flight (tools/deploy/preflight.ts): `npm run deploy` and `npm run release` refuse the
 * placeholder AppID and environment id, missing template ids, checkPath on before anything is
 * published, a release build in local mode, and missing credentials; each refusal says the fix.
 */
import { templateKeys } from '../../cloudfunctions/_shared/templates'
import { listFunctions } from '../../tools/build'
import { parseDeployConfig, type Secrets } from '../../tools/deploy/config'
import { SECTIONS } from '../../tools/deploy/plan'
import { errorsOf, isPlaceholderEnvId, preflight, type PreflightInput } from '../../tools/deploy/preflight'
import type { RemoteDocuments } from '../../tools/deploy/remote'

const FUNCTIONS = listFunctions()
const TEMPLATES = { checkin_reminder: 'TplCheckin-0123456789', feedback_reply: 'TplFeedback-0123456789', ops_alert: 'TplAlert-0123456789ab' }
const KEYS: Secrets = { tencentCloud: { secretId: 'id', secretKey: 'key' }, uploadKey: { pem: '-----BEGIN RSA PRIVATE KEY-----', source: 'test' }, functionEnv: {}, problems: [] }

function input(overrides: Partial<PreflightInput> = {}, configOverrides: Record<string, unknown> = {}): PreflightInput {
  return {
    command: 'deploy',
    config: parseDeployConfig({ appid: 'wx0123456789abcdef', envId: 'prod-4g1x2y3z', templates: TEMPLATES, ...configOverrides }, FUNCTIONS),
    secrets: KEYS,
    sections: SECTIONS,
    ...overrides,
  }
}

const subjects = (i: PreflightInput) => errorsOf(preflight(i)).map((p) => p.subject)

test('a complete configuration with credentials passes', () => {
  expect(preflight(input())).toEqual([])
  expect(preflight(input({ command: 'release', built: { mode: 'cloud', cloudEnv: 'prod-4g1x2y3z' } }))).toEqual([])
})

test('touristappid is refused, with where to find the AppID', () => {
  const [problem] = errorsOf(preflight(input({}, { appid: 'touristappid' })))
  expect(problem).toEqual({ level: 'error', subject: 'appid', message: expect.stringContaining('touristappid'), fix: expect.stringContaining('公众平台 → 开发管理 → 开发设置 → AppID') })
})

test('a placeholder environment id is refused, with where to find the real one', () => {
  for (const envId of ['your-env-id', 'env-id', 'xxxx', 'changeme']) {
    expect(isPlaceholderEnvId(envId)).toBe(true)
    const [problem] = errorsOf(preflight(input({}, { envId })))
    expect(problem).toEqual(expect.objectContaining({ subject: 'envId', fix: expect.stringContaining('云开发控制台 → 概览 → 环境 ID') }))
  }
  expect(isPlaceholderEnvId('prod-4g1x2y3z')).toBe(false)
  expect(isPlaceholderEnvId('test-9h8g7f')).toBe(false)
})

test('each missing template id is refused, naming the template to pick; an id set in the console counts', () => {
  const missing = input({}, { templates: { feedback_reply: TEMPLATES.feedback_reply } })
  const problems = errorsOf(preflight(missing))
  expect(problems.map((p) => p.subject)).toEqual(['templates.checkin_reminder', 'templates.ops_alert'])
  expect(problems[0]!.fix).toContain('「签到提醒」')
  expect(problems[0]!.fix).toContain('deploy.config.json templates.checkin_reminder')
  const remote: RemoteDocuments = { admins: null, templates: { checkin_reminder: 'FromConsole-0000', ops_alert: 'FromConsole-1111' }, incentives: null, applied: null, experiments: [], content: null }
  expect(subjects({ ...missing, remote })).toEqual([])
  // Deploying only functions writes no template ids: nothing to refuse.
  expect(subjects({ ...missing, sections: ['functions'] })).toEqual([])
  expect(templateKeys).toHaveLength(3)
})

test('checkPath on before a version is published is refused, from the config or from the console, with the fix for each', () => {
  const fromConfig = errorsOf(preflight(input({}, { incentives: { checkPath: true } })))
  expect(fromConfig).toEqual([expect.objectContaining({ subject: 'checkPath', fix: expect.stringContaining('Set incentives.checkPath to false in deploy.config.json') })])
  expect(subjects(input({}, { incentives: { checkPath: true }, miniprogram: { published: true } }))).toEqual([])

  const consoleOn: RemoteDocuments = { admins: null, templates: null, incentives: { referral: { checkPath: true } }, applied: { admins: [], templates: {}, incentivesCheckPath: false }, experiments: [], content: null }
  const fromConsole = errorsOf(preflight(input({ command: 'release', built: { mode: 'cloud', cloudEnv: 'prod-4g1x2y3z' }, remote: consoleOn })))
  expect(fromConsole).toEqual([expect.objectContaining({ subject: 'checkPath', message: expect.stringContaining('app_config/incentives in the console'), fix: expect.stringContaining('app_config → incentives') })])
  // true in the environment because the last deploy wrote it: this deploy writes false, nothing to refuse.
  const writtenByDeploy: RemoteDocuments = { ...consoleOn, applied: { admins: [], templates: {}, incentivesCheckPath: true } }
  expect(subjects(input({ remote: writtenByDeploy }))).toEqual([])
})

test('a release or preview build in local mode, or against another environment, is refused', () => {
  expect(errorsOf(preflight(input({ command: 'release', built: { mode: 'local', cloudEnv: 'prod-4g1x2y3z' } })))).toEqual([
    expect.objectContaining({ subject: 'miniprogram/config.ts', message: expect.stringContaining('"local" mode'), fix: expect.stringContaining("build.release ? 'cloud'") }),
  ])
  expect(errorsOf(preflight(input({ command: 'preview', built: { mode: 'cloud', cloudEnv: 'your-env-id' } })))).toEqual([
    expect.objectContaining({ subject: 'miniprogram/config.ts', message: expect.stringContaining('"your-env-id"') }),
  ])
})

test('missing credentials are refused for a real run and not for a dry run, each with where to get them', () => {
  const none: Secrets = { functionEnv: {}, problems: [] }
  expect(errorsOf(preflight(input({ secrets: none })))).toEqual([expect.objectContaining({ subject: 'TENCENTCLOUD_SECRETID', fix: expect.stringContaining('API密钥管理') })])
  expect(errorsOf(preflight(input({ secrets: none, dryRun: true })))).toEqual([])
  expect(errorsOf(preflight(input({ command: 'release', secrets: none, built: { mode: 'cloud', cloudEnv: 'prod-4g1x2y3z' } })))).toEqual([
    expect.objectContaining({ subject: 'MINIPROGRAM_CI_PRIVATE_KEY', fix: expect.stringContaining('小程序代码上传') }),
  ])
  expect(errorsOf(preflight(input({ secrets: { ...KEYS, problems: ['Only one of TENCENTCLOUD_SECRETID and TENCENTCLOUD_SECRETKEY is set'] } })))).toEqual([expect.objectContaining({ subject: 'secrets' })])
})

test('an AppID that differs between project.config.json and deploy.config.json is a warning', () => {
  const problems = preflight(input({ projectAppid: 'wxfedcba9876543210' }))
  expect(problems).toEqual([expect.objectContaining({ level: 'warning', subject: 'appid' })])
  expect(preflight(input({ projectAppid: 'touristappid' }))).toEqual([])
})
