/**
 * The effective flags and experiments (stored documents, plus the defaults no document replaces)
 * and the config a device gets from them: shared by `experiments.config` and the launch's
 * `user.bootstrap`, which reads the same documents in its one round trip.
 */
import { fnv1a32 } from '../../miniprogram/core/bucketing'
import type { InputIssue } from '../_shared/contract'
import type { ExperimentConfigDoc, UserDoc } from '../_shared/models'
import { shanghaiDay } from '../_shared/time'
import type { ClientConfig, ExperimentConfig, FlagConfig, JsonValue } from './api'
import { DEFAULT_DOCS } from './defaults'
import { type ConfigDoc, configDocSchema, type ExperimentDoc } from './schema'

/** The collection holds at most this many documents that count (the server's largest read). */
export const MAX_CONFIG_DOCS = 1000

export function issuesOf(error: { issues: { path: PropertyKey[]; message: string }[] }): InputIssue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }))
}

export interface Effective {
  key: string
  source: 'stored' | 'default'
  raw: Record<string, unknown>
  parsed: ConfigDoc | null
  issues: InputIssue[]
}

/** Stored documents, plus the defaults whose key has no document. */
export function withDefaults(stored: (ExperimentConfigDoc | Record<string, unknown>)[]): Effective[] {
  const out: Effective[] = stored.map((doc) => parse(doc, 'stored'))
  const storedKeys = new Set(stored.map((d) => String(d._id)))
  for (const doc of DEFAULT_DOCS) if (!storedKeys.has(doc._id)) out.push(parse(doc, 'default'))
  return out
}

export function parse(raw: ExperimentConfigDoc | Record<string, unknown>, source: Effective['source']): Effective {
  const result = configDocSchema.safeParse(raw)
  const key = String(raw._id)
  if (!result.success && source === 'stored') {
    // Left out of every device's config; the admin's `list` shows why.
    console.warn(`[experiments] ignoring invalid document "${key}": ${issuesOf(result.error).map((i) => `${i.path || '(doc)'}: ${i.message}`).join('; ')}`)
  }
  return {
    key,
    source,
    raw: raw as Record<string, unknown>,
    parsed: result.success ? result.data : null,
    issues: result.success ? [] : issuesOf(result.error),
  }
}

function toFlagConfig(doc: Extract<ConfigDoc, { kind: 'flag' }>): FlagConfig {
  return {
    key: doc._id,
    type: doc.type,
    defaultValue: doc.defaultValue as JsonValue,
    rules: doc.enabled ? doc.rules.map((r) => ({ when: r.when, value: r.value as JsonValue })) : [],
  }
}

function toExperimentConfig(doc: ExperimentDoc): ExperimentConfig {
  return {
    key: doc._id,
    variants: doc.variants.map((v) => ({ key: v.key, weight: v.weight, ...(v.value !== undefined ? { value: v.value as JsonValue } : {}) })),
    coverage: doc.coverage,
    ...(doc.targeting ? { targeting: doc.targeting } : {}),
  }
}

/** What a device gets: flags, running experiments, and who the caller is for targeting. */
export function clientConfig(all: Effective[], openid: string, user: Pick<UserDoc, 'firstSeenDay' | 'firstTouch'> | null, now: Date): ClientConfig {
  const flags: FlagConfig[] = []
  const experiments: ExperimentConfig[] = []
  const forced: Record<string, string> = {}
  for (const { parsed } of all) {
    if (!parsed) continue
    if (parsed.kind === 'flag') flags.push(toFlagConfig(parsed))
    else if (parsed.status === 'running') {
      experiments.push(toExperimentConfig(parsed))
      const mine = parsed.overrides?.[openid]
      if (mine) forced[parsed._id] = mine
    }
  }
  flags.sort((a, b) => a.key.localeCompare(b.key))
  experiments.sort((a, b) => a.key.localeCompare(b.key))
  const version = fnv1a32(JSON.stringify({ flags, experiments })).toString(36)
  const channel = user?.firstTouch?.channel
  return {
    version,
    flags,
    experiments,
    me: {
      id: openid,
      isNew: !user || user.firstSeenDay === shanghaiDay(now),
      ...(channel ? { channel } : {}),
      forced,
    },
  }
}
