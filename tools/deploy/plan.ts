/**
 * The deploy plan: the desired state (desired.ts) compared with the environment (remote.ts, or
 * nothing when it could not be read), as items a person reads and operations `apply.ts` runs.
 * Pure: the same inputs give the same plan, and a plan computed against the state a deploy left
 * behind is empty (that is what makes `npm run deploy` idempotent).
 */
import type { IndexSpec, SecurityRule } from '../../cloudfunctions/_shared/collections'
import { type TemplateKey, templateKeys } from '../../cloudfunctions/_shared/templates'
import { mask } from './config'
import { codeDescription, type DesiredFunction, type DesiredState, type TimerTrigger } from './desired'
import { APPLIED_DOC_ID, type MongoUpdate } from './documents'
import { type AppliedRecord, canonicalJson, type RemoteFunction, type RemoteState, ruleEquals } from './remote'

export const SECTIONS = ['functions', 'database', 'storage', 'config'] as const
export type Section = (typeof SECTIONS)[number]

export type Tool = 'miniprogram-ci' | 'manager-node'

export type Operation =
  | { kind: 'createFunction'; fn: DesiredFunction }
  | { kind: 'uploadCode'; fn: DesiredFunction; via: Tool }
  | { kind: 'configureFunction'; fn: DesiredFunction; env: Record<string, string>; description: string }
  | { kind: 'deleteTrigger'; fn: string; trigger: string }
  | { kind: 'createTriggers'; fn: string; triggers: TimerTrigger[]; via: Tool }
  | { kind: 'createCollection'; collection: string }
  | { kind: 'createIndexes'; collection: string; indexes: IndexSpec[] }
  | { kind: 'setRule'; collection: string; rule: SecurityRule }
  | { kind: 'setStorageRule'; rule: SecurityRule }
  | { kind: 'updateDocument'; collection: string; id: string; update: MongoUpdate }
  | { kind: 'insertDocuments'; collection: string; documents: Record<string, unknown>[] }

export type ItemStatus = 'create' | 'update' | 'unchanged' | 'kept'

export interface PlanItem {
  section: Section
  /** What it is about: `function analytics`, `collection users`, `app_config/templates`... */
  target: string
  status: ItemStatus
  /** What exists and what changes, one fact per line. */
  lines: string[]
  ops: Operation[]
}

export interface Problem {
  level: 'error' | 'warning'
  subject: string
  message: string
  fix: string
}

export interface Plan {
  envId: string
  appid: string
  region: string
  sections: Section[]
  /** False when the environment could not be read: every item is shown as it would be created. */
  remoteRead: boolean
  items: PlanItem[]
  problems: Problem[]
}

export interface PlanOptions {
  sections: readonly Section[]
  /** Which tool uploads code and creates timer triggers for existing functions. */
  codeVia: Tool
  /** Upload every function's code even when it is current. */
  forceCode?: boolean
}

// ---- functions -------------------------------------------------------------------------------------

/** Runtimes the bundles cannot run on (they target Node 16). */
function tooOld(runtime: string): boolean {
  const major = Number(/^Nodejs(\d+)/.exec(runtime)?.[1])
  return Number.isFinite(major) && major < 16
}

function envLine(fn: DesiredFunction, key: string, value: string): string {
  return `${key}=${fn.secretEnv.includes(key) ? mask(value) : value}`
}

function describeFunction(fn: DesiredFunction): string[] {
  return [
    `${fn.runtime}, ${fn.memorySize} MB, timeout ${fn.timeout} s, code sha256:${fn.codeSha256.slice(0, 16)} (${fn.files.join(', ')})`,
    `env: ${Object.keys(fn.env).length ? Object.entries(fn.env).map(([k, v]) => envLine(fn, k, v)).join(', ') : '(none)'}`,
    `open API: ${fn.openapi.length ? fn.openapi.join(', ') : '(none)'} (config.json, uploaded with the code)`,
    `timer triggers: ${fn.triggers.length ? fn.triggers.map((t) => `${t.name} "${t.config}"`).join(', ') : '(none)'}`,
  ]
}

function planFunction(fn: DesiredFunction, remote: RemoteFunction | null | undefined, options: PlanOptions, problems: Problem[]): PlanItem {
  const target = `function ${fn.name}`
  if (!remote) {
    return {
      section: 'functions',
      target,
      status: 'create',
      lines: [...describeFunction(fn), 'create with manager-node (CreateFunction with this configuration, then BatchCreateTrigger)'],
      ops: [{ kind: 'createFunction', fn }],
    }
  }
  const lines: string[] = []
  const ops: Operation[] = []
  if (tooOld(remote.runtime)) {
    problems.push({
      level: 'error',
      subject: target,
      message: `${fn.name} runs on ${remote.runtime}; the bundle needs Node.js 16 or newer, and a runtime cannot be changed in place.`,
      fix: `Delete the function (云开发控制台 → 云函数 → ${fn.name} → 删除) and deploy again: it is re-created with ${fn.runtime}, its configuration and triggers.`,
    })
  } else if (remote.runtime !== fn.runtime) {
    problems.push({
      level: 'warning',
      subject: target,
      message: `${fn.name} runs on ${remote.runtime}, the deploy config says ${fn.runtime}; a runtime is set when a function is created and is kept.`,
      fix: `To change it, delete the function in the console (云开发控制台 → 云函数) and deploy again; or set functions.${fn.name}.runtime to ${remote.runtime}.`,
    })
  }
  if (remote.status && remote.status !== 'Active') lines.push(`status ${remote.status} (not Active: check 云开发控制台 → 云函数 → ${fn.name})`)

  const codeCurrent = remote.description === codeDescription(fn.codeSha256)
  if (!codeCurrent || options.forceCode) {
    const had = /sha256:([0-9a-f]{16})/.exec(remote.description)?.[1]
    lines.push(`code: ${had ? `sha256:${had}` : 'not deployed by this tool'} → sha256:${fn.codeSha256.slice(0, 16)} (upload with ${options.codeVia})`)
    ops.push({ kind: 'uploadCode', fn, via: options.codeVia })
  } else {
    lines.push(`code: current (sha256:${fn.codeSha256.slice(0, 16)})`)
  }

  const configChanges: string[] = []
  if (remote.timeout !== fn.timeout) configChanges.push(`timeout ${remote.timeout} → ${fn.timeout} s`)
  if (remote.memorySize !== fn.memorySize) configChanges.push(`memory ${remote.memorySize} → ${fn.memorySize} MB`)
  // UpdateFunctionConfiguration replaces the whole variable set: variables an admin added in the console are sent back unchanged.
  const env = { ...remote.env, ...fn.env }
  for (const [key, value] of Object.entries(fn.env)) {
    if (!(key in remote.env)) configChanges.push(`env + ${envLine(fn, key, value)}`)
    else if (remote.env[key] !== value) configChanges.push(`env ~ ${key}: ${fn.secretEnv.includes(key) ? 'changed' : `${remote.env[key]} → ${value}`}`)
  }
  const kept = Object.keys(remote.env).filter((k) => !(k in fn.env))
  if (configChanges.length || ops.length) {
    ops.push({ kind: 'configureFunction', fn, env, description: codeDescription(fn.codeSha256) })
  }
  lines.push(configChanges.length ? `configuration (manager-node UpdateFunctionConfiguration): ${configChanges.join('; ')}` : `configuration: current (${fn.memorySize} MB, timeout ${fn.timeout} s, ${Object.keys(fn.env).length} env variables)`)
  if (kept.length) lines.push(`env kept from the console (not in the config): ${kept.join(', ')}`)
  lines.push(`open API: ${fn.openapi.length ? fn.openapi.join(', ') : '(none)'}`)

  const remoteTriggers = new Map(remote.triggers.map((t) => [t.name, t.config]))
  const wanted = new Map(fn.triggers.map((t) => [t.name, t.config]))
  const create: TimerTrigger[] = []
  for (const t of fn.triggers) {
    const current = remoteTriggers.get(t.name)
    if (current === t.config) continue
    if (current !== undefined) {
      lines.push(`trigger ${t.name}: "${current}" → "${t.config}"`)
      ops.push({ kind: 'deleteTrigger', fn: fn.name, trigger: t.name })
    } else {
      lines.push(`trigger ${t.name}: + "${t.config}"`)
    }
    create.push(t)
  }
  for (const [name, config] of remoteTriggers) {
    if (wanted.has(name)) continue
    lines.push(`trigger ${name}: - "${config}" (not in config.json)`)
    ops.push({ kind: 'deleteTrigger', fn: fn.name, trigger: name })
  }
  if (create.length) ops.push({ kind: 'createTriggers', fn: fn.name, triggers: create, via: options.codeVia })
  if (!create.length && ops.every((op) => op.kind !== 'deleteTrigger')) {
    lines.push(`timer triggers: ${fn.triggers.length ? `current (${fn.triggers.map((t) => t.name).join(', ')})` : '(none)'}`)
  }
  return { section: 'functions', target, status: ops.length ? 'update' : 'unchanged', lines, ops }
}

// ---- database ---------------------------------------------------------------------------------------

function indexText(index: { keys: Readonly<Record<string, number>>; unique?: boolean }): string {
  return `{${Object.entries(index.keys).map(([k, d]) => `${k}: ${d}`).join(', ')}}${index.unique ? ' unique' : ''}`
}

function planCollections(desired: DesiredState, remote: RemoteState | null, problems: Problem[]): PlanItem[] {
  return desired.collections.map((coll) => {
    const target = `collection ${coll.name}`
    const current = remote?.collections[coll.name]
    const rule = `rule ${canonicalJson(coll.rule)}`
    if (!current) {
      const ops: Operation[] = [{ kind: 'createCollection', collection: coll.name }]
      if (coll.indexes.length) ops.push({ kind: 'createIndexes', collection: coll.name, indexes: [...coll.indexes] })
      ops.push({ kind: 'setRule', collection: coll.name, rule: coll.rule })
      return {
        section: 'database' as const,
        target,
        status: 'create' as const,
        lines: [...coll.indexes.map((i) => `index ${i.name} ${indexText(i)}`), rule],
        ops,
      }
    }
    const lines: string[] = []
    const missing: IndexSpec[] = []
    const byName = new Map(current.indexes.map((i) => [i.name, i]))
    for (const index of coll.indexes) {
      const existing = byName.get(index.name)
      if (!existing) {
        missing.push(index)
        lines.push(`index ${index.name}: + ${indexText(index)}`)
      } else if (canonicalJson(Object.entries(existing.keys)) !== canonicalJson(Object.entries(index.keys)) || existing.unique !== Boolean(index.unique)) {
        problems.push({
          level: 'error',
          subject: `${target} index ${index.name}`,
          message: `The environment's index ${index.name} is ${indexText(existing)}, the manifest's is ${indexText(index)}.`,
          fix: `Delete the index in 云开发控制台 → 数据库 → ${coll.name} → 索引管理, then deploy again to create it from cloudfunctions/_shared/collections.ts${index.unique ? ' (first remove duplicates, or creating the unique index fails)' : ''}.`,
        })
      } else {
        lines.push(`index ${index.name}: current`)
      }
    }
    const extra = current.indexes.filter((i) => i.name !== '_id_' && !coll.indexes.some((d) => d.name === i.name))
    for (const index of extra) lines.push(`index ${index.name}: kept (not in the manifest) ${indexText(index)}`)
    const ops: Operation[] = []
    if (missing.length) ops.push({ kind: 'createIndexes', collection: coll.name, indexes: missing })
    if (ruleEquals(current.rule, coll.rule)) lines.push(`${rule}: current`)
    else {
      lines.push(`rule: ${current.rule.aclTag === 'CUSTOM' ? canonicalJson(current.rule.rule) : current.rule.aclTag || '(none)'} → ${canonicalJson(coll.rule)}`)
      ops.push({ kind: 'setRule', collection: coll.name, rule: coll.rule })
    }
    return { section: 'database' as const, target, status: ops.length ? ('update' as const) : ('unchanged' as const), lines, ops }
  })
}

function planSeed(desired: DesiredState, remote: RemoteState | null): PlanItem[] {
  const seed = desired.seed
  const content = remote?.documents.content
  if (!seed) {
    // Without content the home page is empty: say so, and how to load the demo guides.
    const line = content?.guides ? '`guides` holds documents' : `${content ? '`guides` is empty' : 'not loaded'}: the home page shows no guide until content exists; --seed-demo loads the demo guides (tools/seed/guides.json)`
    return [{ section: 'database', target: 'demo content', status: 'kept', lines: [line], ops: [] }]
  }
  return (['categories', 'guides'] as const).map((name) => {
    const docs = seed[name]
    if (content?.[name]) {
      return { section: 'database' as const, target: `demo content ${name}`, status: 'kept' as const, lines: ['kept: the collection already holds documents'], ops: [] }
    }
    return {
      section: 'database' as const,
      target: `demo content ${name}`,
      status: 'create' as const,
      lines: [`insert ${docs.length} documents (${docs.map((d) => String(d._id)).join(', ')})`],
      ops: [{ kind: 'insertDocuments' as const, collection: name, documents: docs }],
    }
  })
}

function planStorage(desired: DesiredState, remote: RemoteState | null): PlanItem[] {
  const rule = desired.storageRule
  if (!rule) {
    return [{ section: 'storage', target: 'storage rule', status: 'kept', lines: ['the manifest (cloudfunctions/_shared/collections.ts) has no storageRule: the bucket rule is left as it is'], ops: [] }]
  }
  const current = remote?.storage
  if (remote && ruleEquals(current ?? null, rule)) {
    return [{ section: 'storage', target: 'storage rule', status: 'unchanged', lines: [`rule ${canonicalJson(rule)}: current`], ops: [] }]
  }
  const lines = [`read: ${typeof rule.read === 'string' ? rule.read : String(rule.read)}`, `write: ${typeof rule.write === 'string' ? rule.write : String(rule.write)}`]
  if (current) lines.unshift(`was: ${current.aclTag === 'CUSTOM' ? canonicalJson(current.rule) : current.aclTag}`)
  return [{ section: 'storage', target: 'storage rule', status: current ? 'update' : 'create', lines, ops: [{ kind: 'setStorageRule', rule }] }]
}

// ---- config documents -------------------------------------------------------------------------------

function planDocuments(desired: DesiredState, remote: RemoteState | null, problems: Problem[]): PlanItem[] {
  const items: PlanItem[] = []
  const docs = remote?.documents
  const applied: AppliedRecord = docs?.applied ?? { admins: [], templates: {} }
  const want = desired.documents

  // admins: apply the config's changes since the last deploy; an admin's console edits stay.
  {
    const current = docs?.admins ?? null
    const have = new Set(current ?? [])
    const add = want.admins.filter((o) => !applied.admins.includes(o) && !have.has(o))
    const remove = applied.admins.filter((o) => !want.admins.includes(o) && have.has(o))
    const ops: Operation[] = []
    if (add.length || current === null) ops.push({ kind: 'updateDocument', collection: 'app_config', id: 'admins', update: { $addToSet: { openids: { $each: add } } } })
    if (remove.length) ops.push({ kind: 'updateDocument', collection: 'app_config', id: 'admins', update: { $pullAll: { openids: remove } } })
    const lines = [
      ...add.map((o) => `+ ${o}`),
      ...remove.map((o) => `- ${o} (removed from deploy.config.json since the last deploy)`),
      ...(current ?? []).filter((o) => !want.admins.includes(o) && !remove.includes(o)).map((o) => `kept ${o} (added in the console)`),
    ]
    if (!want.admins.length && !(current ?? []).length) lines.push('no admins: the dashboard is closed to everyone (add OPENIDs to admins in deploy.config.json)')
    items.push({ section: 'config', target: 'app_config/admins', status: current === null ? 'create' : ops.length ? 'update' : 'unchanged', lines: lines.length ? lines : [`openids: ${want.admins.join(', ')}`], ops })
  }

  // templates: set what the config gives unless an admin changed it in the console since the last deploy.
  {
    const current = docs?.templates ?? null
    const set: Record<string, string> = {}
    const lines: string[] = []
    for (const key of templateKeys) {
      const d = want.templates[key]
      const r = current?.[key]
      const l = applied.templates[key as TemplateKey]
      if (!d) {
        lines.push(r ? `${key}: ${r} (from the console)` : `${key}: no id (sends of ${key} are refused as not configured)`)
        continue
      }
      if (r === d) lines.push(`${key}: ${d}`)
      else if (!r || r === l) {
        set[`ids.${key}`] = d
        lines.push(`${key}: ${r ? `${r} → ` : '+ '}${d}`)
      } else {
        lines.push(`${key}: ${r} kept (the console's; deploy.config.json says ${d})`)
        problems.push({
          level: 'warning',
          subject: `app_config/templates ${key}`,
          message: `The console holds ${r} for ${key}, deploy.config.json says ${d}; the console's id is kept.`,
          fix: `Put ${r} in deploy.config.json templates.${key}, or delete ids.${key} in 云开发控制台 → 数据库 → app_config → templates and deploy again.`,
        })
      }
    }
    const ops: Operation[] = Object.keys(set).length || current === null ? [{ kind: 'updateDocument', collection: 'app_config', id: 'templates', update: { $set: Object.keys(set).length ? set : { ids: {} } } }] : []
    items.push({ section: 'config', target: 'app_config/templates', status: current === null ? 'create' : ops.length ? 'update' : 'unchanged', lines, ops })
  }

  // incentives: only referral.checkPath; the rest of the document is the admin's.
  {
    const current = docs?.incentives ?? null
    const referral = (current?.referral ?? {}) as { checkPath?: unknown }
    const r = typeof referral.checkPath === 'boolean' ? referral.checkPath : undefined
    const d = want.incentivesCheckPath
    const ops: Operation[] = []
    let line: string
    if (r === d) line = `referral.checkPath: ${d}`
    else if (r === undefined || r === applied.incentivesCheckPath) {
      ops.push({ kind: 'updateDocument', collection: 'app_config', id: 'incentives', update: { $set: { 'referral.checkPath': d } } })
      line = `referral.checkPath: ${r === undefined ? '(default true)' : r} → ${d}`
    } else {
      line = `referral.checkPath: ${r} kept (the console's; deploy.config.json says ${d})`
      problems.push({
        level: 'warning',
        subject: 'app_config/incentives referral.checkPath',
        message: `The console set referral.checkPath to ${r}; deploy.config.json says ${d}. The console's value is kept.`,
        fix: `Set incentives.checkPath to ${r} in deploy.config.json, or change it in 云开发控制台 → 数据库 → app_config → incentives.`,
      })
    }
    items.push({ section: 'config', target: 'app_config/incentives', status: current === null ? 'create' : ops.length ? 'update' : 'unchanged', lines: [line, 'other fields: the admin\'s (docs/incentives.md)'], ops })
  }

  // demo experiments: stored as stopped when nobody has saved them yet.
  for (const { id, doc } of want.stopExperiments) {
    if (docs?.experiments.includes(id)) {
      items.push({ section: 'config', target: `experiments/${id}`, status: 'kept', lines: ['kept: a document exists (an admin saved it; change it in the admin 实验 tab)'], ops: [] })
    } else {
      const { _id: _omit, ...fields } = doc
      items.push({
        section: 'config',
        target: `experiments/${id}`,
        status: 'create',
        lines: ['demo experiment stored as stopped (pass --run-demo-experiments, or demo.experiments "running", to leave it running)'],
        ops: [{ kind: 'updateDocument', collection: 'experiments', id, update: { $setOnInsert: fields } }],
      })
    }
  }
  for (const id of want.runningDemoExperiments) {
    items.push({ section: 'config', target: `experiments/${id}`, status: 'kept', lines: ['demo experiment left running (--run-demo-experiments)'], ops: [] })
  }

  // What this deploy applied, for the next one.
  const record: AppliedRecord = { admins: want.admins, templates: want.templates, incentivesCheckPath: want.incentivesCheckPath }
  const changed = !docs?.applied || canonicalJson(docs.applied) !== canonicalJson(record)
  items.push({
    section: 'config',
    target: `app_config/${APPLIED_DOC_ID}`,
    status: !docs?.applied ? 'create' : changed ? 'update' : 'unchanged',
    lines: ['what this deploy wrote (admins, template ids, checkPath), so the next deploy can tell console edits from config changes'],
    ops: changed ? [{ kind: 'updateDocument', collection: 'app_config', id: APPLIED_DOC_ID, update: { $set: { applied: record } } }] : [],
  })
  return items
}

// ---- the plan -----------------------------------------------------------------------------------------

export function computePlan(desired: DesiredState, remote: RemoteState | null, options: PlanOptions): Plan {
  const problems: Problem[] = []
  const items: PlanItem[] = []
  const sections = new Set(options.sections)
  if (sections.has('functions')) for (const fn of desired.functions) items.push(planFunction(fn, remote?.functions[fn.name], options, problems))
  if (sections.has('database')) items.push(...planCollections(desired, remote, problems), ...planSeed(desired, remote))
  if (sections.has('storage')) items.push(...planStorage(desired, remote))
  if (sections.has('config')) items.push(...planDocuments(desired, remote, problems))
  return { envId: desired.envId, appid: desired.appid, region: desired.region, sections: SECTIONS.filter((s) => sections.has(s)), remoteRead: remote !== null, items, problems }
}

export function operations(plan: Plan): Operation[] {
  return plan.items.flatMap((item) => item.ops)
}

const MARK: Record<ItemStatus, string> = { create: '+', update: '~', unchanged: '=', kept: '·' }
const TITLE: Record<Section, string> = { functions: 'Functions', database: 'Database', storage: 'Storage', config: 'Config documents' }

export function formatPlan(plan: Plan): string {
  const out: string[] = []
  out.push(`Deploy plan for environment ${plan.envId} (AppID ${plan.appid}, ${plan.region})`)
  out.push(
    plan.remoteRead
      ? 'Compared with the environment as it is now.'
      : 'The environment was not read (no Tencent Cloud API keys): everything is shown as a first deploy would create it.',
  )
  for (const section of plan.sections) {
    const items = plan.items.filter((i) => i.section === section)
    const counts = (['create', 'update', 'unchanged', 'kept'] as const).map((s) => [s, items.filter((i) => i.status === s).length] as const).filter(([, n]) => n)
    out.push('', `${TITLE[section]} (${items.length}: ${counts.map(([s, n]) => `${n} ${s}`).join(', ')})`)
    for (const item of items) {
      out.push(`  ${MARK[item.status]} ${item.target}${item.status === 'unchanged' ? '' : ` [${item.status}]`}`)
      for (const line of item.lines) out.push(`      ${line}`)
    }
  }
  const ops = operations(plan)
  out.push('', `${ops.length} change${ops.length === 1 ? '' : 's'}${ops.length ? `: ${summarizeOps(ops)}` : ' (the environment matches the repository)'}`)
  const errors = plan.problems.filter((p) => p.level === 'error')
  const warnings = plan.problems.filter((p) => p.level === 'warning')
  for (const [title, list] of [['Must fix before deploying', errors], ['Warnings', warnings]] as const) {
    if (!list.length) continue
    out.push('', `${title}:`)
    for (const p of list) out.push(`  ✗ ${p.subject}: ${p.message}`, `    fix: ${p.fix}`)
  }
  return out.join('\n')
}

export function summarizeOps(ops: readonly Operation[]): string {
  const counts = new Map<string, number>()
  for (const op of ops) counts.set(op.kind, (counts.get(op.kind) ?? 0) + 1)
  return [...counts].map(([kind, n]) => `${n} ${kind}`).join(', ')
}
