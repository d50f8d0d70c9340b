/**
 * The behaviour `npm run seed:traffic` simulates: where users come from, how often they come back,
 * when in the day they are active and what they do in a session. Plain data and small pure
 * functions, so the shape of the generated traffic is read (and tuned) in one place.
 */
import guides from './guides.json'

// ---- a small seeded PRNG -----------------------------------------------------------------------

/** A random number generator in [0, 1). */
export type Rng = () => number

/** cyrb128: four 32-bit words from a string, to seed sfc32. */
function hash128(text: string): [number, number, number, number] {
  let h1 = 1779033703
  let h2 = 3144134277
  let h3 = 1013904242
  let h4 = 2773480762
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i)
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067)
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233)
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213)
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179)
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067)
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233)
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213)
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179)
  h1 ^= h2 ^ h3 ^ h4
  h2 ^= h1
  h3 ^= h1
  h4 ^= h1
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0]
}

/**
 * sfc32 seeded from `seed` and a stream name: each user draws from a stream of its own, so what a
 * user does does not depend on the order concurrent simulations happen to run in.
 */
export function rngFor(seed: number, stream: string): Rng {
  let [a, b, c, d] = hash128(`${seed}/${stream}`)
  return () => {
    a >>>= 0
    b >>>= 0
    c >>>= 0
    d >>>= 0
    const t = (a + b + d) | 0
    d = (d + 1) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) | 0
    return (t >>> 0) / 4294967296
  }
}

export const chance = (rng: Rng, p: number): boolean => rng() < p
export const between = (rng: Rng, min: number, max: number): number => min + rng() * (max - min)
export const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!

export function weighted<T>(rng: Rng, items: readonly (readonly [T, number])[]): T {
  const total = items.reduce((sum, [, w]) => sum + w, 0)
  let at = rng() * total
  for (const [item, w] of items) {
    at -= w
    if (at < 0) return item
  }
  return items[items.length - 1]![0]
}

/** Log-normal around `median` (a spread of 1 is wide): times people spend reading, browsing. */
export function around(rng: Rng, median: number, spread = 0.6): number {
  const u = Math.max(1e-9, rng())
  const v = rng()
  return median * Math.exp(spread * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v))
}

// ---- where users come from -------------------------------------------------------------------

export type Channel = 'search' | 'discovery' | 'share' | 'poster' | 'utm'
export const CHANNELS: readonly Channel[] = ['search', 'discovery', 'share', 'poster', 'utm']

export interface ChannelModel {
  /** Share of new users. */
  weight: number
  /** Multiplies the retention curve: users who searched for the app come back more than poster scanners. */
  retention: number
  /** Chance to open a guide from the home page in a session. */
  openGuide: number
}

export const CHANNEL_MODEL: Record<Channel, ChannelModel> = {
  /** WeChat search (1005 top search box, 1006 search in the mini-program tab). */
  search: { weight: 0.3, retention: 1.25, openGuide: 0.7 },
  /** Discovery: the mini-program list (1001). */
  discovery: { weight: 0.18, retention: 1.0, openGuide: 0.5 },
  /** A shared card in a chat (1007), `sharer=` an existing user's anonymous id: share chains. */
  share: { weight: 0.25, retention: 0.9, openGuide: 0.45 },
  /** A mini-program code on a poster (1047), carrying a channel code made by the `channel` function. */
  poster: { weight: 0.12, retention: 0.6, openGuide: 0.4 },
  /** A link with utm_* parameters in an official-account article, menu or Moments ad. */
  utm: { weight: 0.15, retention: 0.8, openGuide: 0.55 },
}

/** The channel codes printed on posters (made through `channel.createCode` as an admin). */
export const POSTER_CAMPAIGNS = [
  { campaign: 'metro-poster', weight: 0.5 },
  { campaign: 'store-poster', weight: 0.3 },
  { campaign: 'expo-standee', weight: 0.2 },
] as const

export const UTM_LINKS = [
  { scene: 1058, utm_source: 'official_account', utm_medium: 'article', utm_campaign: 'weekly-tips', toGuide: true, weight: 0.45 },
  { scene: 1035, utm_source: 'official_account', utm_medium: 'menu', utm_campaign: 'evergreen', toGuide: false, weight: 0.25 },
  { scene: 1045, utm_source: 'moments_ad', utm_medium: 'cpc', utm_campaign: 'spring-launch', toGuide: false, weight: 0.3 },
] as const

/** How returning users open the app (their session's last touch). */
export const RETURN_SCENES = [
  [1089, 0.35], // recently used (pull down on the chat list)
  [1001, 0.2], // discovery list
  [1104, 0.15], // "my mini-programs" favourites
  [1005, 0.1], // search again
  [1023, 0.05], // home-screen shortcut
  [1007, 0.1], // another share card (from the pool of shares)
  [1014, 0.05], // a subscription message
] as const

// ---- when users come back --------------------------------------------------------------------

/**
 * Chance that a user is active on exactly day n after the first (n >= 1): 0.22 · n^-0.55 gives
 * D1 22%, D7 7.4%, D30 3.4% — a typical content mini-program, where most visitors come once —
 * times the channel's multiplier.
 */
export function retention(n: number, multiplier: number): number {
  return Math.min(0.95, 0.22 * n ** -0.55 * multiplier)
}

/** New users per day grow by this share from the first day to the last. */
export const GROWTH = 0.5

/** Relative activity per hour of the day in Asia/Shanghai: quiet nights, lunch and evening peaks. */
export const HOUR_WEIGHTS = [2, 1, 0.6, 0.4, 0.4, 0.6, 1.5, 3.5, 5, 5, 5, 5.5, 7, 6.5, 5, 5, 5, 5.5, 6.5, 8, 9, 9.5, 8, 5]

/** Chance of one more session the same day (repeated: 1, 2, 3... sessions). */
export const EXTRA_SESSION = 0.15
export const MAX_SESSIONS_PER_DAY = 4
/** Chance the next session is a quick return, within minutes: the app is still alive (warm show, no launch). */
export const WARM_RETURN = 0.25

// ---- what users do in a session --------------------------------------------------------------

export const SESSION = {
  /** Another guide after coming back to the home page. */
  anotherGuide: 0.35,
  maxGuides: 5,
  /** A share from a guide, once read (most to a chat, some to Moments). */
  shareGuide: 0.1,
  shareToMoments: 0.15,
  /** A share of the home page. */
  shareHome: 0.02,
  /** The "me" page, and from there the entry back to the guides. */
  visitMe: 0.08,
  meEntry: 0.5,
  /** Landed on a guide (a share card, an article link): goes on to the home page. */
  guideToHome: 0.45,
  /** A script error in the session. */
  scriptError: 0.012,
  /** A content call that fails on the device's network (the guide does not open). */
  callFails: 0.02,
  /** A content call slower than the monitor's 1.5 s threshold. */
  slowCall: 0.03,
}

export const SCRIPT_ERRORS = [
  "TypeError: Cannot read property 'title' of undefined\n    at Component.onLoad (packages/guide/detail/index.js:42:17)",
  'RangeError: Maximum call stack size exceeded\n    at formatCount (core/format.js:12:5)',
  "TypeError: Cannot read property 'items' of null\n    at Component.applyPage (pages/home/index.js:118:33)",
]

export interface Guide {
  id: string
  category: string
  title: string
}

export const GUIDES: Guide[] = guides.guides.map((g) => ({ id: g._id, category: g.category, title: g.title }))

/** Popularity of the guides: a few are read much more than the rest (Zipf, s = 1). */
export const GUIDE_WEIGHTS: readonly (readonly [Guide, number])[] = GUIDES.map((g, i) => [g, 1 / (i + 1)] as const)

// ---- the app's pages (as the tracked-page behavior sees them) --------------------------------

export const PAGES = {
  home: 'pages/home/index',
  detail: 'packages/guide/detail/index',
  me: 'packages/me/index',
} as const
