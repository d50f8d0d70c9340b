/**
 * `incentives`: points, check-ins, tasks, referrals and levels. Every change of points is a ledger
 * entry whose _id is the grant's natural key, written in ONE transaction with the account it moves
 * (and the check-in or referral it is for): a retry, a double tap or 100 concurrent calls grant once,
 * and balance = sum(ledger) for every user at every commit. The rules are pure (rules.ts); this
 * file reads the facts, runs the transactions and answers.
 */
import { isAdmin } from '../_shared/admin'
import { collection, command, isDuplicateKeyError, isTransactionConflict, miniProgramCode, runTransaction, type Transaction, tempFileUrl, uploadFile } from '../_shared/cloud'
import { newShortCode } from '../_shared/codes'
import type { CheckinDoc, PointsAccountDoc, PointsLedgerDoc } from '../_shared/models'
import { AppError, createRouter } from '../_shared/router'
import { templateIds } from '../_shared/messages'
import { addDays, shanghaiDay } from '../_shared/time'
import { type AcceptResult, type Calendar, type CheckinResult, type ClaimResult, INVITE_PAGE, incentivesActions, type IncentivesOutputs, type InviteInfo, type MakeupResult } from './api'
import { checkConfig, type IncentivesConfig, type TaskConfig } from './defaults'
import {
  applyGrant,
  currentStreak,
  EVENTS_BY_KIND,
  emptyAccount,
  type Grant,
  grantKey,
  levelOf,
  makeupDayProblem,
  makeupRules,
  rewardFor,
  streakIfCheckedIn,
  type TaskFacts,
  taskProgress,
  taskViews,
  upcomingRewards,
} from './rules'

// ---- config: one document, cached per function instance -------------------------------------


/** "12月6日" from `2026-12-06`: how the app writes a day everywhere else. */
const monthDay = (day: string) => `${Number(day.slice(5, 7))}月${Number(day.slice(8, 10))}日`
const CONFIG_ID = 'incentives'
let cachedConfig: { at: number; config: IncentivesConfig } | undefined

/** How long an instance keeps the config before reading it again (INCENTIVES_CONFIG_TTL_S, default 60 s). */
function configTtlMs(): number {
  const raw = process.env.INCENTIVES_CONFIG_TTL_S
  const seconds = raw === undefined || raw === '' ? Number.NaN : Number(raw)
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 60_000
}

async function loadConfig(): Promise<IncentivesConfig> {
  const now = Date.now()
  const age = cachedConfig ? now - cachedConfig.at : Number.NaN
  // A clock stepped back (age < 0) makes the copy stale too, never fresh forever.
  if (cachedConfig && age >= 0 && age < configTtlMs()) return cachedConfig.config
  const checked = checkConfig(await collection('app_config').get(CONFIG_ID))
  if (!checked.valid) {
    // Keep granting on the defaults; the cloud console's log and validateConfig say what to fix.
    console.error(`[incentives] app_config/${CONFIG_ID} is invalid, running on the defaults:`, JSON.stringify(checked.issues))
  }
  cachedConfig = { at: now, config: checked.effective }
  return checked.effective
}

// ---- the clock and the account -----------------------------------------------------------------

/** The only clock: "today" (Asia/Shanghai) and every timestamp written come from one reading. */
function clock(): { now: Date; today: string } {
  const now = new Date(Date.now())
  return { now, today: shanghaiDay(now) }
}

async function readAccount(openid: string, now: Date): Promise<PointsAccountDoc> {
  return (await collection('points_accounts').get(openid)) ?? emptyAccount(openid, now)
}

async function accountIn(tx: Transaction, openid: string, now: Date): Promise<PointsAccountDoc> {
  return (await tx.collection('points_accounts').get(openid)) ?? emptyAccount(openid, now)
}

/** Writes the grants' ledger entries and the account they moved (inside the caller's transaction). */
async function grantIn(tx: Transaction, account: PointsAccountDoc, grants: Grant[], now: Date): Promise<PointsAccountDoc> {
  let next = account
  const entries: PointsLedgerDoc[] = []
  for (const grant of grants) {
    const applied = applyGrant(next, grant, now)
    next = applied.account
    if (applied.entry) entries.push(applied.entry)
  }
  // A duplicate key here means "granted already": the whole transaction is rolled back.
  await Promise.all(entries.map((entry) => tx.collection('points_ledger').add(entry)))
  const { _id: id, ...fields } = next
  await tx.collection('points_accounts').set(id, fields)
  return next
}

function busy(err: unknown): never {
  // Retries exhausted on conflicts: many writes to one account at once. Nothing was written.
  if (isTransactionConflict(err)) {
    throw new AppError('CONFLICT', '操作太频繁，请稍后再试。')
  }
  throw err
}

// ---- task facts: one read per source, whatever the number of tasks -----------------------------

interface EventGroup {
  _id: string
  n: number
  guides: unknown[]
}

async function readFacts(openid: string, tasks: TaskConfig[], account: PointsAccountDoc): Promise<TaskFacts> {
  const kinds = new Set(tasks.map((t) => t.kind))
  const names = [...new Set([...kinds].flatMap((kind) => EVENTS_BY_KIND[kind] ?? []))]
  const [user, groups] = await Promise.all([
    kinds.has('profile') ? collection('users').get(openid, { nickname: true, avatarUrl: true }) : Promise.resolve(null),
    names.length > 0
      ? collection('events').aggregate<EventGroup>([
          { $match: { openid, name: { $in: names } } },
          { $group: { _id: '$name', n: { $sum: 1 }, guides: { $addToSet: '$props.guideId' } } },
        ])
      : Promise.resolve([]),
  ])
  const eventCounts: Record<string, number> = {}
  let guidesRead = 0
  for (const group of groups) {
    eventCounts[group._id] = group.n
    if (group._id === 'content_open') guidesRead = group.guides.filter((g) => typeof g === 'string').length
  }
  return {
    profileComplete: Boolean(user?.nickname && user.avatarUrl),
    eventCounts,
    guidesRead,
    rewardedInvites: account.invites.rewarded,
    bestStreak: account.checkin.best,
  }
}

// ---- invite codes ------------------------------------------------------------------------------

/** My invite code, registered once in invite_codes and in the channel registry, together. */
async function ensureInviteCode(openid: string, now: Date): Promise<{ code: string; qrFileId: string }> {
  const existing = await collection('invite_codes').get(openid)
  if (existing) return existing
  for (let attempt = 0; attempt < 3; attempt++) {
    const code = newShortCode()
    try {
      await runTransaction(async (tx) => {
        await tx.collection('channel_codes').add({
          _id: code,
          channel: 'invite',
          campaign: 'invite',
          inviter: openid,
          page: INVITE_PAGE,
          note: '',
          createdBy: openid,
          createdAt: now,
          qrFileId: '',
        })
        await tx.collection('invite_codes').add({ _id: openid, code, qrFileId: '', createdAt: now })
      })
      return { code, qrFileId: '' }
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err
      // Either my code was made meanwhile (another call of mine), or the drawn code is taken.
      const made = await collection('invite_codes').get(openid)
      if (made) return made
    }
  }
  throw new AppError('CONFLICT', '生成邀请码失败，请重试。')
}

/** The mini-program code image for my invite, made once; '' when the platform refuses it for now. */
async function ensureInviteImage(openid: string, code: string, config: IncentivesConfig): Promise<string> {
  let image: Buffer
  try {
    image = await miniProgramCode({ scene: code, page: INVITE_PAGE, checkPath: config.referral.checkPath, width: 430 })
  } catch (err) {
    // e.g. 41030 (page not published yet while checkPath is on): the share path still works; retry next time.
    console.error('[incentives] wxacode.getUnlimited failed for an invite code', JSON.stringify(err))
    return ''
  }
  // One path per code: two first calls racing upload the same image to the same file.
  const fileId = await uploadFile(`invite-codes/${code}.png`, image)
  await Promise.all([collection('invite_codes').update(openid, { qrFileId: fileId }), collection('channel_codes').update(code, { qrFileId: fileId })])
  return fileId
}

/** Same-day invite chains are walked at most this far looking for a loop back to the invitee. */
const MAX_CHAIN = 20

/**
 * A month's calendar for `openid`: checked days, make-up days, streak and what the next days earn.
 * Reads the month's check-ins and the user's first day (2 round trips, in parallel with the config
 * and account when the caller has not read them yet).
 */
async function calendarOf(openid: string, month: string, configRead: Promise<IncentivesConfig> | IncentivesConfig, accountRead: Promise<PointsAccountDoc> | PointsAccountDoc): Promise<Calendar> {
  const { today } = clock()
  const first = `${month}-01`
  const last = addDays(addDays(first, 31).slice(0, 7) + '-01', -1)
  const _ = command()
  const [config, account, docs, user] = await Promise.all([
    configRead,
    accountRead,
    collection('checkins').find({ openid, day: _.gte(first).and(_.lte(last)) }, { orderBy: [['day', 'asc']], limit: 31 }),
    collection('users').get(openid, { firstSeenDay: true }),
  ])
  const rules = makeupRules(account, today, config.makeup)
  const checked = new Set(docs.map((d) => d.day))
  const makeupDays: string[] = []
  // Days before the user joined were never missed: they cannot be made up.
  const joined = user?.firstSeenDay ?? ''
  if (rules.enabled && rules.remainingThisMonth > 0) {
    for (let back = config.makeup.daysBack; back >= 1; back--) {
      const day = addDays(today, -back)
      if (day >= first && day <= last && day >= joined && !checked.has(day)) makeupDays.push(day)
    }
  }
  return {
    month,
    today,
    days: docs.map((d) => ({ day: d.day, makeup: d.makeup, reward: d.reward })),
    streak: currentStreak(account, today),
    checkedInToday: account.checkin.lastDay === today,
    makeupDays,
    makeup: rules,
    upcoming: upcomingRewards(account, today, config.checkin),
  }
}

export const main = createRouter<typeof incentivesActions, IncentivesOutputs>(incentivesActions, {
  async summary(_input, { openid }) {
    const { now, today } = clock()
    const [config, account] = await Promise.all([loadConfig(), readAccount(openid, now)])
    const checkedInToday = account.checkin.lastDay === today
    const prospective = rewardFor(streakIfCheckedIn(account, today), config.checkin)
    return {
      balance: account.balance,
      lifetime: account.lifetime,
      ...levelOf(account.lifetime, config.levels),
      streak: currentStreak(account, today),
      checkedInToday,
      today,
      todayReward: checkedInToday ? account.checkin.lastReward : prospective.base + prospective.bonus,
      makeup: makeupRules(account, today, config.makeup),
    }
  },

  async checkin({ month }, { openid }) {
    const [config, ids] = await Promise.all([loadConfig(), templateIds()])
    const { now, today } = clock()
    const reminder = config.reminder.offer && Boolean(ids.checkin_reminder)
    const answer = (account: PointsAccountDoc, reward: { base: number; bonus: number }, alreadyCheckedIn: boolean): CheckinResult => ({
      day: today,
      streak: account.checkin.streak,
      base: reward.base,
      bonus: reward.bonus,
      reward: reward.base + reward.bonus,
      alreadyCheckedIn,
      balance: account.balance,
      level: levelOf(account.lifetime, config.levels).level,
      reminder,
    })
    const already = (account: PointsAccountDoc): CheckinResult => {
      // The reward as granted then (lastReward), split as today's rules split it (the config may have changed since).
      const { base } = rewardFor(account.checkin.streak, config.checkin)
      const granted = account.checkin.lastReward
      return answer(account, { base: Math.min(base, granted), bonus: Math.max(0, granted - base) }, true)
    }
    let outcome: { granted: true; result: CheckinResult; account: PointsAccountDoc } | { granted: false; account: PointsAccountDoc }
    try {
      outcome = await runTransaction(async (tx) => {
        const account = await accountIn(tx, openid, now)
        if (account.checkin.lastDay === today) return { granted: false as const, account }
        const streak = streakIfCheckedIn(account, today)
        const reward = rewardFor(streak, config.checkin)
        const points = reward.base + reward.bonus
        const checkin: CheckinDoc = { _id: `${openid}:${today}`, openid, day: today, streak, reward: points, makeup: false, createdAt: now }
        await tx.collection('checkins').add(checkin)
        const withStreak: PointsAccountDoc = {
          ...account,
          checkin: { lastDay: today, streak, best: Math.max(account.checkin.best, streak), lastReward: points },
        }
        const next = await grantIn(tx, withStreak, [{ key: grantKey.checkin(openid, today), reason: 'checkin', amount: points, ref: today, title: `每日签到（连续 ${streak} 天）`, day: today }], now)
        return { granted: true as const, result: answer(next, reward, false), account: next }
      })
    } catch (err) {
      if (!isDuplicateKeyError(err)) busy(err)
      // Another call checked in between this one's read and write: answer with its result.
      outcome = { granted: false, account: await readAccount(openid, now) }
    }
    const result = outcome.granted ? outcome.result : already(outcome.account)
    return month ? { ...result, calendar: await calendarOf(openid, month, config, outcome.account) } : result
  },

  async makeup({ day }, { openid }) {
    const [config, user] = await Promise.all([loadConfig(), collection('users').get(openid, { firstSeenDay: true })])
    const { now, today } = clock()
    if (!config.makeup.enabled) throw new AppError('FORBIDDEN', '补签暂未开放。')
    const problem = makeupDayProblem(day, today, config.makeup.daysBack)
    if (problem) throw new AppError('INVALID_INPUT', problem)
    // Days before the user joined were never missed. (Without a users doc, the window alone bounds it.)
    if (user && day < user.firstSeenDay) throw new AppError('INVALID_INPUT', '加入之前的日子不能补签。')
    const month = today.slice(0, 7)
    try {
      return await runTransaction(async (tx): Promise<MakeupResult> => {
        const account = await accountIn(tx, openid, now)
        const before = await tx.collection('checkins').get(`${openid}:${addDays(day, -1)}`)
        const streak = (before?.streak ?? 0) + 1
        // First the day itself, so "already checked" wins over the other refusals.
        await tx.collection('checkins').add({ _id: `${openid}:${day}`, openid, day, streak, reward: 0, makeup: true, createdAt: now })
        const rules = makeupRules(account, today, config.makeup)
        if (rules.remainingThisMonth <= 0) throw new AppError('RATE_LIMITED', `本月的 ${config.makeup.maxPerMonth} 次补签已经用完了。`)
        if (account.balance < config.makeup.cost) throw new AppError('FORBIDDEN', `积分不足：补签需要 ${config.makeup.cost} 积分，你有 ${account.balance} 积分。`)
        // The days after it that were checked now belong to a longer run: renumber them.
        let runEnd = day
        let runStreak = streak
        for (let next = addDays(day, 1); next <= today; next = addDays(next, 1)) {
          const doc = await tx.collection('checkins').get(`${openid}:${next}`)
          if (!doc) break
          runEnd = next
          runStreak += 1
          if (doc.streak !== runStreak) await tx.collection('checkins').update(doc._id, { streak: runStreak })
        }
        const last = account.checkin
        const extendsLast = runEnd >= last.lastDay
        const updated: PointsAccountDoc = {
          ...account,
          checkin: {
            lastDay: extendsLast ? runEnd : last.lastDay,
            streak: extendsLast ? runStreak : last.streak,
            best: Math.max(last.best, runStreak),
            lastReward: extendsLast && runEnd !== last.lastDay ? 0 : last.lastReward,
          },
          makeups: { month, count: (account.makeups.month === month ? account.makeups.count : 0) + 1 },
          updatedAt: now,
        }
        const next = await grantIn(tx, updated, [{ key: grantKey.makeup(openid, day), reason: 'makeup', amount: -config.makeup.cost, ref: day, title: `补签 ${monthDay(day)}`, day }], now)
        return { day, cost: config.makeup.cost, balance: next.balance, streak: currentStreak(next, today), makeup: makeupRules(next, today, config.makeup) }
      })
    } catch (err) {
      if (isDuplicateKeyError(err)) throw new AppError('CONFLICT', '这一天已经签到过了。')
      return busy(err)
    }
  },

  async calendar({ month }, { openid }) {
    const { now } = clock()
    return calendarOf(openid, month, loadConfig(), readAccount(openid, now))
  },

  async tasks(_input, { openid }) {
    const { now } = clock()
    const [config, account] = await Promise.all([loadConfig(), readAccount(openid, now)])
    const tasks = config.tasks.filter((t) => t.enabled)
    const [facts, claimed] = await Promise.all([
      readFacts(openid, tasks, account),
      tasks.length > 0
        ? collection('points_ledger').find({ _id: command().in(tasks.map((t) => grantKey.task(openid, t.id))) }, { fields: { ref: true }, limit: tasks.length })
        : Promise.resolve([]),
    ])
    return { items: taskViews(tasks, facts, new Set(claimed.map((entry) => entry.ref))) }
  },

  async claimTask({ taskId }, { openid }) {
    const config = await loadConfig()
    const { now, today } = clock()
    const task = config.tasks.find((t) => t.id === taskId && t.enabled)
    if (!task) throw new AppError('NOT_FOUND', '没有这个任务，或它已下线。')
    const key = grantKey.task(openid, taskId)
    const answer = (account: PointsAccountDoc, points: number, alreadyClaimed: boolean): ClaimResult => ({
      taskId,
      points,
      alreadyClaimed,
      balance: account.balance,
      level: levelOf(account.lifetime, config.levels).level,
    })
    // Facts from outside the account (profile, events) only grow; read them before the transaction,
    // with the ledger entry a claim leaves: claimed before, it answers without opening a transaction.
    const [outside, claimed] = await Promise.all([
      task.kind === 'invite' || task.kind === 'checkin_streak' ? null : readFacts(openid, [task], emptyAccount(openid, now)),
      collection('points_ledger').get(key),
    ])
    if (claimed) return answer(await readAccount(openid, now), claimed.amount, true)
    try {
      return await runTransaction(async (tx) => {
        const account = await accountIn(tx, openid, now)
        const facts: TaskFacts = { ...(outside ?? (await readFacts(openid, [], account))), rewardedInvites: account.invites.rewarded, bestStreak: account.checkin.best }
        const { progress, target } = taskProgress(task, facts)
        if (progress < target) {
          // Claimed before (e.g. the streak broke since)? The ledger says; otherwise it is not done.
          if (await tx.collection('points_ledger').get(key)) return answer(account, task.points, true)
          throw new AppError('FORBIDDEN', `任务还没完成（${progress}/${target}）。`)
        }
        const next = await grantIn(tx, account, [{ key, reason: 'task', amount: task.points, ref: taskId, title: `完成任务：${task.title}`, day: today }], now)
        return answer(next, task.points, false)
      })
    } catch (err) {
      if (!isDuplicateKeyError(err)) return busy(err)
      const [entry, account] = await Promise.all([collection('points_ledger').get(key), readAccount(openid, now)])
      return answer(account, entry?.amount ?? task.points, true)
    }
  },

  async invite(_input, { openid }) {
    const { now } = clock()
    const [config, account] = await Promise.all([loadConfig(), readAccount(openid, now)])
    const { code, qrFileId } = await ensureInviteCode(openid, now)
    const fileId = qrFileId || (await ensureInviteImage(openid, code, config))
    const result: InviteInfo = {
      code,
      path: `${INVITE_PAGE}?c=${code}`,
      qrUrl: fileId ? await tempFileUrl(fileId) : '',
      rewarded: account.invites.rewarded,
      rewards: { inviter: config.referral.inviterPoints, invitee: config.referral.inviteePoints },
    }
    return result
  },

  async acceptInvite({ code, sharer }, { openid }) {
    const { now, today } = clock()
    const [config, user, registered, shared] = await Promise.all([
      loadConfig(),
      collection('users').get(openid, { firstSeenDay: true, firstTouch: true }),
      code ? collection('channel_codes').get(code) : Promise.resolve(null),
      sharer && !code ? collection('identities').get(sharer) : Promise.resolve(null),
    ])
    if (!user) throw new AppError('NOT_FOUND', '请先登录。')
    if (user.firstSeenDay !== today) throw new AppError('FORBIDDEN', '只有今天新加入的用户可以接受邀请。')
    let inviter: string | undefined
    if (code) {
      if (!registered?.inviter) throw new AppError('NOT_FOUND', '邀请码无效。')
      inviter = registered.inviter
    } else {
      inviter = user.firstTouch?.inviter ?? shared?.openid
      if (!inviter) throw new AppError('NOT_FOUND', '没有找到邀请你的人。')
    }
    if (inviter === openid) throw new AppError('FORBIDDEN', '不能邀请自己。')
    const from = inviter
    const rules = config.referral
    try {
      return await runTransaction(async (tx): Promise<AcceptResult> => {
        // A loop: my inviter was (directly or through others, all today) invited by me.
        let link = await tx.collection('referrals').get(from)
        for (let depth = 0; link && link.day === today; depth++) {
          if (link.inviter === openid) throw new AppError('FORBIDDEN', '你们已经是邀请关系了，不能互相邀请。')
          if (depth >= MAX_CHAIN) throw new AppError('FORBIDDEN', '邀请关系异常。')
          link = await tx.collection('referrals').get(link.inviter)
        }
        const [inviterAccount, inviteeAccount] = await Promise.all([accountIn(tx, from, now), accountIn(tx, openid, now)])
        const todays = inviterAccount.invites.day === today ? inviterAccount.invites.today : 0
        const inviterRewarded = rules.inviterPoints > 0 && todays < rules.maxRewardedPerDay
        await tx.collection('referrals').add({
          _id: openid,
          inviter: from,
          invitee: openid,
          code: code ?? '',
          day: today,
          inviterRewarded,
          inviterPoints: inviterRewarded ? rules.inviterPoints : 0,
          inviteePoints: rules.inviteePoints,
          createdAt: now,
        })
        const invitee = await grantIn(tx, inviteeAccount, [{ key: grantKey.welcome(openid), reason: 'referral_welcome', amount: rules.inviteePoints, ref: from, title: '受邀加入奖励', day: today }], now)
        if (inviterRewarded) {
          const counted: PointsAccountDoc = { ...inviterAccount, invites: { rewarded: inviterAccount.invites.rewarded + 1, day: today, today: todays + 1 } }
          await grantIn(tx, counted, [{ key: grantKey.referral(from, openid), reason: 'referral', amount: rules.inviterPoints, ref: openid, title: '邀请好友奖励', day: today }], now)
        }
        return { reward: rules.inviteePoints, inviterRewarded, balance: invitee.balance }
      })
    } catch (err) {
      if (isDuplicateKeyError(err)) throw new AppError('CONFLICT', '你已经接受过邀请了。')
      return busy(err)
    }
  },

  async ledger({ cursor, limit }, { openid }) {
    const _ = command()
    const docs = await collection('points_ledger').find(
      { openid, seq: cursor ? _.lt(Number(cursor)) : _.gt(0) },
      { orderBy: [['seq', 'desc']], limit, fields: { seq: true, reason: true, title: true, amount: true, balanceAfter: true, day: true, createdAt: true } },
    )
    const last = docs[docs.length - 1]
    return {
      items: docs.map((d) => ({ seq: d.seq, reason: d.reason, title: d.title, amount: d.amount, balanceAfter: d.balanceAfter, day: d.day, at: new Date(d.createdAt).toISOString() })),
      nextCursor: docs.length === limit && last && last.seq > 1 ? String(last.seq) : null,
    }
  },

  async validateConfig({ draft }, { openid }) {
    if (!(await isAdmin(openid))) throw new AppError('FORBIDDEN', 'Only admins can check the incentives config.')
    if (draft) return { source: 'draft', ...checkConfig(draft) }
    const stored = await collection('app_config').get(CONFIG_ID)
    return { source: stored ? 'stored' : 'none', ...checkConfig(stored) }
  },
})
