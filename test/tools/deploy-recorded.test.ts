/**
 * `npm run deploy` end to end, with the real @cloudbase/manager-node and miniprogram-ci sending
 * their real requests — through the proxy setting both tools have — to a local stand-in for
 * Tencent Cloud and servicewechat.com (test/helpers/fake-wechat-cloud.ts) that records them and
 * checks every signature. The tests assert the exact API actions and parameters; what only a real
 * environment can prove is listed in docs/deploy.md.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { EJSON } from 'bson'
import { collections } from '../../cloudfunctions/_shared/collections'
import { configDocSchema } from '../../cloudfunctions/experiments/schema'
import { checkConfig } from '../../cloudfunctions/incentives/defaults'
import { listFunctions } from '../../tools/build'
import { bundleSha256, codeDescription, readFunctionConfig, UPLOADED_FILES } from '../../tools/deploy/desired'
import { storageRule } from '../../cloudfunctions/_shared/collections'
import { manifestStorageRule } from '../../tools/deploy/storage-rule'
import { FUNCTIONS_DIR, ROOT } from '../../tools/paths'
import { expectToolOk, runTool, startTestCloud, TEST_APPID, TEST_ENV, TEST_TEMPLATES, type TestCloud, type ToolRun, toolEnv } from '../helpers/deploy-tools'
import { type FakeWeChatCloud, readZip, type RecordedCall } from '../helpers/fake-wechat-cloud'

const APPID = TEST_APPID
const ENV = TEST_ENV
const TEMPLATES = TEST_TEMPLATES
const SECRET_ID = 'AKIDdeploytest0000000000000000000000'
const SECRET_KEY = 'deploy-test-secret-key-000000000000'
const WEBHOOK = 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=deploy-test-token'
const FUNCTIONS = listFunctions()
const COLLECTIONS = Object.keys(collections)

let cloud: TestCloud
let fake: FakeWeChatCloud
let configFile: string

function deploy(args: string[], options: { uploadKey?: boolean; config?: string } = {}): Promise<ToolRun> {
  const env = toolEnv(cloud, {
    TENCENTCLOUD_SECRETID: SECRET_ID,
    TENCENTCLOUD_SECRETKEY: SECRET_KEY,
    MONITOR_WEBHOOK_URL: WEBHOOK,
    ...(options.uploadKey ? { MINIPROGRAM_CI_PRIVATE_KEY: cloud.uploadKeyPem } : {}),
  })
  return runTool('tools/deploy/cli.ts', ['--config', options.config ?? configFile, '--secrets', path.join(cloud.dir, 'none'), ...args], env)
}

const expectOk = (run: ToolRun) => expectToolOk(run, fake)
const byAction = (action: string, calls: readonly RecordedCall[] = fake.calls) => calls.filter((c) => c.action === action)
const param = <T>(call: RecordedCall, key: string) => call.params[key] as T

function uploadedFiles(name: string): Record<string, string> {
  return Object.fromEntries(UPLOADED_FILES.map((f) => [f, readFileSync(path.join(FUNCTIONS_DIR, name, f), 'utf8')]))
}

beforeAll(async () => {
  cloud = await startTestCloud(SECRET_ID, SECRET_KEY)
  fake = cloud.fake
  configFile = path.join(cloud.dir, 'deploy.config.json')
  writeFileSync(configFile, JSON.stringify({ appid: APPID, envId: ENV, admins: ['oAdmin0000000000000000000001'], templates: TEMPLATES, functions: { incentives: { env: { INCENTIVES_CONFIG_TTL_S: '60' } } } }))
})

afterAll(async () => {
  await fake.stop()
  rmSync(cloud.dir, { recursive: true, force: true })
})

beforeEach(() => {
  fake.calls.length = 0
})

describe('into an empty environment', () => {
  let run: ToolRun
  /** What the first deploy sent (each test below reads it). */
  let calls: RecordedCall[]
  let writes: RecordedCall[]
  beforeAll(async () => {
    fake.calls.length = 0
    run = await deploy([])
    calls = [...fake.calls]
    writes = fake.writes(calls)
  }, 180_000)

  test('every request is signed with the API keys (TC3-HMAC-SHA256) for the configured region, and the plan is verified afterwards', () => {
    expectOk(run)
    expect(calls.filter((c) => c.via === 'tc3').length).toBe(calls.length)
    expect(run.stdout).toContain('Verified: the environment now matches the repository')
    expect(run.stdout).toContain('Open-API permission changes can take up to 10 minutes')
  })

  test('each function is created with CreateFunction carrying its runtime, memory, timeout, variables and exactly its bundle', () => {
    const creates = byAction('CreateFunction', writes)
    expect(creates.map((c) => param<string>(c, 'FunctionName')).sort()).toEqual(FUNCTIONS)
    for (const call of creates) {
      const name = param<string>(call, 'FunctionName')
      const json = readFunctionConfig(name)
      expect(call.params).toEqual(
        expect.objectContaining({
          Namespace: ENV,
          Runtime: 'Nodejs16.13',
          MemorySize: 256,
          Timeout: json.timeout,
          Handler: 'index.main',
          InstallDependency: 'TRUE',
          Role: 'TCB_QcsRole',
          Stamp: 'MINI_QCBASE',
          Description: codeDescription(bundleSha256(name)),
          ClsLogsetId: 'ls-fake',
          ClsTopicId: 'topic-fake',
        }),
      )
      const files = readZip(Buffer.from(param<{ ZipFile: string }>(call, 'Code').ZipFile, 'base64'))
      expect(Object.fromEntries([...files].map(([f, b]) => [f, b.toString('utf8')]))).toEqual(uploadedFiles(name))
    }
    const env = (name: string) => param<{ Variables: { Key: string; Value: string }[] } | undefined>(creates.find((c) => c.params.FunctionName === name)!, 'Environment')?.Variables
    expect(env('monitor')).toEqual([
      { Key: 'MONITOR_ERROR_RATE', Value: '0.05' },
      { Key: 'MONITOR_MIN_SESSIONS', Value: '20' },
      { Key: 'MONITOR_SLOW_RATE', Value: '0.1' },
      { Key: 'MONITOR_MIN_CALLS', Value: '50' },
      { Key: 'NOTIFY_MINIPROGRAM_STATE', Value: 'formal' },
      { Key: 'MONITOR_WEBHOOK_URL', Value: WEBHOOK },
    ])
    expect(env('incentives')).toEqual([{ Key: 'INCENTIVES_CONFIG_TTL_S', Value: '60' }])
    expect(env('content')).toBeUndefined()
    // The secret reached the function and nothing printed it.
    expect(run.stdout + run.stderr).not.toContain('deploy-test-token')
  })

  test('every timer trigger of every config.json is created with BatchCreateTrigger, both of analytics in one call', () => {
    const triggers = byAction('BatchCreateTrigger', writes)
    const sent = Object.fromEntries(triggers.map((c) => [param<string>(c, 'FunctionName'), { count: param<number>(c, 'Count'), triggers: JSON.parse(param<string>(c, 'Triggers')) as unknown }]))
    expect(sent).toEqual({
      analytics: { count: 2, triggers: [{ TriggerName: 'hourly', Type: 'timer', TriggerDesc: '0 5 * * * * *' }, { TriggerName: 'nightly', Type: 'timer', TriggerDesc: '0 30 0 * * * *' }] },
      experiments: { count: 1, triggers: [{ TriggerName: 'hourly', Type: 'timer', TriggerDesc: '0 15 * * * * *' }] },
      monitor: { count: 1, triggers: [{ TriggerName: 'every-5-minutes', Type: 'timer', TriggerDesc: '0 */5 * * * * *' }] },
      notify: { count: 1, triggers: [{ TriggerName: 'daily-reminder', Type: 'timer', TriggerDesc: '0 0,10,20,30 20 * * * *' }] },
    })
    for (const name of FUNCTIONS) {
      expect(fake.functions.get(name)!.triggers.map((t) => [t.name, t.cron])).toEqual(readFunctionConfig(name).triggers.map((t) => [t.name, t.config]))
    }
  })

  test('every collection is created, then its indexes (UpdateTable CreateIndexes) and its rule (ModifySafeRule CUSTOM)', () => {
    expect(byAction('CreateTable', writes).map((c) => param<string>(c, 'TableName'))).toEqual(COLLECTIONS)
    const checkins = byAction('UpdateTable', writes).find((c) => c.params.TableName === 'checkins')!
    expect(checkins.params).toEqual({
      EnvId: ENV,
      MongoConnector: { DatabaseName: 'tnt-fake', InstanceId: 'flexdb' },
      TableName: 'checkins',
      CreateIndexes: [{ IndexName: 'openid_1_day_1', MgoKeySchema: { MgoIndexKeys: [{ Name: 'openid', Direction: '1' }, { Name: 'day', Direction: '1' }], MgoIsUnique: true }}],
    })
    for (const [name, spec] of Object.entries(collections)) {
      expect(fake.tables.get(name)!.indexes.filter((i) => i.Name !== '_id_').map((i) => [i.Name, Object.fromEntries(i.Keys.map((k) => [k.Name, Number(k.Direction)])), i.Unique])).toEqual(
        spec.indexes.map((i) => [i.name, i.keys, Boolean('unique' in i && i.unique)]),
      )
    }
    const rules = byAction('ModifySafeRule', writes)
    expect(rules).toHaveLength(COLLECTIONS.length)
    expect(rules[0]!.params).toEqual({ EnvId: ENV, CollectionName: 'users', AclTag: 'CUSTOM', Rule: '{"read":false,"write":false}' })
  })

  test('the config documents are written by RunCommands updates, which the functions then read as intended', () => {
    const updates = byAction('RunCommands', writes).flatMap((c) => param<{ TableName: string; CommandType: string; Command: string }[]>(c, 'MgoCommands'))
    expect(updates.map((u) => [u.TableName, u.CommandType, EJSON.parse(u.Command)])).toEqual([
      ['app_config', 'UPDATE', { update: 'app_config', updates: [{ q: { _id: 'admins' }, u: { $addToSet: { openids: { $each: ['oAdmin0000000000000000000001'] } } }, upsert: true }] }],
      ['app_config', 'UPDATE', { update: 'app_config', updates: [{ q: { _id: 'templates' }, u: { $set: { 'ids.checkin_reminder': TEMPLATES.checkin_reminder, 'ids.feedback_reply': TEMPLATES.feedback_reply, 'ids.ops_alert': TEMPLATES.ops_alert } }, upsert: true }] }],
      ['app_config', 'UPDATE', { update: 'app_config', updates: [{ q: { _id: 'incentives' }, u: { $set: { 'referral.checkPath': false } }, upsert: true }] }],
      ['experiments', 'UPDATE', expect.objectContaining({ update: 'experiments' })],
      ['app_config', 'UPDATE', expect.objectContaining({ update: 'app_config' })],
    ])
    const docs = fake.tables.get('app_config')!.docs
    expect(docs.get('admins')).toEqual({ _id: 'admins', openids: ['oAdmin0000000000000000000001'] })
    expect(docs.get('templates')).toEqual({ _id: 'templates', ids: TEMPLATES })
    // The functions' own readers accept what was written: the incentives config and the experiment document.
    expect(checkConfig(docs.get('incentives'))).toEqual({ valid: true, issues: [], effective: expect.objectContaining({ referral: expect.objectContaining({ checkPath: false }) }) })
    const experiment = fake.tables.get('experiments')!.docs.get('home_value_copy')!
    expect(configDocSchema.parse(experiment)).toEqual(expect.objectContaining({ _id: 'home_value_copy', kind: 'experiment', status: 'stopped' }))
  })
})

describe('run again', () => {
  test('only reads: no write reaches either tool', async () => {
    const run = await deploy([], { uploadKey: true })
    expectOk(run)
    expect(run.stdout).toContain('The environment already matches the repository: nothing to do.')
    expect(fake.writes()).toEqual([])
    expect(byAction('GetFunction')).toHaveLength(FUNCTIONS.length)
    expect(byAction('DescribeSafeRule')).toHaveLength(COLLECTIONS.length)
  }, 120_000)

  test('--dry-run prints what exists and changes nothing', async () => {
    const run = await deploy(['--dry-run'])
    expectOk(run)
    expect(run.stdout).toContain('Compared with the environment as it is now.')
    expect(run.stdout).toContain('0 changes (the environment matches the repository)')
    expect(fake.writes()).toEqual([])
  }, 120_000)
})

describe('drift, repaired with the code-upload key (miniprogram-ci) where it can', () => {
  test('new code goes through cloud.uploadFunction, the configuration through manager-node, a missing trigger through cloud.createTimeTrigger', async () => {
    const analytics = fake.functions.get('analytics')!
    analytics.Description = 'uploaded by DevTools'
    analytics.triggers = analytics.triggers.filter((t) => t.name === 'hourly')
    analytics.env = { OPS_NOTE: 'set in the console' }
    fake.functions.get('feedback')!.Timeout = 3

    const run = await deploy([], { uploadKey: true })
    expectOk(run)
    // Functions deploy three at a time: each one's steps in order.
    const writes = fake.writes().filter((c) => c.params.FunctionName === 'analytics')
    expect(writes.map((c) => `${c.via} ${c.service}.${c.action}`)).toEqual(['wechat-signed scf.UpdateFunctionCode', 'tc3 scf.UpdateFunctionConfiguration', 'agent scf.BatchCreateTrigger'])
    const others = fake.writes().filter((c) => c.params.FunctionName !== 'analytics')
    expect(others.map((c) => `${c.via} ${c.service}.${c.action} ${String(c.params.FunctionName)}`)).toEqual(['tc3 scf.UpdateFunctionConfiguration feedback'])
    // The code miniprogram-ci uploaded is exactly the bundle, config.json included.
    const code = writes[0]!
    expect(code.params).toEqual(expect.objectContaining({ FunctionName: 'analytics', Namespace: ENV, Handler: 'index.main', InstallDependency: 'TRUE' }))
    const files = readZip(Buffer.from(param<string>(code, 'ZipFile'), 'base64'))
    expect(Object.fromEntries([...files].map(([f, b]) => [f, b.toString('utf8')]))).toEqual(uploadedFiles('analytics'))
    // servicewechat.com signed that request after checking the upload key's signature.
    expect(fake.calls.filter((c) => c.path === '/wxa/ci/getqcloudapisignature').map((c) => (c.params.signReq as { action: string }).action)).toEqual(['UpdateFunctionCode'])
    expect(writes[1]!.params).toEqual(
      expect.objectContaining({ FunctionName: 'analytics', Timeout: 60, MemorySize: 256, Description: codeDescription(bundleSha256('analytics')), Environment: { Variables: [{ Key: 'OPS_NOTE', Value: 'set in the console' }] } }),
    )
    expect(writes[2]!.params).toEqual({ FunctionName: 'analytics', Namespace: ENV, Triggers: JSON.stringify([{ TriggerName: 'nightly', Type: 'timer', TriggerDesc: '0 30 0 * * * *' }]), Count: 1 })
    expect(others[0]!.params).toEqual(expect.objectContaining({ FunctionName: 'feedback', Timeout: 10 }))
    expect(fake.functions.get('analytics')!.triggers.map((t) => t.name).sort()).toEqual(['hourly', 'nightly'])
    expect(run.stdout).toContain('Verified: the environment now matches the repository')
  }, 180_000)

  test('a console rule, a dropped index and a changed schedule are put back with manager-node alone', async () => {
    fake.tables.get('users')!.rule = { AclTag: 'READONLY' }
    const feedback = fake.tables.get('feedback')!
    feedback.indexes = feedback.indexes.filter((i) => i.Name !== 'createdAt_-1')
    fake.functions.get('monitor')!.triggers = [{ name: 'every-5-minutes', cron: '0 */10 * * * * *' }]

    const run = await deploy(['--only', 'functions,database'])
    expectOk(run)
    expect(fake.writes().map((c) => `${c.action} ${String(c.params.FunctionName ?? c.params.TableName ?? c.params.CollectionName)}`)).toEqual([
      'DeleteTrigger monitor',
      'BatchCreateTrigger monitor',
      'ModifySafeRule users',
      'UpdateTable feedback',
    ])
    expect(byAction('DeleteTrigger')[0]!.params).toEqual({ FunctionName: 'monitor', Namespace: ENV, TriggerName: 'every-5-minutes', Type: 'timer' })
    // --only leaves the other sections unread: no config document is read (only whether guides exist).
    expect(byAction('RunCommands').flatMap((c) => param<{ TableName: string }[]>(c, 'MgoCommands').map((m) => m.TableName))).not.toContain('app_config')
  }, 180_000)
})

describe('the storage rule', () => {
  const rule = { read: '(resource.openid == auth.openid && /^(feedback)\\/[^\\/]+\\/.+$/.test(resource.path) == true)', write: 'resource.openid == auth.openid' }

  test('is set with ModifyStorageSafeRule (CUSTOM) on the environment\'s bucket, and read back with DescribeStorageSafeRule', async () => {
    const ops = path.join(cloud.dir, 'storage-ops.json')
    writeFileSync(ops, JSON.stringify({ section: 'storage', ops: [{ kind: 'setStorageRule', rule }] }))
    const run = await runTool('test/helpers/apply-operations.ts', [configFile, ops], toolEnv(cloud, { TENCENTCLOUD_SECRETID: SECRET_ID, TENCENTCLOUD_SECRETKEY: SECRET_KEY }))
    expectOk(run)
    expect(byAction('ModifyStorageSafeRule').map((c) => c.params)).toEqual([{ EnvId: ENV, Bucket: `7072-${ENV}-1250000000`, AclTag: 'CUSTOM', Rule: JSON.stringify(rule) }])
    expect(byAction('DescribeStorageSafeRule').map((c) => c.params)).toEqual([{ EnvId: ENV, Bucket: `7072-${ENV}-1250000000` }])
    expect(run.stdout).toContain(`storage acl: ${JSON.stringify({ acl: 'CUSTOM', rule })}`)
  }, 60_000)

  test("the manifest's rule (collections.ts storageRule) is what a deploy sets, CUSTOM, and a second deploy leaves it", async () => {
    const run = await deploy(['--only', 'storage'])
    expectOk(run)
    expect(manifestStorageRule()).toBe(storageRule)
    expect(byAction('ModifyStorageSafeRule').map((c) => [c.params.AclTag, c.params.Rule])).toEqual([['CUSTOM', JSON.stringify(storageRule)]])
    expect(run.stdout).toContain(`write: ${storageRule.write as string}`)
    fake.calls.length = 0
    const again = await deploy(['--only', 'storage'])
    expectOk(again)
    expect(byAction('ModifyStorageSafeRule', fake.writes())).toEqual([])
  }, 60_000)
})

describe('the demo content', () => {
  test('--seed-demo inserts the demo categories and guides, dates as dates, once', async () => {
    const run = await deploy(['--only', 'database', '--seed-demo'])
    expectOk(run)
    const inserts = byAction('RunCommands', fake.writes()).flatMap((c) => param<{ TableName: string; CommandType: string; Command: string }[]>(c, 'MgoCommands'))
    expect(inserts.map((i) => [i.TableName, i.CommandType])).toEqual([
      ['categories', 'INSERT'],
      ['guides', 'INSERT'],
    ])
    const guides = EJSON.parse(inserts[1]!.Command) as { documents: { publishedAt: unknown; views: number }[] }
    expect(guides.documents[0]!.publishedAt).toBeInstanceOf(Date)
    expect(guides.documents.every((g) => g.views === 0)).toBe(true)
    expect(fake.tables.get('categories')!.docs.size).toBe(5)

    fake.calls.length = 0
    const again = await deploy(['--only', 'database', '--seed-demo'])
    expectOk(again)
    expect(fake.writes()).toEqual([])
    expect(again.stdout).toContain('kept: the collection already holds documents')
  }, 180_000)
})

describe('refusals', () => {
  test('the fresh clone\'s placeholder configuration is refused before any request, with the fixes', async () => {
    const run = await deploy([], { config: path.join(ROOT, 'deploy.config.json') })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain('Nothing was changed')
    expect(run.stderr).toContain('touristappid')
    expect(run.stderr).toContain('云开发控制台 → 概览 → 环境 ID')
    expect(fake.calls).toEqual([])
  }, 60_000)

  test('keys the API refuses stop the deploy at the first request, with the fix', async () => {
    const wrong = path.join(cloud.dir, 'other-env.json')
    writeFileSync(wrong, JSON.stringify({ appid: APPID, envId: 'prod-other00', templates: TEMPLATES }))
    const run = await deploy(['--only', 'config'], { config: wrong })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain('ResourceNotFound.Env')
    expect(run.stderr).toContain('check envId and region in deploy.config.json')
    expect(fake.writes()).toEqual([])
  }, 60_000)
})
