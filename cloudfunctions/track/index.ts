/**
 * `track`: ingests a device's batch of events. Each event is checked on its own against the tracking
 * plan; the valid ones are stored with their device-made id as _id, so a retried batch is stored
 * once. The usual batch costs one database round trip (one insert); the first batch of a user's day
 * on a function instance also records the active day, the device's identity and the first touch.
 */
import { collection, command, isDuplicateKeyError } from '../_shared/cloud'
import type { EventDoc, Touch, UserDoc } from '../_shared/models'
import { createRouter } from '../_shared/router'
import { shanghaiDay } from '../_shared/time'
import { MAX_BATCH, type Rejection, trackActions, type TrackOutputs } from './api'
import { touchProps, type TrackedEvent } from './plan'
import { checkEvent } from './validate'

/** What this function instance already recorded, so repeat batches skip those writes (bounded). */
class Seen {
  private readonly items = new Set<string>()
  has(key: string): boolean {
    return this.items.has(key)
  }
  add(key: string): void {
    if (this.items.size > 20_000) this.items.clear()
    this.items.add(key)
  }
}
const seenDays = new Seen()
const seenDevices = new Seen()
const seenTouch = new Seen()

type Keyed = { _id: string }

/**
 * Inserts documents with deterministic ids in one round trip; when some exist already (a retry,
 * a concurrent batch), finds which and inserts only the others. Returns the ids that already existed.
 */
async function insertOnce<T extends Keyed>(name: 'events' | 'user_days' | 'identities', docs: T[]): Promise<Set<string>> {
  const existing = new Set<string>()
  let pending = docs
  for (let attempt = 0; pending.length > 0; attempt++) {
    try {
      await collection(name).addMany(pending as never[])
      return existing
    } catch (err) {
      if (!isDuplicateKeyError(err) || attempt >= 3) throw err
      const ids = pending.map((d) => d._id)
      const found = await collection(name).find({ _id: command().in(ids) }, { fields: { _id: true }, limit: ids.length })
      for (const doc of found) existing.add(doc._id)
      pending = pending.filter((d) => !existing.has(d._id))
    }
  }
  return existing
}

const TOUCH_KEYS = Object.keys(touchProps) as (keyof typeof touchProps)[]

function touchOf(event: TrackedEvent): Touch | null {
  if (event.name !== 'app_launch' && event.name !== 'app_show') return null
  const props = event.props as Record<string, unknown>
  const touch: Record<string, unknown> = {}
  for (const key of TOUCH_KEYS) if (props[key] !== undefined) touch[key] = props[key]
  if (Object.keys(touch).length === 0) return null
  return { ...(touch as Partial<Touch>), at: new Date(event.ts), day: shanghaiDay(new Date(event.ts)) }
}

/** Resolves a channel code and a sharer into channel, campaign, inviter and share-chain depth. */
async function resolveTouch(touch: Touch, openid: string): Promise<Touch> {
  const resolved: Touch = { ...touch }
  if (touch.code) {
    const code = await collection('channel_codes').get(touch.code)
    if (code) {
      resolved.channel = code.channel
      resolved.campaign = code.campaign
      if (code.inviter && code.inviter !== openid) resolved.inviter = code.inviter
    }
  }
  if (touch.sharer && !resolved.inviter) {
    const sharer = await collection('identities').get(touch.sharer)
    if (sharer && sharer.openid !== openid) {
      resolved.inviter = sharer.openid
      const inviter = await collection('users').get(sharer.openid, { firstTouch: true })
      resolved.depth = (inviter?.firstTouch?.depth ?? 0) + 1
    }
  }
  return resolved
}

/** Scenes of a launch from a subscription message (1014), or its notification in a chat (1107). */
const MESSAGE_SCENES = new Set([1014, 1107])

/** The message-log id a launch from a subscription message carries (`msg`, set by sendTemplate). */
function messageOpened(event: TrackedEvent): string | undefined {
  if (event.name !== 'app_launch' && event.name !== 'app_show') return undefined
  const { msg, scene } = event.props as { msg?: string; scene?: number }
  return msg && scene !== undefined && MESSAGE_SCENES.has(scene) ? msg : undefined
}

/** Sets the user's first touch unless one is set already; creates the user if login has not yet. */
async function recordFirstTouch(openid: string, appid: string | undefined, touch: Touch, firstSeen: Date): Promise<void> {
  const users = collection('users')
  const missing = { _id: openid, firstTouch: command().exists(false) }
  const resolved = await resolveTouch(touch, openid)
  if ((await users.updateWhere(missing, { firstTouch: resolved })) > 0) return
  const existing = await users.get(openid, { firstTouch: true })
  if (existing?.firstTouch) return
  if (!existing) {
    const day = shanghaiDay(firstSeen)
    const user: UserDoc = {
      _id: openid,
      openid,
      appid: appid ?? '',
      nickname: '',
      avatarUrl: '',
      firstSeenAt: firstSeen,
      firstSeenDay: day,
      lastSeenAt: firstSeen,
      lastSeenDay: day,
      updatedAt: firstSeen,
      firstTouch: resolved,
    }
    try {
      await users.add(user)
      return
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err
    }
  }
  // Login created the user after the update above: give that document its first touch.
  await users.updateWhere(missing, { firstTouch: resolved })
}

export const main = createRouter<typeof trackActions, TrackOutputs>(trackActions, {
  async ingest({ events: raw }, { openid, appid }) {
    const now = Date.now()
    const rejected: Rejection[] = []
    const valid: TrackedEvent[] = []
    const ids = new Set<string>()
    raw.forEach((item, index) => {
      if (index >= MAX_BATCH) {
        rejected.push({ id: null, index, reason: `batch larger than ${MAX_BATCH} events: send the rest in another call` })
        return
      }
      const checked = checkEvent(item, index, now)
      if (!checked.ok) {
        rejected.push(checked.rejection)
        return
      }
      if (ids.has(checked.event.id)) {
        rejected.push({ id: checked.event.id, index, reason: 'duplicate id in this batch' })
        return
      }
      ids.add(checked.event.id)
      valid.push(checked.event)
    })
    if (valid.length === 0) return { accepted: [], rejected, duplicates: 0 }

    const receivedAt = new Date(now)
    const docs: EventDoc[] = valid.map((e) => ({
      _id: e.id,
      name: e.name,
      ts: new Date(e.ts),
      day: shanghaiDay(new Date(e.ts)),
      receivedAt,
      openid,
      anonymousId: e.anonymousId,
      sessionId: e.sessionId,
      page: e.page,
      props: e.props as Record<string, unknown>,
    }))
    const duplicates = await insertOnce('events', docs)

    const days = [...new Set(docs.map((d) => d.day))].filter((day) => !seenDays.has(`${openid}:${day}`))
    if (days.length > 0) {
      await insertOnce('user_days', days.map((day) => ({ _id: `${openid}:${day}`, openid, day, at: receivedAt })))
      for (const day of days) seenDays.add(`${openid}:${day}`)
    }

    const devices = [...new Set(docs.map((d) => d.anonymousId))].filter((id) => !seenDevices.has(id))
    if (devices.length > 0) {
      await insertOnce('identities', devices.map((id) => ({ _id: id, openid, firstSeenAt: receivedAt })))
      for (const id of devices) seenDevices.add(id)
    }

    if (!seenTouch.has(openid)) {
      const first = valid.map(touchOf).find((t): t is Touch => t !== null)
      if (first) {
        await recordFirstTouch(openid, appid, first, new Date(Math.min(...valid.map((e) => e.ts))))
        seenTouch.add(openid)
      }
    }

    // Launched from a subscription message: mark it opened, the first time only (cheap: launches with `msg` only).
    const opened = [...new Set(valid.map(messageOpened).filter((id): id is string => id !== undefined))]
    if (opened.length > 0) {
      const _ = command()
      await collection('message_log').updateWhere({ _id: _.in(opened), openid, openedAt: _.exists(false) }, { openedAt: receivedAt })
    }

    return { accepted: valid.map((e) => e.id), rejected, duplicates: duplicates.size }
  },
})
