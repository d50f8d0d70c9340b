/**
 * Short codes of the channel registry (`channel_codes`): admin-made channel codes and users' invite
 * codes share one format and one namespace, because a mini-program code's `scene` (32 characters at
 * most) carries either and `track` resolves both the same way.
 */
import { randomBytes } from 'node:crypto'

/**
 * Capitals and digits without the look-alikes 0/O and 1/I: codes get read aloud and typed by
 * people, so one case only. 32 symbols, so a byte maps to one without bias. (Codes made before,
 * with lower case too, stay valid: the formats accept both cases.)
 */
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'

/** A random 8-character code (32^8 ≈ 1.1e12 codes; callers retry the rare collision on insert). */
export function newShortCode(): string {
  const bytes = randomBytes(8)
  return Array.from(bytes, (b) => ALPHABET[b % ALPHABET.length]).join('')
}
