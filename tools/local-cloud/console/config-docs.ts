/**
 * The configuration documents the console edits, each checked by the schema its function reads it
 * with (so the console shows the same typed issues the function would log), and when a running
 * function instance picks a saved change up (the config caches of the functions).
 */
import * as z from 'zod/v4'
import { templateKeys } from '../../../cloudfunctions/_shared/templates'
import { funnelsConfigSchema } from '../../../cloudfunctions/analytics/api'
import { configDocSchema } from '../../../cloudfunctions/experiments/schema'
import { checkConfig } from '../../../cloudfunctions/incentives/defaults'
import { onboardingStepsSchema } from '../../../cloudfunctions/user/api'

export interface ConfigIssue {
  path: string
  message: string
}

export interface ConfigKind {
  /** What the editor calls it (zh-CN). */
  title: string
  /** Which function reads it and how (the check's source). */
  readBy: string
  /** When a function instance sees a saved change. */
  pickup: string
  check: (doc: Record<string, unknown>) => ConfigIssue[]
}

function issuesOf(error: z.ZodError): ConfigIssue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }))
}

/** A document `{ <field>: value }` whose field is checked by `schema` (and no other field but `_id`). */
function fieldDoc(field: string, schema: z.ZodType): (doc: Record<string, unknown>) => ConfigIssue[] {
  const docSchema = z.strictObject({ _id: z.string().optional(), [field]: schema })
  return (doc) => {
    const parsed = docSchema.safeParse(doc)
    return parsed.success ? [] : issuesOf(parsed.error)
  }
}

/**
 * `app_config/admins`: adminOpenids() (cloudfunctions/_shared/admin.ts) reads `openids`, keeping the
 * strings; the console refuses what it would silently drop.
 */
const adminsSchema = z.array(z.string().trim().min(1, 'an OPENID is a non-empty string')).max(200)

/** `app_config/templates`: templateIds() (cloudfunctions/_shared/messages.ts) keeps ids of known template keys. */
const templateIdsSchema = z.partialRecord(z.enum(templateKeys as [string, ...string[]]), z.string().trim().min(1, 'a template id from 公众平台 → 订阅消息'))

/** The `app_config` documents, by `_id`. */
export const APP_CONFIG: Readonly<Record<string, ConfigKind>> = {
  admins: {
    title: '管理员',
    readBy: 'every function\'s isAdmin (cloudfunctions/_shared/admin.ts)',
    pickup: 'at once: every admin check reads the document',
    check: fieldDoc('openids', adminsSchema),
  },
  templates: {
    title: '订阅消息模板',
    readBy: 'templateIds() in cloudfunctions/_shared/messages.ts',
    pickup: 'within 30 s: each instance keeps the ids for 30 s (TEMPLATES_TTL_MS)',
    check: fieldDoc('ids', templateIdsSchema),
  },
  funnels: {
    title: '漏斗',
    readBy: 'analytics (funnelsConfigSchema, the schema of validateFunnels); a stored document replaces all default funnels',
    pickup: 'at the next analytics call or rollup: funnels are read on every use',
    check: fieldDoc('funnels', funnelsConfigSchema),
  },
  onboarding: {
    title: '新手引导',
    readBy: 'user.onboarding (onboardingStepsSchema)',
    pickup: 'at the next user call: the steps are read on every call',
    check: fieldDoc('steps', onboardingStepsSchema),
  },
  incentives: {
    title: '激励',
    readBy: 'incentives (checkConfig, the check of validateConfig)',
    pickup: 'within 60 s: each instance keeps the config for 60 s (INCENTIVES_CONFIG_TTL_S)',
    check: (doc) => checkConfig(doc).issues,
  },
}

/** `experiments/<key>`: the schema `experiments.validate` and `save` use. */
export const EXPERIMENT: ConfigKind = {
  title: '实验与开关',
  readBy: 'experiments (configDocSchema, the schema of validate and save)',
  pickup: 'at the next experiments.config call (devices ask once per launch); an invalid document is left out',
  check: (doc) => {
    const parsed = configDocSchema.safeParse(doc)
    return parsed.success ? [] : issuesOf(parsed.error)
  },
}

/** The kind of a config document, or null when the console has no editor for it. */
export function configKind(collection: string, id: string): ConfigKind | null {
  if (collection === 'experiments') return EXPERIMENT
  if (collection === 'app_config') return Object.prototype.hasOwnProperty.call(APP_CONFIG, id) ? APP_CONFIG[id]! : null
  return null
}
