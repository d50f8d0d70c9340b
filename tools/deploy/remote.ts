/**
 * The environment as it is: what the plan compares the desired state with. The types are plain
 * data (the plan is a pure function of desired + remote); `readRemoteState` fills them with
 * @cloudbase/manager-node, which needs the Tencent Cloud API keys.
 */
import type { SecurityRule } from '../../cloudfunctions/_shared/collections'
import type { TemplateKey } from '../../cloudfunctions/_shared/templates'
import type { Clients } from './clients'
import type { DesiredState, TimerTrigger } from './desired'
import { APPLIED_DOC_ID, findDocuments, isNotFound } from './documents'

export interface RemoteFunction {
  runtime: string
  timeout: number
  memorySize: number
  env: Record<string, string>
  triggers: TimerTrigger[]
  description: string
  status: string
}

export interface RemoteIndex {
  name: string
  keys: Record<string, number>
  unique: boolean
}

/** A security rule as the console holds it: a simple permission (AclTag) or a CUSTOM rule. */
export interface RemoteRule {
  aclTag: string
  rule: unknown
}

export interface RemoteCollection {
  indexes: RemoteIndex[]
  rule: RemoteRule
}

/** What the last deploy wrote (app_config/deploy), so the next one can tell an admin's edits from its own. */
export interface AppliedRecord {
  admins: string[]
  templates: Partial<Record<TemplateKey, string>>
  incentivesCheckPath?: boolean
}

export interface RemoteDocuments {
  /** app_config/admins `openids`; null when the document does not exist. */
  admins: string[] | null
  /** app_config/templates `ids`; null when the document does not exist. */
  templates: Record<string, string> | null
  /** app_config/incentives; null when the document does not exist. */
  incentives: Record<string, unknown> | null
  applied: AppliedRecord | null
  /** Experiment ids that have a document. */
  experiments: string[]
  /** Whether `categories` and `guides` hold any document (only read with --seed-demo). */
  content: { categories: boolean; guides: boolean } | null
}

export interface RemoteState {
  functions: Record<string, RemoteFunction | null>
  collections: Record<string, RemoteCollection | null>
  storage: RemoteRule | null
  documents: RemoteDocuments
}

export function parseTriggerDesc(desc: string): string {
  // GetFunction answers a timer's TriggerDesc as {"cron":"..."}; BatchCreateTrigger takes the bare cron.
  try {
    const parsed = JSON.parse(desc) as { cron?: unknown }
    if (parsed && typeof parsed.cron === 'string') return parsed.cron
  } catch {
    // a bare cron expression
  }
  return desc
}

export function parseRule(text: unknown): unknown {
  if (typeof text !== 'string' || !text.trim()) return null
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

interface GetFunctionResponse {
  Runtime?: string
  Timeout?: number
  MemorySize?: number
  Description?: string
  Status?: string
  Environment?: { Variables?: { Key: string; Value: string }[] }
  Triggers?: { Type?: string; TriggerName?: string; TriggerDesc?: string }[]
}

export function toRemoteFunction(info: GetFunctionResponse): RemoteFunction {
  return {
    runtime: info.Runtime ?? '',
    timeout: info.Timeout ?? 0,
    memorySize: info.MemorySize ?? 0,
    env: Object.fromEntries((info.Environment?.Variables ?? []).map((v) => [v.Key, v.Value])),
    triggers: (info.Triggers ?? []).filter((t) => t.Type === 'timer').map((t) => ({ name: t.TriggerName ?? '', config: parseTriggerDesc(t.TriggerDesc ?? '') })),
    description: info.Description ?? '',
    status: info.Status ?? '',
  }
}

/** Reads everything the plan compares, one call per function and collection (plus a few lists). */
export async function readRemoteState(desired: DesiredState, clients: Clients, sections: ReadonlySet<string>, readContent: boolean): Promise<RemoteState> {
  const manager = clients.requireManager()
  const state: RemoteState = {
    functions: {},
    collections: {},
    storage: null,
    documents: { admins: null, templates: null, incentives: null, applied: null, experiments: [], content: null },
  }
  if (sections.has('functions')) {
    for (const fn of desired.functions) {
      try {
        state.functions[fn.name] = toRemoteFunction((await manager.functions.getFunctionDetail(fn.name)) as GetFunctionResponse)
      } catch (err) {
        if (!isNotFound(err)) throw err
        state.functions[fn.name] = null
      }
    }
  }
  const needsList = sections.has('database') || sections.has('config') || readContent
  const existing = new Set<string>()
  if (needsList) {
    // ListTables pages by 100.
    for (let offset = 0; ; offset += 100) {
      const listed = await manager.database.listCollections({ MgoOffset: offset, MgoLimit: 100 })
      for (const c of listed.Collections ?? []) existing.add(c.CollectionName)
      if ((listed.Collections ?? []).length < 100) break
    }
  }
  if (sections.has('database')) {
    for (const coll of desired.collections) {
      if (!existing.has(coll.name)) {
        state.collections[coll.name] = null
        continue
      }
      const table = await manager.database.describeCollection(coll.name)
      const rule = (await manager.commonService().call({ Action: 'DescribeSafeRule', Param: { EnvId: desired.envId, CollectionName: coll.name, WxAppId: desired.appid } })) as { AclTag?: string; Rule?: string }
      state.collections[coll.name] = {
        indexes: (table.Indexes ?? []).map((index) => ({
          name: index.Name,
          keys: Object.fromEntries((index.Keys ?? []).map((k) => [k.Name ?? '', Number(k.Direction)])),
          unique: Boolean(index.Unique),
        })),
        rule: { aclTag: rule.AclTag ?? '', rule: parseRule(rule.Rule) },
      }
    }
  }
  if (sections.has('storage') && desired.storageRule) {
    const acl = (await manager.storage.getStorageAcl({ withRule: true })) as { acl: string; rule?: unknown }
    state.storage = { aclTag: acl.acl, rule: acl.rule ?? null }
  }
  if (sections.has('config')) {
    const docs = existing.has('app_config') ? await findDocuments(manager, 'app_config', ['admins', 'templates', 'incentives', APPLIED_DOC_ID]) : []
    const byId = new Map(docs.map((d) => [String(d._id), d]))
    const admins = byId.get('admins')
    state.documents.admins = admins ? (Array.isArray(admins.openids) ? admins.openids.filter((o): o is string => typeof o === 'string') : []) : null
    const templates = byId.get('templates')
    state.documents.templates = templates
      ? Object.fromEntries(Object.entries((templates.ids ?? {}) as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'))
      : null
    state.documents.incentives = byId.get('incentives') ?? null
    const applied = byId.get(APPLIED_DOC_ID)?.applied as AppliedRecord | undefined
    state.documents.applied = applied && Array.isArray(applied.admins) ? applied : null
    const ids = desired.documents.stopExperiments.map((e) => e.id)
    state.documents.experiments = ids.length && existing.has('experiments') ? (await findDocuments(manager, 'experiments', ids)).map((d) => String(d._id)) : []
  }
  if (readContent) {
    const nonEmpty = async (name: 'categories' | 'guides') => existing.has(name) && (await findDocuments(manager, name, null, 1)).length > 0
    state.documents.content = { categories: await nonEmpty('categories'), guides: await nonEmpty('guides') }
  }
  return state
}

/** JSON with sorted keys: two rules are the same whatever order their keys were written in. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

export function ruleEquals(remote: RemoteRule | null, desired: SecurityRule): boolean {
  if (!remote || remote.aclTag !== 'CUSTOM') return false
  return canonicalJson(remote.rule) === canonicalJson(desired)
}
