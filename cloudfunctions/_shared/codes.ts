/**
 * Short codes of the channel registry (`channel_codes`): admin-made channel codes and users' invite
 * codes share one format and one namespace, because a mini-program code's `scene` (32 characters at
 * most) carries either and `track` resolves both the same way.
 */
import { randomBytes } from 'node:crypto'

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789' // no 0/O, 1/l/I: codes get read aloud

/** A random 8-character code (57^8 ≈ 1.1e14 codes; callers retry the rare collision on insert). */
export function newShortCode(): string {
  const bytes = randomBytes(8)
  return Array.from(bytes, (b) => ALPHABET[b % ALPHABET.length]).join('')
}
