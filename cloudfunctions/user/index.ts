import { collection, command, deleteFiles, isDuplicateKeyError, mediaCheckAsync, msgSecCheck, SecScene, serverDate, tempFileUrl } from '../_shared/cloud'
import type { AppConfigDoc, ExperimentConfigDoc, GuideDoc, UserDoc } from '../_shared/models'
import { AppError, createRouter, type UserContext } from '../_shared/router'
import { shanghaiDay } from '../_shared/time'
import { PAGE_SIZE_DEFAULT } from '../content/api'
import { NEWEST_FIRST, pageOf } from '../content/guides'
import { clientConfig, MAX_CONFIG_DOCS, withDefaults } from '../experiments/effective'
import { type OnboardingState, type OnboardingStep, onboardingStepsSchema, userActions, type UserOutputs, type UserProfile } from './api'

const users = () => collection('users')

/** The `app_config` document holding the guide's steps (`{ steps: [...] }`). */
const ONBOARDING_CONFIG_ID = 'onboarding'

/**
 * The guide's configured steps; null without a document or when it does not validate (the device
 * then uses its built-in steps: a bad edit in the console must not break the first screen).
 */
async function onboardingSteps(): Promise<OnboardingStep[] | null> {
  return stepsOf(await collection('app_config').get(ONBOARDING_CONFIG_ID))
}

function stepsOf(doc: AppConfigDoc | null | undefined): OnboardingStep[] | null {
  if (!doc) return null
  const parsed = onboardingStepsSchema.safeParse(doc.steps)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  console.error(`[user] app_config/${ONBOARDING_CONFIG_ID} is invalid, the app's built-in steps apply: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'unreadable'}`)
  return null
}

function toOnboarding(stored: UserDoc['onboarding']): OnboardingState | null {
  return stored ? { status: stored.status, step: stored.step, at: new Date(stored.at).toISOString() } : null
}

/** The cloud path of a file ID (`cloud://<env>.<bucket>/<path>`), or null. */
function cloudPathOf(fileId: string): string | null {
  const match = /^cloud:\/\/[^/]+\/(.+)$/.exec(fileId)
  const path = match?.[1]
  if (!path || path.split('/').some((p) => p === '' || p === '.' || p === '..')) return null
  return path
}

/** Avatars are uploaded by the device to the user's own folder, and nowhere else counts as theirs. */
const isOwnAvatar = (fileId: string, openid: string) => cloudPathOf(fileId)?.startsWith(`avatars/${openid}/`) ?? false

/** How long the address of an avatar file stays valid for showing it (a device keeps the profile for a session). */
const AVATAR_URL_SECONDS = 2 * 86_400

async function toProfile(doc: UserDoc): Promise<UserProfile> {
  const avatar = doc.avatarUrl.startsWith('cloud://') ? await tempFileUrl(doc.avatarUrl, AVATAR_URL_SECONDS) : doc.avatarUrl
  return {
    openid: doc.openid,
    nickname: doc.nickname,
    avatarUrl: doc.avatarUrl,
    avatar,
    firstSeenAt: new Date(doc.firstSeenAt).toISOString(),
    firstSeenDay: doc.firstSeenDay,
    onboarding: toOnboarding(doc.onboarding),
  }
}

async function requireUser(openid: string): Promise<UserDoc> {
  const doc = await users().get(openid)
  if (!doc) throw new AppError('NOT_FOUND', 'No user yet: call login first.')
  return doc
}

/**
 * The signed-in user from the document read (null: none yet): records today's visit once a day
 * (one round trip), or creates the user (one round trip; the _id is the OPENID, so concurrent first
 * logins cannot create two users: the losers of the insert race read the winner's document).
 */
async function signIn(existing: UserDoc | null, { openid, appid, unionid }: UserContext): Promise<{ doc: UserDoc; isNew: boolean }> {
  const now = new Date()
  const today = shanghaiDay(now)
  if (existing) {
    if (existing.lastSeenDay !== today) {
      await users().update(openid, { lastSeenAt: serverDate(), lastSeenDay: today })
    }
    return { doc: existing, isNew: false }
  }
  const doc: UserDoc = {
    _id: openid,
    openid,
    appid: appid ?? '',
    ...(unionid ? { unionid } : {}),
    nickname: '',
    avatarUrl: '',
    firstSeenAt: now,
    firstSeenDay: today,
    lastSeenAt: now,
    lastSeenDay: today,
    updatedAt: now,
  }
  try {
    await users().add({ ...doc, firstSeenAt: serverDate(), lastSeenAt: serverDate(), updatedAt: serverDate() })
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err
    return { doc: await requireUser(openid), isNew: false }
  }
  return { doc, isNew: true }
}

/** What the launch reads: the caller, the flags and experiments, the first page of guides, the guide's steps. */
interface LaunchRead {
  categories: { id: string; name: string; order: number }[]
  me: UserDoc[]
  experiments: ExperimentConfigDoc[]
  guides: Omit<GuideDoc, 'body'>[]
  onboarding?: AppConfigDoc[]
}

const FIRST_PAGE = [{ $sort: { publishedAt: -1, _id: -1 } }, { $limit: PAGE_SIZE_DEFAULT + 1 }, { $project: { body: 0 } }]

/**
 * One round trip: an aggregation over the categories joins, by uncorrelated $lookup sub-pipelines,
 * the caller's user document, the flags and experiments, the first page of guides and (asked for)
 * the guide's steps. An app without categories has nothing to drive it: then the same reads go
 * separately, in parallel.
 */
async function readLaunch(openid: string, onboarding: boolean): Promise<LaunchRead> {
  const join = (from: string, pipeline: Record<string, unknown>[], as: string) => ({ $lookup: { from, let: {}, pipeline, as } })
  const [row] = await collection('categories').aggregate<LaunchRead>([
    { $sort: { order: 1 } },
    { $limit: 100 },
    { $group: { _id: null, categories: { $push: { id: '$_id', name: '$name', order: '$order' } } } },
    join('users', [{ $match: { _id: openid } }], 'me'),
    join('experiments', [{ $limit: MAX_CONFIG_DOCS }], 'experiments'),
    join('guides', FIRST_PAGE, 'guides'),
    ...(onboarding ? [join('app_config', [{ $match: { _id: ONBOARDING_CONFIG_ID } }], 'onboarding')] : []),
  ])
  if (row) return row
  const [me, experiments, guides, steps] = await Promise.all([
    users().get(openid),
    collection('experiments').find({}, { limit: MAX_CONFIG_DOCS }),
    collection('guides').find({}, { orderBy: NEWEST_FIRST, limit: PAGE_SIZE_DEFAULT + 1, fields: { body: false } }),
    onboarding ? collection('app_config').get(ONBOARDING_CONFIG_ID) : null,
  ])
  return { categories: [], me: me ? [me] : [], experiments, guides, ...(steps ? { onboarding: [steps] } : {}) }
}

const router = createRouter<typeof userActions, UserOutputs>(userActions, {
  /**
   * One round trip for a returning user (plus one, at most once a day, to record the visit);
   * two for a new one. The document _id is the OPENID, so concurrent first logins cannot create
   * two users: the losers of the insert race get E11000 and read the winner's document.
   * Asked for the guide's steps, it reads them in parallel with the user (one more round trip, no
   * more latency), and only for a device that has not seen the guide end.
   */
  async login(input, ctx) {
    const [existing, steps] = await Promise.all([users().get(ctx.openid), input.onboarding ? onboardingSteps() : undefined])
    const guide = steps === undefined ? {} : { onboardingSteps: steps }
    const { doc, isNew } = await signIn(existing, ctx)
    return { user: await toProfile(doc), isNew, ...guide }
  },

  /**
   * The launch: login's answer and the first screen's data in one call, one round trip to read
   * (see readLaunch), plus login's write when there is one (a new user, the day's first visit).
   */
  async bootstrap(input, ctx) {
    const read = await readLaunch(ctx.openid, input.onboarding === true)
    const existing = read.me[0] ?? null
    const { doc, isNew } = await signIn(existing, ctx)
    const categories = [...read.categories].sort((a, b) => a.order - b.order).map(({ id, name }) => ({ id, name }))
    const guides = [...read.guides].sort((a, b) => +new Date(b.publishedAt) - +new Date(a.publishedAt) || (a._id < b._id ? 1 : -1))
    return {
      user: await toProfile(doc),
      isNew,
      ...(input.onboarding ? { onboardingSteps: stepsOf(read.onboarding?.[0]) } : {}),
      config: clientConfig(withDefaults(read.experiments), ctx.openid, doc, new Date()),
      categories,
      guides: pageOf(guides, PAGE_SIZE_DEFAULT),
      invited: Boolean(doc.firstTouch?.inviter),
    }
  },

  async profile(_input, { openid }) {
    return await toProfile(await requireUser(openid))
  },

  async updateProfile(input, { openid }) {
    if (input.nickname !== undefined) {
      const verdict = await msgSecCheck({ content: input.nickname, openid, scene: SecScene.profile })
      if (verdict.suggest !== 'pass') {
        throw new AppError('CONTENT_REJECTED', '昵称未通过内容安全检查，请换一个。')
      }
    }
    const before = input.avatarUrl !== undefined ? await requireUser(openid) : null
    let avatarCheck: UserDoc['avatarCheck'] | undefined
    if (input.avatarUrl?.startsWith('cloud://')) {
      if (!isOwnAvatar(input.avatarUrl, openid)) throw new AppError('INVALID_INPUT', '头像不是你上传的文件，请重新选择。')
      const url = await tempFileUrl(input.avatarUrl, 3600)
      if (!url) throw new AppError('INVALID_INPUT', '头像没有上传成功，请重新选择。')
      // Checked asynchronously, as WeChat requires for images: shown at once, taken down if the verdict is risky.
      avatarCheck = { traceId: await mediaCheckAsync({ mediaUrl: url, openid, scene: SecScene.profile }), status: 'pending', at: new Date() }
    }
    const changes = {
      ...(input.nickname !== undefined ? { nickname: input.nickname } : {}),
      ...(input.avatarUrl !== undefined ? { avatarUrl: input.avatarUrl } : {}),
      ...(avatarCheck ? { avatarCheck } : {}),
    }
    // updatedAt always changes, so 0 documents updated means there is no such user.
    const updated = await users().update(openid, { ...changes, updatedAt: serverDate() })
    if (updated === 0) throw new AppError('NOT_FOUND', 'No user yet: call login first.')
    // The avatar replaced leaves storage with it (a user keeps one file there).
    const old = before?.avatarUrl
    if (old && old !== input.avatarUrl && isOwnAvatar(old, openid)) await deleteFiles([old]).catch(() => 0)
    return await toProfile(await requireUser(openid))
  },

  /**
   * One round trip: the outcome is written only where none is recorded yet, so the first one stays
   * (two devices, or a retry, cannot overwrite it). Nothing written: one more, to read what is there.
   */
  async setOnboarding(input, { openid }) {
    const at = new Date()
    const written = await users().updateWhere(
      { _id: openid, onboarding: command().exists(false) },
      { onboarding: { status: input.status, step: input.step, at }, updatedAt: serverDate() },
    )
    if (written === 1) return { onboarding: { status: input.status, step: input.step, at: at.toISOString() } }
    const onboarding = toOnboarding((await requireUser(openid)).onboarding)
    if (!onboarding) throw new AppError('INTERNAL', 'The onboarding outcome could not be recorded.')
    return { onboarding }
  },
})

/**
 * WeChat's verdict on an avatar (`wxa_media_check`, delivered by message push once the console
 * routes it to this function): a risky avatar is taken down and its file deleted; the user is
 * found by the check's trace id, never by anything else in the push. Anything else is an action.
 */
export async function main(event: unknown): Promise<unknown> {
  const push = event as { Event?: unknown; trace_id?: unknown; result?: { suggest?: unknown } } | null
  if (push?.Event !== 'wxa_media_check') return router(event)
  const traceId = typeof push.trace_id === 'string' ? push.trace_id : ''
  const suggest = push.result?.suggest
  if (!traceId || (suggest !== 'pass' && suggest !== 'review' && suggest !== 'risky')) return { ok: false, error: { code: 'INVALID_INPUT', message: 'A wxa_media_check push needs trace_id and result.suggest.' } }
  const [user] = await users().find({ 'avatarCheck.traceId': traceId }, { limit: 1 })
  if (!user || !user.avatarCheck) return { ok: true, data: { applied: false } }
  const risky = suggest === 'risky'
  await users().update(user._id, { ...(risky ? { avatarUrl: '' } : {}), avatarCheck: { ...user.avatarCheck, status: suggest }, updatedAt: serverDate() })
  if (risky && isOwnAvatar(user.avatarUrl, user.openid)) await deleteFiles([user.avatarUrl]).catch(() => 0)
  return { ok: true, data: { applied: true, status: suggest } }
}
