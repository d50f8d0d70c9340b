/**
 * Rolling-window rate limits ("at most 5 per user per hour") that hold under concurrency.
 *
 * A limit is one document in `rate_limits` whose `recent` array keeps the latest slots, newest first,
 * never more than the limit. Taking a slot is one conditional update: "push mine in front (keeping
 * `limit` entries) where the `limit`-th newest is missing or older than the window". The database
 * applies it atomically, so concurrent calls can never take more slots than the limit — unlike
 * counting first and inserting after, where every call of the same instant sees the same count.
 */
import { randomUUID } from 'node:crypto'
import { collection, command, isDuplicateKeyError } from './cloud'

export interface Slot {
  id: string
  token: string
}

export interface RateLimit {
  /** The limit document, e.g. `feedback:<openid>`. */
  id: string
  limit: number
  windowMs: number
}

/**
 * Takes a slot, or answers null when `limit` slots were taken within the window. One database round
 * trip when the document exists; the first call for an id (or a rare race creating it) takes two to four.
 */
export async function takeSlot({ id, limit, windowMs }: RateLimit, now = new Date()): Promise<Slot | null> {
  const _ = command()
  const limits = collection('rate_limits')
  const token = randomUUID()
  const entry = { at: now, token }
  const oldest = `recent.${limit - 1}.at`
  const free = _.and([{ _id: id }, _.or([{ [oldest]: _.exists(false) }, { [oldest]: _.lte(new Date(now.getTime() - windowMs)) }])])
  for (let attempt = 0; attempt < 2; attempt++) {
    if ((await limits.updateWhere(free as never, { recent: _.push({ each: [entry], position: 0, slice: limit }) } as never)) > 0) return { id, token }
    try {
      await limits.add({ _id: id, recent: [entry] })
      return { id, token }
    } catch (err) {
      // It exists: full, or created by a concurrent first call a moment ago (then the update may pass).
      if (!isDuplicateKeyError(err)) throw err
    }
  }
  return null
}

/** Gives a slot back (the call it was taken for was refused, so it should not count). */
export async function releaseSlot(slot: Slot): Promise<void> {
  await collection('rate_limits').updateWhere({ _id: slot.id }, { recent: command().pull({ token: slot.token }) } as never)
}
