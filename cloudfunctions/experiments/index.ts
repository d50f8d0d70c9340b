/**
 * `experiments`: flags and experiments as configuration, and their results. Devices call `config`
 * when the launch did not bring the config (two reads: the config documents and the caller's user
 * document; `user.bootstrap` builds the same config at launch, effective.ts); admins
 * validate and save documents; an hourly timer recomputes results, which `results` only reads.
 */
import { isAdmin } from '../_shared/admin'
import { collection, runTransaction } from '../_shared/cloud'
import { AppError, createRouter, type PublicContext } from '../_shared/router'
import {
  type DocValidation,
  experimentsActions,
  type ExperimentsOutputs,
  type ListedDoc,
  type RollupRun,
  type StoredConfig,
} from './api'
import { DEFAULT_DOCS } from './defaults'
import { clientConfig, type Effective, issuesOf, MAX_CONFIG_DOCS, parse, withDefaults } from './effective'
import { rollupExperiment, toResults } from './rollup'
import { type ConfigDoc, configDocSchema, type ExperimentDoc } from './schema'

/** Results of a stopped experiment keep being recomputed this long (late events, open conversion windows). */
const RECOMPUTE_STOPPED_DAYS = 30
/** The timer starts no new experiment after this long, well inside the function's 60 s limit. */
const ROLLUP_BUDGET_MS = 40_000

async function requireAdmin(ctx: PublicContext): Promise<void> {
  if (!ctx.openid || !(await isAdmin(ctx.openid))) {
    throw new AppError('FORBIDDEN', 'Only admins can manage experiments (ADMIN_OPENIDS, or the app_config document "admins").')
  }
}

function fromTimer(ctx: PublicContext): boolean {
  return ctx.source?.split(',').includes('wx_trigger') ?? false
}

/** Every flag and experiment: stored documents, plus the defaults whose key has no document. */
async function loadAll(): Promise<Effective[]> {
  return withDefaults(await collection('experiments').find({}, { limit: MAX_CONFIG_DOCS }))
}

async function loadOne(key: string): Promise<Effective | null> {
  const doc = await collection('experiments').get(key)
  if (doc) return parse(doc, 'stored')
  const fallback = DEFAULT_DOCS.find((d) => d._id === key)
  return fallback ? parse(fallback, 'default') : null
}

/** Dates as ISO strings, for the wire. */
function serialize(doc: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(doc)) as Record<string, unknown>
}

/** Whether assignment would change: other variant keys, order or weights. */
function splitChanged(before: ExperimentDoc, after: ConfigDoc): boolean {
  if (after.kind !== 'experiment') return true
  const split = (d: ExperimentDoc) => JSON.stringify(d.variants.map((v) => [v.key, v.weight]))
  return split(before) !== split(after)
}

/** startedAt / stoppedAt after a save, from the previous state. */
function lifecycle(doc: ExperimentDoc, before: ExperimentDoc | null, now: Date): Pick<ExperimentDoc, 'startedAt' | 'stoppedAt'> {
  if (doc.status === 'draft') return {}
  const wasStarted = before !== null && before.status !== 'draft' && !splitChanged(before, doc)
  // Resuming keeps the start (a running default has none: counting starts at its first exposure).
  const startedAt = doc.startedAt ?? (wasStarted ? before.startedAt : now)
  if (doc.status === 'running') return startedAt ? { startedAt } : {}
  const stoppedAt = doc.stoppedAt ?? (before?.status === 'stopped' ? before.stoppedAt : undefined) ?? now
  return { ...(startedAt ? { startedAt } : {}), stoppedAt }
}

function shouldRecompute(doc: ConfigDoc | null, now: Date): doc is ExperimentDoc {
  if (!doc || doc.kind !== 'experiment') return false
  if (doc.status === 'running') return true
  return doc.status === 'stopped' && (!doc.stoppedAt || now.getTime() - doc.stoppedAt.getTime() <= RECOMPUTE_STOPPED_DAYS * 86_400_000)
}

async function rollupMany(items: Effective[]): Promise<RollupRun[]> {
  const started = Date.now()
  const runs: RollupRun[] = []
  for (const item of items) {
    if (Date.now() - started > ROLLUP_BUDGET_MS) {
      runs.push({ key: item.key, ms: 0, users: 0, error: 'skipped: time budget used up, the next run continues' })
      continue
    }
    if (!item.parsed) {
      runs.push({ key: item.key, ms: 0, users: 0, error: `invalid document: ${item.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}` })
      continue
    }
    const t0 = Date.now()
    const doc = await rollupExperiment(item.parsed as ExperimentDoc, new Date())
    runs.push({ key: item.key, ms: Date.now() - t0, users: doc.users, error: null })
  }
  return runs
}

/** Experiments whose results are still moving; invalid stored experiments are reported, not run. */
async function recomputable(): Promise<Effective[]> {
  const now = new Date()
  return (await loadAll()).filter((e) => (e.parsed ? shouldRecompute(e.parsed, now) : e.raw.kind === 'experiment'))
}

export const main = createRouter<typeof experimentsActions, ExperimentsOutputs>(
  experimentsActions,
  {
    async config(_input, { openid }) {
      const [all, user] = await Promise.all([loadAll(), collection('users').get(openid, { firstSeenDay: true, firstTouch: true })])
      return clientConfig(all, openid, user, new Date())
    },

    async validate({ doc, docs }, ctx) {
      await requireAdmin(ctx)
      const list = docs ?? [doc]
      const seen = new Map<string, number>()
      const results: DocValidation[] = list.map((item, i) => {
        const id = typeof item === 'object' && item !== null ? (item as { _id?: unknown })._id : undefined
        const key = typeof id === 'string' ? id : null
        const parsed = configDocSchema.safeParse(item)
        const issues = parsed.success ? [] : issuesOf(parsed.error)
        if (key !== null) {
          const previous = seen.get(key)
          if (previous !== undefined) issues.push({ path: '_id', message: `duplicate key "${key}" (also document ${previous + 1})` })
          else seen.set(key, i)
        }
        return { key, valid: issues.length === 0, issues }
      })
      return { valid: results.every((r) => r.valid), docs: results }
    },

    async save({ doc }, ctx) {
      await requireAdmin(ctx)
      const now = new Date()
      const fallback = DEFAULT_DOCS.find((d) => d._id === doc._id)
      return runTransaction(async (tx) => {
        const stored = await tx.collection('experiments').get(doc._id)
        const before = stored ?? fallback ?? null
        const parsedBefore = before ? configDocSchema.safeParse(before) : null
        const previous = parsedBefore?.success ? parsedBefore.data : null
        if (previous?.kind === 'experiment' && previous.status === 'running' && splitChanged(previous, doc)) {
          throw new AppError(
            'CONFLICT',
            `"${doc._id}" is running: changing its variants or weights would move users between variants mid-test. Stop it first (status "stopped"), or start a new experiment with a new key.`,
          )
        }
        if (previous?.kind === 'experiment' && previous.status !== 'draft' && doc.kind === 'experiment' && doc.status === 'draft') {
          throw new AppError('CONFLICT', `"${doc._id}" has started: it cannot become a draft again. Stop it (status "stopped") instead.`)
        }
        const { _id, ...fields } = doc
        const next: Omit<ConfigDoc, '_id'> =
          fields.kind === 'experiment'
            ? (() => {
                const { startedAt: _s, stoppedAt: _t, ...rest } = fields
                return { ...rest, ...lifecycle(doc as ExperimentDoc, previous?.kind === 'experiment' ? previous : null, now) }
              })()
            : fields
        const written = { ...next, updatedAt: now, updatedBy: ctx.openid }
        await tx.collection('experiments').set(_id, written)
        return { key: _id, created: stored === null, doc: serialize({ _id, ...written }) as StoredConfig }
      })
    },

    async list(_input, ctx) {
      await requireAdmin(ctx)
      const items: ListedDoc[] = (await loadAll()).map((e) => ({
        key: e.key,
        source: e.source,
        kind: e.raw.kind === 'flag' || e.raw.kind === 'experiment' ? e.raw.kind : 'unknown',
        valid: e.parsed !== null,
        issues: e.issues,
        doc: serialize(e.raw),
      }))
      items.sort((a, b) => a.key.localeCompare(b.key))
      return { items }
    },

    async results({ key }, ctx) {
      await requireAdmin(ctx)
      if (key) {
        const doc = await collection('metrics_experiments').get(key)
        return { items: doc ? [toResults(doc)] : [] }
      }
      const docs = await collection('metrics_experiments').find({}, { orderBy: [['computedAt', 'desc']], limit: MAX_CONFIG_DOCS })
      return { items: docs.map(toResults) }
    },

    async rollup({ key }, ctx) {
      await requireAdmin(ctx)
      if (!key) return { runs: await rollupMany(await recomputable()) }
      const item = await loadOne(key)
      if (!item || (item.parsed?.kind ?? item.raw.kind) !== 'experiment') throw new AppError('NOT_FOUND', `No experiment "${key}".`)
      if (item.parsed?.kind === 'experiment' && item.parsed.status === 'draft') throw new AppError('CONFLICT', `"${key}" is a draft: start it first.`)
      return { runs: await rollupMany([item]) }
    },

    async hourly(_input, ctx) {
      if (!fromTimer(ctx)) await requireAdmin(ctx)
      return { runs: await rollupMany(await recomputable()) }
    },
  },
  { timers: { hourly: 'hourly' } },
)
