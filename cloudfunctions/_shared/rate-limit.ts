/**
 * Rolling-window rate limits ("at most 5 per user per hour") that hold under concurrency.
 *
 * A limit is one document in `rate_limits` whose `recent` array keeps the latest slots, newest first,
 * never more than the limit. Taking a slot is one conditional update: "push mine in front (keeping
 * `limit` entries) where the `limit`-th newest is missing or older than the window". The database
 * applies it atomically, so concurrent calls can never take more slots than the limit — unlike
 * counting first and inserting after, where every call of the same instant sees the same count.
 *
 * A slot taken for a write is a reservation that the write confirms: with `confirm`, the slot's
 * token is the `_id` the caller writes into `confirm.collection`, and a slot older than
 * `confirm.withinMs` whose document does not exist is dead (its call died or timed out before
 * writing) and is reclaimed when the limit is reached. So the slot and the write are one outcome:
 * a stored write holds its slot for the window, a call that never wrote holds nothing for long.
 */
import { randomUUID } from 'node:crypto'
import type { CollectionName } from './collections'
import type { RateLimitDoc } from './models'
import { collection, command, isDuplicateKeyError } from './cloud'

export interface Slot {
  id: string
  /** Unique per slot; with `confirm`, the `_id` of the document that confirms it. */
  token: string
}

export interface RateLimit {
  /** The limit document, e.g. `feedback:<openid>`. */
  id: string
  limit: number
  windowMs: number
  /**
   * The write that confirms a slot: a document of `collection` whose `_id` is the slot's token.
   * `withinMs` must exceed the longest the call can run (the function's timeout): a younger slot
   * may still be confirmed and always counts.
   */
  confirm?: { collection: CollectionName; withinMs: number }
}

type Entry = RateLimitDoc['recent'][number]

/**
 * Takes a slot, or answers null when `limit` slots were taken within the window. One database round
 * trip when the document exists; the first call for an id (or a rare race creating it) takes two to
 * four; at the limit, two more to look for dead reservations (and two to reclaim them).
 */
export async function takeSlot(rule: RateLimit, now = new Date()): Promise<Slot | null> {
  const { id, limit, windowMs } = rule
  const _ = command()
  const limits = collection('rate_limits')
  const token = randomUUID().replace(/-/g, '')
  const entry: Entry = { at: now, token }
  const oldest = `recent.${limit - 1}.at`
  const free = _.and([{ _id: id }, _.or([{ [oldest]: _.exists(false) }, { [oldest]: _.lte(new Date(now.getTime() - windowMs)) }])])
  const attempt = async (): Promise<boolean> => {
    if ((await limits.updateWhere(free as never, { recent: _.push({ each: [entry], position: 0, slice: limit }) } as never)) > 0) return true
    try {
      await limits.add({ _id: id, recent: [entry] })
      return true
    } catch (err) {
      // It exists: full, or created by a concurrent first call a moment ago (then the update may pass).
      if (!isDuplicateKeyError(err)) throw err
      return false
    }
  }
  if ((await attempt()) || (await attempt())) return { id, token }
  if (rule.confirm && (await reclaimDead(rule, rule.confirm, now)) && (await attempt())) return { id, token }
  return null
}

/** Removes the limit's dead reservations (old enough, never confirmed); answers whether there were any. */
async function reclaimDead({ id, windowMs }: RateLimit, confirm: NonNullable<RateLimit['confirm']>, now: Date): Promise<boolean> {
  const _ = command()
  const doc = await collection('rate_limits').get(id)
  const inWindow = now.getTime() - windowMs
  const settled = now.getTime() - confirm.withinMs
  const candidates = (doc?.recent ?? []).filter((e) => new Date(e.at).getTime() > inWindow && new Date(e.at).getTime() <= settled).map((e) => e.token)
  if (candidates.length === 0) return false
  const found = await collection(confirm.collection).find({ _id: _.in(candidates) } as never, { fields: { _id: true }, limit: candidates.length })
  const confirmed = new Set(found.map((d) => (d as { _id: string })._id))
  const dead = candidates.filter((token) => !confirmed.has(token))
  if (dead.length === 0) return false
  await collection('rate_limits').updateWhere({ _id: id }, { recent: _.pull({ token: _.in(dead) }) } as never)
  return true
}

/** Gives a slot back (the call it was taken for was refused, so it should not count). */
export async function releaseSlot(slot: Slot): Promise<void> {
  await collection('rate_limits').updateWhere({ _id: slot.id }, { recent: command().pull({ token: slot.token }) } as never)
}
