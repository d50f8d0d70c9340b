/**
 * The deploy plan (tools/deploy/plan.ts) computed from the repository's own manifest, function
 * config.json files and a deploy configuration, against environments in given states: a first
 * deploy creates everything, a plan against what a deploy leaves behind is empty, and each kind of
 * drift (code, configuration, variables, triggers, indexes, rules, documents an admin edited) gives
 * exactly the operations that repair it, or a problem with its fix.
 */
import { collections, storageRule } from '../../cloudfunctions/_shared/collections'
import { templateKeys } from '../../cloudfunctions/_shared/templates'
import { checkConfig } from '../../cloudfunctions/incentives/defaults'
import { configDocSchema } from '../../cloudfunctions/experiments/schema'
import { listFunctions } from '../../tools/build'
import { parseDeployConfig, type Secrets } from '../../tools/deploy/config'
import { codeDescription, type DesiredState, desiredState, readFunctionConfig } from '../../tools/deploy/desired'
import { computePlan, formatPlan, type Operation, operations, type Plan, type PlanOptions, SECTIONS } from '../../tools/deploy/plan'
import { isNotFound, parseRunCommandsData } from '../../tools/deploy/documents'
import { parseTriggerDesc, type RemoteState } from '../../tools/deploy/remote'

const FUNCTIONS = listFunctions()
const ALL: PlanOptions = { sections: SECTIONS, codeVia: 'manager-node' }
const NO_SECRETS: Secrets = { functionEnv: {}, problems: [] }

function config(overrides: Record<string, unknown> = {}) {
  return parseDeployConfig(
    {
      appid: 'wx0123456789abcdef',
      envId: 'prod-4g1x2y3z',
      admins: ['oAdmin0000000000000000000001'],
      templates: { checkin_reminder: 'TplCheckin-0123456789', feedback_reply: 'TplFeedback-0123456789', ops_alert: 'TplAlert-0123456789ab' },
      ...overrides,
    },
    FUNCTIONS,
  )
}

function empty(): RemoteState {
  return {
    functions: Object.fromEntries(FUNCTIONS.map((f) => [f, null])),
    collections: Object.fromEntries(Object.keys(collections).map((c) => [c, null])),
    storage: null,
    documents: { admins: null, templates: null, incentives: null, applied: null, experiments: [], content: { categories: false, guides: false } },
  }
}

/** What the operations do to an environment, as the APIs document them (UpdateFunctionConfiguration replaces the variables, etc.). */
function simulate(state: RemoteState, desired: DesiredState, ops: readonly Operation[]): RemoteState {
  const next: RemoteState = structuredClone(state)
  const docs = next.documents
  for (const op of ops) {
    switch (op.kind) {
      case 'createFunction':
        next.functions[op.fn.name] = { runtime: op.fn.runtime, timeout: op.fn.timeout, memorySize: op.fn.memorySize, env: { ...op.fn.env }, triggers: [...op.fn.triggers], description: codeDescription(op.fn.codeSha256), status: 'Active' }
        break
      case 'uploadCode':
        break
      case 'configureFunction': {
        const fn = next.functions[op.fn.name]!
        Object.assign(fn, { timeout: op.fn.timeout, memorySize: op.fn.memorySize, env: { ...op.env }, description: op.description })
        break
      }
      case 'deleteTrigger': {
        const fn = next.functions[op.fn]!
        fn.triggers = fn.triggers.filter((t) => t.name !== op.trigger)
        break
      }
      case 'createTriggers':
        next.functions[op.fn]!.triggers.push(...op.triggers)
        break
      case 'createCollection':
        next.collections[op.collection] = { indexes: [{ name: '_id_', keys: { _id: 1 }, unique: true }], rule: { aclTag: 'ADMINONLY', rule: null } }
        break
      case 'createIndexes':
        next.collections[op.collection]!.indexes.push(...op.indexes.map((i) => ({ name: i.name, keys: { ...i.keys }, unique: Boolean(i.unique) })))
        break
      case 'setRule':
        next.collections[op.collection]!.rule = { aclTag: 'CUSTOM', rule: JSON.parse(JSON.stringify(op.rule)) }
        break
      case 'setStorageRule':
        next.storage = { aclTag: 'CUSTOM', rule: JSON.parse(JSON.stringify(op.rule)) }
        break
      case 'insertDocuments':
        docs.content = { categories: docs.content?.categories ?? false, guides: docs.content?.guides ?? false, [op.collection]: true }
        break
      case 'updateDocument': {
        const u = op.update as Record<string, Record<string, unknown>>
        if (op.collection === 'experiments') docs.experiments.push(op.id)
        else if (op.id === 'admins') {
          const list = docs.admins ?? []
          for (const o of ((u.$addToSet?.openids as { $each: string[] })?.$each ?? [])) if (!list.includes(o)) list.push(o)
          docs.admins = list.filter((o) => !((u.$pullAll?.openids as string[] | undefined) ?? []).includes(o))
        } else if (op.id === 'templates') {
          docs.templates ??= {}
          for (const [k, v] of Object.entries(u.$set ?? {})) if (k.startsWith('ids.')) docs.templates[k.slice(4)] = String(v)
        } else if (op.id === 'incentives') {
          docs.incentives = { ...(docs.incentives ?? {}), referral: { ...((docs.incentives?.referral as object) ?? {}), checkPath: u.$set!['referral.checkPath'] } }
        } else if (op.id === 'deploy') {
          docs.applied = structuredClone(u.$set!.applied) as RemoteState['documents']['applied']
        }
        break
      }
    }
  }
  void desired
  return next
}

function deployed(desired: DesiredState): RemoteState {
  return simulate(empty(), desired, operations(computePlan(desired, empty(), ALL)))
}

const kinds = (plan: Plan) => operations(plan).map((op) => op.kind)

describe('a first deploy', () => {
  const desired = desiredState(config(), NO_SECRETS)
  const plan = computePlan(desired, empty(), ALL)
  const ops = operations(plan)

  test('creates every function with its runtime, memory, timeout, variables and every timer trigger of its config.json', () => {
    const created = ops.filter((op): op is Extract<Operation, { kind: 'createFunction' }> => op.kind === 'createFunction')
    expect(created.map((op) => op.fn.name)).toEqual(FUNCTIONS)
    expect(FUNCTIONS).toHaveLength(11)
    for (const op of created) {
      const json = readFunctionConfig(op.fn.name)
      expect(op.fn.timeout).toBe(json.timeout)
      expect(op.fn.runtime).toBe('Nodejs16.13')
      expect(op.fn.memorySize).toBe(256)
      expect(op.fn.triggers).toEqual(json.triggers.map((t) => ({ name: t.name, config: t.config })))
      expect(op.fn.openapi).toEqual(json.permissions.openapi)
      for (const [k, v] of Object.entries(json.envVariables)) expect(op.fn.env[k]).toBe(v)
    }
    const analytics = created.find((op) => op.fn.name === 'analytics')!.fn
    expect(analytics.triggers.map((t) => t.name)).toEqual(['hourly', 'nightly'])
    expect(analytics.timeout).toBe(60)
  })

  test('derives NOTIFY_MINIPROGRAM_STATE for every function that sends subscription messages, and adds the deploy config variables', () => {
    const env = (name: string) => (ops.find((op) => op.kind === 'createFunction' && op.fn.name === name) as Extract<Operation, { kind: 'createFunction' }>).fn.env
    for (const name of ['notify', 'feedback', 'monitor']) expect(env(name).NOTIFY_MINIPROGRAM_STATE).toBe('formal')
    expect(env('content').NOTIFY_MINIPROGRAM_STATE).toBeUndefined()
    const trial = desiredState(config({ subscriptions: { miniprogramState: 'trial' }, functions: { feedback: { env: { FEEDBACK_HOURLY_LIMIT: '9' } } } }), NO_SECRETS)
    const feedback = trial.functions.find((f) => f.name === 'feedback')!
    expect(feedback.env).toEqual({ FEEDBACK_HOURLY_LIMIT: '9', NOTIFY_MINIPROGRAM_STATE: 'trial' })
  })

  test('creates every collection of the manifest, each index (unique ones unique) and each rule', () => {
    const names = Object.keys(collections)
    expect(ops.filter((op) => op.kind === 'createCollection').map((op) => (op as { collection: string }).collection)).toEqual(names)
    const indexes = ops.flatMap((op) => (op.kind === 'createIndexes' ? op.indexes.map((i) => `${op.collection}.${i.name}${i.unique ? '!' : ''}`) : []))
    const expected = Object.entries(collections).flatMap(([c, spec]) => spec.indexes.map((i) => `${c}.${i.name}${'unique' in i && i.unique ? '!' : ''}`))
    expect(indexes).toEqual(expected)
    expect(indexes.filter((i) => i.endsWith('!'))).toEqual(['points_ledger.openid_1_seq_-1!', 'checkins.openid_1_day_1!', 'invite_codes.code_1!'])
    const rules = ops.filter((op): op is Extract<Operation, { kind: 'setRule' }> => op.kind === 'setRule')
    expect(rules.map((r) => r.collection)).toEqual(names)
    for (const r of rules) expect(r.rule).toEqual(collections[r.collection as keyof typeof collections].rule)
  })

  test('writes the admins, the template ids, checkPath, the stopped demo experiment and the record of what it applied', () => {
    const docs = ops.filter((op): op is Extract<Operation, { kind: 'updateDocument' }> => op.kind === 'updateDocument')
    expect(docs.map((d) => `${d.collection}/${d.id}`)).toEqual(['app_config/admins', 'app_config/templates', 'app_config/incentives', 'experiments/home_value_copy', 'app_config/deploy'])
    expect(docs[0]!.update).toEqual({ $addToSet: { openids: { $each: ['oAdmin0000000000000000000001'] } } })
    expect(docs[1]!.update).toEqual({ $set: { 'ids.checkin_reminder': 'TplCheckin-0123456789', 'ids.feedback_reply': 'TplFeedback-0123456789', 'ids.ops_alert': 'TplAlert-0123456789ab' } })
    expect(docs[2]!.update).toEqual({ $set: { 'referral.checkPath': false } })
    // The incentives function accepts the document that update leaves.
    expect(checkConfig({ _id: 'incentives', referral: { checkPath: false } }).valid).toBe(true)
    const experiment = docs[3]!.update.$setOnInsert as Record<string, unknown>
    expect(experiment.status).toBe('stopped')
    expect(configDocSchema.safeParse({ _id: 'home_value_copy', ...experiment }).success).toBe(true)
  })

  test('prints every function, collection, index, rule and document, with the totals', () => {
    const text = formatPlan(plan)
    for (const fn of FUNCTIONS) expect(text).toContain(`+ function ${fn} [create]`)
    for (const [name, spec] of Object.entries(collections)) {
      expect(text).toContain(`+ collection ${name} [create]`)
      for (const index of spec.indexes) expect(text).toContain(`index ${index.name} {`)
    }
    expect(text).toContain('timer triggers: hourly "0 5 * * * * *", nightly "0 30 0 * * * *"')
    expect(text).toContain('experiments/home_value_copy [create]')
    expect(text).toMatch(new RegExp(`${ops.length} changes: 11 createFunction, ${Object.keys(collections).length} createCollection`))
  })
})

describe('a deploy run again', () => {
  test('finds nothing to change in the environment the first one left', () => {
    const desired = desiredState(config(), NO_SECRETS)
    const after = deployed(desired)
    const again = computePlan(desired, after, ALL)
    expect(operations(again)).toEqual([])
    expect(again.items.every((i) => i.status === 'unchanged' || i.status === 'kept')).toBe(true)
    expect(formatPlan(again)).toContain('0 changes (the environment matches the repository)')
  })

  test('with --force-code uploads every function again and changes nothing else', () => {
    const desired = desiredState(config(), NO_SECRETS)
    const plan = computePlan(desired, deployed(desired), { ...ALL, forceCode: true })
    expect(kinds(plan)).toEqual(FUNCTIONS.flatMap(() => ['uploadCode', 'configureFunction']))
  })
})

describe('drift in functions', () => {
  const desired = desiredState(config(), NO_SECRETS)

  test('code built since the last deploy is uploaded (with the chosen tool) and the function re-labelled', () => {
    const state = deployed(desired)
    state.functions.track!.description = codeDescription('0'.repeat(64))
    const plan = computePlan(desired, state, { ...ALL, codeVia: 'miniprogram-ci' })
    expect(operations(plan)).toEqual([
      { kind: 'uploadCode', fn: expect.objectContaining({ name: 'track' }), via: 'miniprogram-ci' },
      { kind: 'configureFunction', fn: expect.objectContaining({ name: 'track' }), env: {}, description: codeDescription(desired.functions.find((f) => f.name === 'track')!.codeSha256) },
    ])
  })

  test('a changed timeout or variable updates the configuration, sending back the variables an admin added in the console', () => {
    const state = deployed(desired)
    state.functions.feedback!.timeout = 3
    state.functions.feedback!.env = { FEEDBACK_HOURLY_LIMIT: '2', NOTIFY_MINIPROGRAM_STATE: 'formal', OPS_NOTE: 'set by hand' }
    const plan = computePlan(desired, state, ALL)
    expect(operations(plan)).toEqual([
      { kind: 'configureFunction', fn: expect.objectContaining({ name: 'feedback', timeout: 10 }), env: { FEEDBACK_HOURLY_LIMIT: '5', NOTIFY_MINIPROGRAM_STATE: 'formal', OPS_NOTE: 'set by hand' }, description: expect.stringContaining('sha256:') },
    ])
    const item = plan.items.find((i) => i.target === 'function feedback')!
    expect(item.lines.join('\n')).toContain('timeout 3 → 10 s; env ~ FEEDBACK_HOURLY_LIMIT: 2 → 5')
    expect(item.lines.join('\n')).toContain('env kept from the console (not in the config): OPS_NOTE')
  })

  test('a secret variable is set and printed masked', () => {
    const secret = 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=s3cr3t-t0ken-value'
    const withSecret = desiredState(config(), { functionEnv: { MONITOR_WEBHOOK_URL: secret }, problems: [] })
    const monitor = withSecret.functions.find((f) => f.name === 'monitor')!
    expect(monitor.env.MONITOR_WEBHOOK_URL).toBe(secret)
    expect(withSecret.functions.filter((f) => f.env.MONITOR_WEBHOOK_URL)).toHaveLength(1)
    const text = formatPlan(computePlan(withSecret, deployed(desired), ALL))
    expect(text).toContain('env + MONITOR_WEBHOOK_URL=')
    expect(text).not.toContain('s3cr3t-t0ken-value')
  })

  test('a changed schedule is deleted and created again; a trigger config.json no longer has is deleted', () => {
    const state = deployed(desired)
    state.functions.analytics!.triggers = [
      { name: 'hourly', config: '0 0 * * * * *' },
      { name: 'nightly', config: '0 30 0 * * * *' },
      { name: 'legacy', config: '0 0 3 * * * *' },
    ]
    const plan = computePlan(desired, state, ALL)
    expect(operations(plan)).toEqual([
      { kind: 'deleteTrigger', fn: 'analytics', trigger: 'hourly' },
      { kind: 'deleteTrigger', fn: 'analytics', trigger: 'legacy' },
      { kind: 'createTriggers', fn: 'analytics', triggers: [{ name: 'hourly', config: '0 5 * * * * *' }], via: 'manager-node' },
    ])
    expect(operations(computePlan(desired, simulate(state, desired, operations(plan)), ALL))).toEqual([])
  })

  test('a function created by DevTools on Node 8 is an error with the fix; another runtime is a warning', () => {
    const state = deployed(desired)
    state.functions.user!.runtime = 'Nodejs8.9'
    state.functions.content!.runtime = 'Nodejs18.15'
    const { problems } = computePlan(desired, state, ALL)
    expect(problems).toEqual([
      expect.objectContaining({ level: 'warning', subject: 'function content' }),
      expect.objectContaining({ level: 'error', subject: 'function user', fix: expect.stringContaining('云开发控制台 → 云函数 → user → 删除') }),
    ])
  })
})

describe('drift in the database', () => {
  const desired = desiredState(config(), NO_SECRETS)

  test('a missing index is created, a different one is an error with the fix, an extra one is kept, a console rule is replaced', () => {
    const state = deployed(desired)
    const feedback = state.collections.feedback!
    feedback.indexes = feedback.indexes.filter((i) => i.name !== 'createdAt_-1')
    feedback.indexes.push({ name: 'by_hand', keys: { text: 1 }, unique: false })
    state.collections.checkins!.indexes = state.collections.checkins!.indexes.map((i) => (i.name === 'openid_1_day_1' ? { ...i, unique: false } : i))
    state.collections.users!.rule = { aclTag: 'PRIVATE', rule: null }
    const plan = computePlan(desired, state, ALL)
    expect(operations(plan)).toEqual([
      { kind: 'setRule', collection: 'users', rule: { read: false, write: false } },
      { kind: 'createIndexes', collection: 'feedback', indexes: [{ name: 'createdAt_-1', keys: { createdAt: -1 } }] },
    ])
    expect(plan.problems).toEqual([expect.objectContaining({ level: 'error', subject: 'collection checkins index openid_1_day_1', fix: expect.stringContaining('索引管理') })])
    expect(plan.items.find((i) => i.target === 'collection feedback')!.lines).toContain('index by_hand: kept (not in the manifest) {text: 1}')
  })

  test('--seed-demo loads the demo categories and guides into empty collections only', () => {
    const seeded = desiredState(config(), NO_SECRETS, { seedDemo: true })
    const plan = computePlan(seeded, empty(), { ...ALL, sections: ['database'] })
    const inserts = operations(plan).filter((op): op is Extract<Operation, { kind: 'insertDocuments' }> => op.kind === 'insertDocuments')
    expect(inserts.map((op) => [op.collection, op.documents.length])).toEqual([
      ['categories', 5],
      ['guides', seeded.seed!.guides.length],
    ])
    const guide = inserts[1]!.documents[0]!
    expect(guide.publishedAt).toBeInstanceOf(Date)
    expect(guide.views).toBe(0)
    const state = empty()
    state.documents.content = { categories: true, guides: false }
    expect(operations(computePlan(seeded, state, { ...ALL, sections: ['database'] })).filter((op) => op.kind === 'insertDocuments').map((op) => (op as { collection: string }).collection)).toEqual(['guides'])
    expect(operations(computePlan(desired, empty(), { ...ALL, sections: ['database'] })).some((op) => op.kind === 'insertDocuments')).toBe(false)
  })
})

describe('config documents an admin edits', () => {
  test('admins: the config adds its OPENIDs, removes the ones taken out of it, and keeps whoever an admin added or removed in the console', () => {
    const first = desiredState(config({ admins: ['oAdminA00000000000000000000', 'oAdminB00000000000000000000'] }), NO_SECRETS)
    const state = deployed(first)
    state.documents.admins = ['oAdminA00000000000000000000', 'oConsole0000000000000000000'] // B removed and another added by hand
    const next = desiredState(config({ admins: ['oAdminA00000000000000000000', 'oAdminB00000000000000000000', 'oAdminC00000000000000000000'] }), NO_SECRETS)
    let plan = computePlan(next, state, { ...ALL, sections: ['config'] })
    expect(operations(plan).filter((op) => op.kind === 'updateDocument' && op.id === 'admins')).toEqual([
      { kind: 'updateDocument', collection: 'app_config', id: 'admins', update: { $addToSet: { openids: { $each: ['oAdminC00000000000000000000'] } } } },
    ])
    const after = simulate(state, next, operations(plan))
    expect(after.documents.admins).toEqual(['oAdminA00000000000000000000', 'oConsole0000000000000000000', 'oAdminC00000000000000000000'])
    const fewer = desiredState(config({ admins: ['oAdminC00000000000000000000'] }), NO_SECRETS)
    plan = computePlan(fewer, after, { ...ALL, sections: ['config'] })
    expect(operations(plan).filter((op) => op.kind === 'updateDocument' && op.id === 'admins')).toEqual([
      { kind: 'updateDocument', collection: 'app_config', id: 'admins', update: { $pullAll: { openids: ['oAdminA00000000000000000000'] } } },
    ])
    expect(simulate(after, fewer, operations(plan)).documents.admins).toEqual(['oConsole0000000000000000000', 'oAdminC00000000000000000000'])
  })

  test('templates: a new id in the config replaces the one it wrote, but an id an admin set in the console stays, with a warning', () => {
    const desired = desiredState(config(), NO_SECRETS)
    const state = deployed(desired)
    state.documents.templates!.ops_alert = 'TplFromConsole-000000'
    const changed = desiredState(config({ templates: { checkin_reminder: 'TplCheckin-NEW0000000', feedback_reply: 'TplFeedback-0123456789', ops_alert: 'TplAlert-NEW000000000' } }), NO_SECRETS)
    const plan = computePlan(changed, state, { ...ALL, sections: ['config'] })
    expect(operations(plan).find((op) => op.kind === 'updateDocument' && op.id === 'templates')).toEqual({
      kind: 'updateDocument',
      collection: 'app_config',
      id: 'templates',
      update: { $set: { 'ids.checkin_reminder': 'TplCheckin-NEW0000000' } },
    })
    expect(plan.problems).toEqual([expect.objectContaining({ level: 'warning', subject: 'app_config/templates ops_alert', fix: expect.stringContaining('TplFromConsole-000000') })])
  })

  test('templates an admin already set in the console before any deploy are kept when the config has none', () => {
    const desired = desiredState(config({ templates: {} }), NO_SECRETS)
    const state = empty()
    state.documents.templates = Object.fromEntries(templateKeys.map((k) => [k, `Console-${k}-0000`]))
    const item = computePlan(desired, state, { ...ALL, sections: ['config'] }).items.find((i) => i.target === 'app_config/templates')!
    expect(item.ops).toEqual([])
    expect(item.lines).toContain('ops_alert: Console-ops_alert-0000 (from the console)')
  })

  test('checkPath: set from the config unless an admin changed it in the console', () => {
    const desired = desiredState(config(), NO_SECRETS)
    const state = deployed(desired)
    state.documents.incentives = { referral: { checkPath: true, inviterPoints: 80 } }
    const plan = computePlan(desired, state, { ...ALL, sections: ['config'] })
    expect(operations(plan)).toEqual([])
    expect(plan.problems).toEqual([expect.objectContaining({ subject: 'app_config/incentives referral.checkPath' })])
    const on = desiredState(config({ incentives: { checkPath: true }, miniprogram: { published: true } }), NO_SECRETS)
    expect(operations(computePlan(on, deployed(desired), { ...ALL, sections: ['config'] })).map((op) => (op as { update?: unknown }).update)).toEqual([
      { $set: { 'referral.checkPath': true } },
      { $set: { applied: { admins: ['oAdmin0000000000000000000001'], templates: expect.any(Object), incentivesCheckPath: true } } },
    ])
  })

  test('demo experiments: stored stopped once, an admin\'s document is left alone, and --run-demo-experiments leaves them running', () => {
    const desired = desiredState(config(), NO_SECRETS)
    const state = deployed(desired)
    expect(state.documents.experiments).toEqual(['home_value_copy'])
    const running = desiredState(config(), NO_SECRETS, { runDemoExperiments: true })
    const plan = computePlan(running, empty(), { ...ALL, sections: ['config'] })
    expect(operations(plan).some((op) => op.kind === 'updateDocument' && op.collection === 'experiments')).toBe(false)
    expect(plan.items.find((i) => i.target === 'experiments/home_value_copy')!.lines).toEqual(['demo experiment left running (--run-demo-experiments)'])
    expect(desiredState(config({ demo: { experiments: 'running' } }), NO_SECRETS).documents.stopExperiments).toEqual([])
  })
})

test('--only limits the plan to the sections named', () => {
  const desired = desiredState(config(), NO_SECRETS)
  const plan = computePlan(desired, empty(), { ...ALL, sections: ['storage', 'config'] })
  expect(new Set(plan.items.map((i) => i.section))).toEqual(new Set(['storage', 'config']))
  expect(formatPlan(plan)).not.toContain('Functions (')
})

describe('documents read back with RunCommands', () => {
  test('the answer as the RunCommands API reference shows it: one JSON string per command, documents in Extended JSON', () => {
    const data = [JSON.stringify([JSON.stringify({ _id: '1', category: 'Web', tags: ['JavaScript', 'C#'], date: { $date: { $numberLong: '1572937669786' } } })])]
    expect(parseRunCommandsData(data)).toEqual([{ _id: '1', category: 'Web', tags: ['JavaScript', 'C#'], date: new Date(1572937669786) }])
    expect(parseRunCommandsData(null)).toEqual([])
    expect(parseRunCommandsData([JSON.stringify([{ _id: 'admins', openids: ['o1'] }])])).toEqual([{ _id: 'admins', openids: ['o1'] }])
  })

  test('only a missing function counts as not found (a missing environment is an error)', () => {
    expect(isNotFound({ code: 'ResourceNotFound.Function' })).toBe(true)
    expect(isNotFound({ code: 'ResourceNotFound.FunctionName' })).toBe(true)
    expect(isNotFound({ code: 'ResourceNotFound.Namespace' })).toBe(false)
    expect(isNotFound(new Error('boom'))).toBe(false)
  })

  test('a timer read back as {"cron": ...} or as a bare expression is the same trigger', () => {
    expect(parseTriggerDesc('{"cron":"0 5 * * * * *"}')).toBe('0 5 * * * * *')
    expect(parseTriggerDesc('0 5 * * * * *')).toBe('0 5 * * * * *')
  })
})

describe('the storage rule', () => {
  const rule = { read: 'auth != null', write: 'resource.openid == auth.openid' }
  const withRule = (): DesiredState => ({ ...desiredState(config(), NO_SECRETS), storageRule: rule })

  test('is set when the bucket has a simple permission or another rule, and left alone when it matches', () => {
    const state = empty()
    state.storage = { aclTag: 'PRIVATE', rule: null }
    let plan = computePlan(withRule(), state, { ...ALL, sections: ['storage'] })
    expect(operations(plan)).toEqual([{ kind: 'setStorageRule', rule }])
    expect(plan.items[0]!.lines).toEqual(['was: PRIVATE', 'read: auth != null', 'write: resource.openid == auth.openid'])
    state.storage = { aclTag: 'CUSTOM', rule: { write: 'resource.openid == auth.openid', read: 'auth != null' } }
    plan = computePlan(withRule(), state, { ...ALL, sections: ['storage'] })
    expect(operations(plan)).toEqual([])
    expect(plan.items[0]!.status).toBe('unchanged')
  })

  test("the desired state carries the manifest's storageRule, which the plan sets on a bucket still PRIVATE", () => {
    const desired = desiredState(config(), NO_SECRETS)
    expect(desired.storageRule).toBe(storageRule)
    const state = empty()
    state.storage = { aclTag: 'PRIVATE', rule: null }
    expect(operations(computePlan(desired, state, { ...ALL, sections: ['storage'] }))).toEqual([{ kind: 'setStorageRule', rule: storageRule }])
  })

  test('a first deploy sets it; without a rule in the manifest the bucket is left as it is', () => {
    expect(operations(computePlan(withRule(), null, { ...ALL, sections: ['storage'] }))).toEqual([{ kind: 'setStorageRule', rule }])
    const none = { ...desiredState(config(), NO_SECRETS), storageRule: null }
    const plan = computePlan(none, empty(), { ...ALL, sections: ['storage'] })
    expect(operations(plan)).toEqual([])
    expect(plan.items[0]!.status).toBe('kept')
  })
})
