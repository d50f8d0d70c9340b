/**
 * UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits, so ids sort by time.
 * Written out here rather than taken from the `uuid` package: its smallest import costs several KB
 * of the launch package and needs crypto.getRandomValues, which the mini-program runtime lacks.
 * The randomness is Math.random: ids must be unique, not unguessable. Checked against the `uuid`
 * package in the tests.
 */
const hex = (n: number, width: number) => n.toString(16).padStart(width, '0')
const random = (bits: number) => Math.floor(Math.random() * 2 ** bits)

export function uuidv7(now = Date.now()): string {
  const ms = hex(now, 12)
  return (
    `${ms.slice(0, 8)}-${ms.slice(8, 12)}-` +
    `7${hex(random(12), 3)}-` +
    `${hex(0x8000 | random(14), 4)}-` +
    `${hex(random(24), 6)}${hex(random(24), 6)}`
  )
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

export function isUuidv7(value: unknown): value is string {
  return typeof value === 'string' && UUID_V7.test(value)
}
