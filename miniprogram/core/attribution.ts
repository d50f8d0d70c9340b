/**
 * Attribution: where a session came from, read from the launch or show options WeChat passes —
 * the scene, `utm_*` query parameters, the sharer (added to every share path), and a short channel
 * code (the `scene` string of a mini-program code, or `c=` in a link). The cloud resolves the
 * code and the sharer; first touch is kept on the user, last touch on each session.
 */
import type { EventProps } from '../../cloudfunctions/track/plan'
import { anonymousId } from './tracker'
import { isUuidv7 } from './uuid'

export type Touch = Omit<EventProps<'app_show'>, 'path'>

export interface EntryOptions {
  path?: string
  scene?: number
  query?: Record<string, string | undefined>
}

const CODE = /^[A-Za-z0-9]{4,32}$/
const MSG = /^[A-Za-z0-9_:.-]{1,160}$/

function decode(value: string): string {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

/** The code in a mini-program code's scene: the whole scene (`Ab3dEf7h`) or its `c=` parameter. */
function codeFromScene(scene: string): string | undefined {
  const text = decode(scene)
  if (CODE.test(text)) return text
  const param = /(?:^|&)c=([A-Za-z0-9]{4,32})(?:&|$)/.exec(text)
  return param?.[1]
}

export function touchFrom(options: EntryOptions): Touch {
  const query = options.query ?? {}
  const touch: Touch = {}
  if (typeof options.scene === 'number' && options.scene >= 1000 && options.scene <= 9999) touch.scene = options.scene
  for (const key of ['utm_source', 'utm_medium', 'utm_campaign'] as const) {
    const value = query[key]
    if (value) touch[key] = decode(value).slice(0, 64)
  }
  if (query.sharer && isUuidv7(query.sharer) && query.sharer !== anonymousId()) touch.sharer = query.sharer
  const code = (query.c && CODE.test(query.c) ? query.c : undefined) ?? (query.scene ? codeFromScene(query.scene) : undefined)
  if (code) touch.code = code
  // A subscription message's page carries its log id (cloudfunctions/_shared/messages.ts).
  if (query.msg && (options.scene === 1014 || options.scene === 1107)) {
    const msg = decode(query.msg)
    if (MSG.test(msg)) touch.msg = msg
  }
  return touch
}

/**
 * Adds the sharer (this device's anonymous id) to a share path, so the share chain can be followed.
 * A sharer already there (a shared page, shared on) is replaced: the next link of the chain is this device.
 */
export function withSharer(path: string): string {
  const id = anonymousId()
  if (!id) return path
  const own = `sharer=${id}`
  return /[?&]sharer=/.test(path) ? path.replace(/([?&])sharer=[^&]*/, `$1${own}`) : `${path}${path.includes('?') ? '&' : '?'}${own}`
}
