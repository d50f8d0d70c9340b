/**
 * UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits, so ids sort by time.
 * Written out here rather than taken from the `uuid` package: its smallest import costs several KB
 * of the launch package and needs crypto.getRandomValues, which the mini-program runtime lacks.
 * The randomness is Math.random: ids must be unique, not unguessable. Checked against the `uuid`
 * package in the tests.
 *
 * Ids made in the same millisecond on a device are monotonic (RFC 9562 §6.2, method 1: a 12-bit
 * counter in rand_a), so the id order is the device's order: funnels order events of equal
 * timestamps by it.
 */
const hex = (n: number, width: number) => n.toString(16).padStart(width, '0')
const random = (bits: number) => Math.floor(Math.random() * 2 ** bits)

let lastMs = -1
let counter = 0

export function uuidv7(now = Date.now()): string {
  // The same millisecond as the last id: count on in rand_a. A new millisecond starts the counter
  // low (below 2^11), leaving room to count; past 0xfff the order within that millisecond is lost.
  if (now === lastMs && counter < 0xfff) counter++
  else counter = random(11)
  lastMs = now
  const msHex = hex(now, 12)
  return (
    `${msHex.slice(0, 8)}-${msHex.slice(8, 12)}-` +
    `7${hex(counter, 3)}-` +
    `${hex(0x8000 | random(14), 4)}-` +
    `${hex(random(24), 6)}${hex(random(24), 6)}`
  )
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

export function isUuidv7(value: unknown): value is string {
  return typeof value === 'string' && UUID_V7.test(value)
}
