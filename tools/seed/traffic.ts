/**
 * `npm run seed:traffic -- --users N --days D`: realistic usage over the last D days (Asia/Shanghai,
 * ending today), generated through the mini-program's REAL tracking code into a running local
 * cloud — for dashboards, analytics and benchmarks that need data with a known shape.
 *
 * Each simulated user is a device running the bundled device modules (tools/miniprogram/device.ts)
 * on a simulated clock: App.onLaunch/onShow/onHide as app.ts calls them (core/app-tracking.ts) with
 * launch options WeChat would pass (so attribution is parsed by the real code), pages wrapped by
 * the real tracked-page behavior (page views with referrers, taps, shares with the sharer added),
 * the monitor (script errors, failed and slow calls), and the tracker sending to the `track`
 * function as the user's own OPENID. Users arrive over the days from a mix of channels (search,
 * discovery, share cards with share chains, poster codes made by the `channel` function, utm
 * links) and come back following a retention curve (tools/seed/traffic-model.ts).
 *
 * Deterministic for a seed: the same users, channels, days, sessions and events (event ids and
 * anonymous ids are random, as on devices). At the end it checks the database: every event stored
 * exactly once, every user with a first-seen day equal to the day of its first event.
 *
 *   npm run seed:traffic -- --users 10000 --days 30 --seed 7 [--url http://127.0.0.1:8090] [--json]
 */
import { parseArgs } from 'node:util'
import type { ChannelCode, ChannelOutputs } from '../../cloudfunctions/channel/api'
import type { TrackedEvent } from '../../cloudfunctions/track/plan'
import { MAX_AGE_MS } from '../../cloudfunctions/track/validate'
import { addDays, dayStart, shanghaiDay } from '../../cloudfunctions/_shared/time'
import { CloudDatabase, callAction, defaultCloudUrl } from '../local-cloud/client'
import { Device, type DeviceCode, deviceTick, type EntryOptions, loadDeviceCode, type LocalReply, type PageInstance, SimClock, type TrackReply } from '../miniprogram/device'
import {
  around,
  between,
  chance,
  CHANNEL_MODEL,
  type Channel,
  CHANNELS,
  EXTRA_SESSION,
  GROWTH,
  type Guide,
  GUIDE_WEIGHTS,
  HOUR_WEIGHTS,
  MAX_SESSIONS_PER_DAY,
  PAGES,
  pick,
  POSTER_CAMPAIGNS,
  retention,
  RETURN_SCENES,
  type Rng,
  rngFor,
  SCRIPT_ERRORS,
  SESSION,
  UTM_LINKS,
  WARM_RETURN,
  weighted,
} from './traffic-model'

const MINUTE = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000
/** No session starts later than this before the end of its day (or before now): sessions stay on their day. */
const SESSION_ROOM = 45 * MINUTE
/** The device's timeout per cloud call, as core/config.ts sets it. */
const DEVICE_TIMEOUT_MS = 8000

export interface TrafficOptions {
  /** The local cloud (npm start). */
  url: string
  users: number
  /** 1-30: the last `days` days, ending today (Asia/Shanghai; yesterday in the first hour after midnight). */
  days: number
  seed?: number
  /** Devices simulated at once (each sends its batches in order; the cloud serves them in parallel). */
  concurrency?: number
  /**
   * Marks this run's users: up to 4 letters or digits (padded with 0 to 4); OPENIDs are
   * `dev-<tag><n, 8 base-36 digits>`. Default: from the seed. A tag whose users exist already is
   * refused (pick another, or reset the database).
   */
  tag?: string
  /** Caller of `channel.createCode`; made an admin (app_config `admins`) if it is not one. */
  admin?: string
  /** Count what was stored and check every user's first-seen day (default true). */
  verify?: boolean
  /** Return every generated event id (tests). */
  collectEventIds?: boolean
  /** The time the traffic ends at (default now; rounded down to the hour). */
  now?: number
  /** Progress lines (default: none). */
  log?: (line: string) => void
}

export interface GeneratedUser {
  openid: string
  anonymousId: string
  channel: Channel
  /** Day of the user's first event. */
  firstDay: string
  /** Days with events, in order (the first is firstDay). */
  activeDays: string[]
  sessions: number
  events: number
  /** Share arrivals: the OPENID of the user whose share card was opened. */
  sharedBy?: string
  /** Poster arrivals: the channel code scanned. */
  code?: string
  /** utm arrivals: utm_source. */
  utmSource?: string
}

export interface Rejected {
  openid: string
  id: string | null
  name: string | undefined
  reason: string
}

export interface TrafficSummary {
  seed: number
  tag: string
  days: string[]
  users: number
  /** Events generated (each sent until acknowledged; counted once). */
  events: number
  sessions: number
  coldStarts: number
  /** (user, day) pairs with activity. */
  activeUserDays: number
  eventsByName: Record<string, number>
  eventsByDay: Record<string, number>
  newUsersByDay: Record<string, number>
  activeUsersByDay: Record<string, number>
  usersByChannel: Record<Channel, number>
  /** Of the users whose day n is within the range, the share active on exactly day n. */
  retention: Record<'d1' | 'd7' | 'd30', { eligible: number; returned: number; rate: number | null }>
  /** Users reaching each step in order: home page view → guide view → content_open → share. */
  funnel: { homeView: number; guideView: number; contentOpen: number; share: number }
  channelCodes: { code: string; campaign: string }[]
  trackCalls: number
  /** Calls that failed on the way (retried by the tracker). */
  failedCalls: number
  /** Events the cloud reported as already stored (a retried batch whose reply was lost). */
  duplicates: number
  rejected: Rejected[]
  /** What the database holds for this run's users (null without verify). */
  stored: { events: number; users: number; firstSeenDayMismatches: string[]; missingUsers: string[] } | null
  /** True when nothing was rejected or lost and every user's first-seen day is right. */
  ok: boolean
  elapsedMs: number
  eventsPerSecond: number
  usersPerSecond: number
  userList: GeneratedUser[]
  eventIds?: string[]
}

// ---- the users and their days ------------------------------------------------------------------

interface SimUser {
  index: number
  openid: string
  channel: Channel
  arrival: number
  /** Day indexes (0 = oldest) the user is active on, the arrival first. */
  activeDays: number[]
  rng: Rng
  storage: Map<string, unknown>
  record: GeneratedUser
  dayIndexes: Set<number>
  /** Funnel step reached (0-4). */
  step: number
}

interface SharedCard {
  from: SimUser
  path: string
  query: Record<string, string>
}

/** Splits `total` over weights exactly (largest remainder). */
function apportion(total: number, weights: number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0)
  const raw = weights.map((w) => (total * w) / sum)
  const counts = raw.map(Math.floor)
  const order = raw.map((r, i) => [r - Math.floor(r), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1])
  const short = total - counts.reduce((a, b) => a + b, 0)
  for (let k = 0; k < short; k++) counts[order[k]![1]]!++
  return counts
}

/** Characters of the run's tag in each OPENID (`dev-` + tag + 8 for the user's number = the 12 of a local-mode OPENID). */
const TAG_LENGTH = 4

function defaultTag(seed: number): string {
  return (Math.abs(Math.trunc(seed)) % 36 ** TAG_LENGTH).toString(36)
}

function planUsers(seed: number, users: number, days: number, tag: string): SimUser[] {
  const perDay = apportion(users, Array.from({ length: days }, (_, d) => 1 + (days > 1 ? (GROWTH * d) / (days - 1) : 0)))
  const width = 12 - TAG_LENGTH
  const channelWeights = CHANNELS.map((c) => [c, CHANNEL_MODEL[c].weight] as const)
  const list: SimUser[] = []
  perDay.forEach((count, arrival) => {
    for (let k = 0; k < count; k++) {
      const index = list.length
      const rng = rngFor(seed, `user/${index}`)
      const channel = weighted(rng, channelWeights)
      const activeDays = [arrival]
      for (let n = 1; arrival + n < days; n++) if (chance(rng, retention(n, CHANNEL_MODEL[channel].retention))) activeDays.push(arrival + n)
      const openid = `dev-${tag}${index.toString(36).padStart(width, '0')}`
      list.push({
        index,
        openid,
        channel,
        arrival,
        activeDays,
        rng,
        storage: new Map(),
        record: { openid, anonymousId: '', channel, firstDay: '', activeDays: [], sessions: 0, events: 0 },
        dayIndexes: new Set(),
        step: 0,
      })
    }
  })
  return list
}

/** A start time in [lo, hi], following the hour-of-day profile (Asia/Shanghai). */
function sessionStart(rng: Rng, dayStartMs: number, lo: number, hi: number): number {
  if (hi <= lo) return lo
  const slots: (readonly [[number, number], number])[] = []
  HOUR_WEIGHTS.forEach((w, h) => {
    const a = Math.max(lo, dayStartMs + h * HOUR)
    const b = Math.min(hi, dayStartMs + (h + 1) * HOUR)
    if (b > a) slots.push([[a, b], (w * (b - a)) / HOUR])
  })
  const [a, b] = weighted(rng, slots)
  return Math.floor(a + rng() * (b - a))
}

function parsePath(path: string): { path: string; query: Record<string, string> } {
  const [route = '', search = ''] = path.replace(/^\//, '').split('?')
  return { path: route, query: Object.fromEntries(new URLSearchParams(search)) }
}

// ---- the generator -------------------------------------------------------------------------------

class Generator {
  readonly seed: number
  readonly tag: string
  readonly dayList: string[]
  readonly users: SimUser[]
  private code!: DeviceCode
  private codes: ChannelCode[] = []
  /** Share cards sent on days already simulated (what new share arrivals open). */
  private cards: SharedCard[] = []
  private cardsToday: { user: SimUser; order: number; card: SharedCard }[] = []
  private readonly startedAt: number
  /**
   * The simulated "now": the start of the current hour. Generated times depend on it (today ends
   * there, the 30-day window starts from it), so a seed gives the same traffic all hour long.
   */
  private readonly simNow: number
  readonly summary: Omit<TrafficSummary, 'retention' | 'funnel' | 'stored' | 'ok' | 'elapsedMs' | 'eventsPerSecond' | 'usersPerSecond' | 'userList'>

  constructor(readonly options: TrafficOptions) {
    if (!Number.isInteger(options.users) || options.users < 1) throw new Error(`users must be a positive integer, got ${options.users}`)
    if (!Number.isInteger(options.days) || options.days < 1 || options.days > 30) throw new Error(`days must be 1-30 (the track function refuses events older than 30 days), got ${options.days}`)
    this.seed = options.seed ?? 1
    if (!Number.isSafeInteger(this.seed)) throw new Error(`seed must be an integer, got ${this.seed}`)
    const tag = options.tag ?? defaultTag(this.seed)
    if (!/^[a-z0-9]{1,4}$/.test(tag)) throw new Error(`tag must be 1-4 lower-case letters or digits, got ${tag}`)
    // A fixed width: OPENIDs of two tags can never be equal, and a tag's users are exactly those starting dev-<tag>.
    this.tag = tag.padStart(TAG_LENGTH, '0')
    this.startedAt = Date.now()
    const now = options.now ?? this.startedAt
    // Events must reach the cloud inside its window: not in the future, not older than 30 days.
    if (now > this.startedAt + MINUTE || now < this.startedAt - 30 * MINUTE) throw new Error('now must be the current time (within the last 30 minutes)')
    this.simNow = Math.floor(now / HOUR) * HOUR
    // The day the traffic ends on: today, or yesterday in the first hour after midnight (today has no time yet).
    const today = shanghaiDay(new Date(this.simNow - 1))
    this.dayList = Array.from({ length: options.days }, (_, d) => addDays(today, d - (options.days - 1)))
    this.users = planUsers(this.seed, options.users, options.days, this.tag)
    this.summary = {
      seed: this.seed,
      tag: this.tag,
      days: this.dayList,
      users: options.users,
      events: 0,
      sessions: 0,
      coldStarts: 0,
      activeUserDays: 0,
      eventsByName: {},
      eventsByDay: Object.fromEntries(this.dayList.map((d) => [d, 0])),
      newUsersByDay: Object.fromEntries(this.dayList.map((d) => [d, 0])),
      activeUsersByDay: Object.fromEntries(this.dayList.map((d) => [d, 0])),
      usersByChannel: Object.fromEntries(CHANNELS.map((c) => [c, 0])) as Record<Channel, number>,
      channelCodes: [],
      trackCalls: 0,
      failedCalls: 0,
      duplicates: 0,
      rejected: [],
      ...(options.collectEventIds ? { eventIds: [] as string[] } : {}),
    }
  }

  private log(line: string): void {
    this.options.log?.(line)
  }

  async run(): Promise<TrafficSummary> {
    const db = new CloudDatabase(this.options.url)
    const taken = await db.count('users', { _id: { $regularExpression: { pattern: `^dev-${this.tag}`, options: '' } } })
    if (taken > 0) throw new Error(`the database already has ${taken} users of tag "${this.tag}" (a previous run with this seed): pass another --tag, or start the local cloud with --reset`)
    this.code = await loadDeviceCode()
    this.codes = await this.posterCodes(db)
    this.summary.channelCodes = this.codes.map((c) => ({ code: c.code, campaign: c.campaign }))

    for (let d = 0; d < this.dayList.length; d++) {
      const dayStartedAt = Date.now()
      const eventsBefore = this.summary.events
      const active = this.users.filter((u) => u.activeDays.includes(d))
      await this.inParallel(active, (u) => this.userDay(u, d))
      // Today's shares can be opened from tomorrow on, in a fixed order (the simulation ran concurrently).
      this.cardsToday.sort((a, b) => a.user.index - b.user.index || a.order - b.order)
      this.cards.push(...this.cardsToday.map((c) => c.card))
      this.cardsToday = []
      const events = this.summary.events - eventsBefore
      this.log(
        `${this.dayList[d]}: ${active.length} users active (${this.summary.newUsersByDay[this.dayList[d]!]} new), ${events} events, ` +
          `${Math.round(events / Math.max(0.001, (Date.now() - dayStartedAt) / 1000))} events/s`,
      )
    }
    const generatedAt = Date.now()
    const stored = this.options.verify === false ? null : await this.verify(db)
    return this.finish(stored, generatedAt)
  }

  /** At most `concurrency` users at a time, in order. */
  private async inParallel(users: SimUser[], fn: (u: SimUser) => Promise<void>): Promise<void> {
    let next = 0
    const lanes = Math.max(1, Math.min(this.options.concurrency ?? 12, users.length))
    await Promise.all(
      Array.from({ length: lanes }, async () => {
        while (next < users.length) await fn(users[next++]!)
      }),
    )
  }

  /** The poster codes: the campaigns' existing codes, or new ones made through `channel.createCode`. */
  private async posterCodes(db: CloudDatabase): Promise<ChannelCode[]> {
    const admin = this.options.admin ?? 'seed-traffic-admin'
    let listed = await callAction<ChannelOutputs['listCodes']>(this.options.url, 'channel', 'listCodes', { channel: 'poster' }, admin)
    if (!listed.ok && listed.error.code === 'FORBIDDEN') {
      const doc = await db.get<{ openids?: string[] }>('app_config', 'admins')
      if (!doc) await db.insert('app_config', [{ _id: 'admins', openids: [admin] }])
      else await db.update('app_config', { _id: 'admins' }, { openids: [...(doc.openids ?? []), admin] })
      this.log(`made ${admin} an admin (app_config "admins") to create the poster codes`)
      listed = await callAction<ChannelOutputs['listCodes']>(this.options.url, 'channel', 'listCodes', { channel: 'poster' }, admin)
    }
    if (!listed.ok) throw new Error(`channel.listCodes: ${listed.error.code} ${listed.error.message}`)
    const codes: ChannelCode[] = []
    for (const { campaign } of POSTER_CAMPAIGNS) {
      let code = listed.data.items.find((c) => c.campaign === campaign && c.page === PAGES.home)
      if (!code) {
        const made = await callAction<ChannelOutputs['createCode']>(this.options.url, 'channel', 'createCode', { channel: 'poster', campaign, page: PAGES.home, note: 'seed:traffic' }, admin)
        if (!made.ok) throw new Error(`channel.createCode: ${made.error.code} ${made.error.message}`)
        code = made.data
        this.log(`created channel code ${code.code} (poster, ${campaign})`)
      }
      codes.push(code)
    }
    return codes
  }

  // ---- one user's day ---------------------------------------------------------------------------

  private async userDay(u: SimUser, d: number): Promise<void> {
    const rng = u.rng
    const dayStartMs = dayStart(this.dayList[d]!).getTime()
    // Inside the track function's 30-day window (with an hour or more to spare for the run), never in the future.
    const lo = Math.max(dayStartMs, this.simNow - MAX_AGE_MS + 2 * HOUR)
    const latestStart = Math.max(lo, Math.min(dayStartMs + DAY, this.simNow) - SESSION_ROOM)
    const clock = new SimClock(sessionStart(rng, dayStartMs, lo, latestStart), Math.min(dayStartMs + DAY - 1, this.simNow - 1000))
    const seen = new Set<string>()
    let device: Device | undefined
    let app: AppRun | undefined
    for (let session = 0; ; session++) {
      if (!app || !device) {
        device = new Device(this.code, {
          storage: u.storage,
          clock,
          url: this.options.url,
          openid: u.openid,
          // Sessions end with a flush (app_hide); no timer flushes in between.
          tracker: { flushAt: 50, maxBatch: 50, flushIntervalMs: HOUR },
          timeoutMs: DEVICE_TIMEOUT_MS,
          answer: (fn, event) => this.answer(rng, fn, event),
          onTrackReply: (reply) => this.onTrackReply(u, reply, seen),
        })
        app = new AppRun(device, rng)
        await app.coldStart(this.entry(u, d, session, rng))
      } else {
        await app.warmShow({ path: app.currentRoute(), scene: 1089, query: {} })
      }
      u.record.anonymousId ||= device.modules.anonymousId()
      const entryPage = app.currentRoute()
      const guideFirst = entryPage === PAGES.detail
      await app.browse(u.arrival === d && session === 0 ? CHANNEL_MODEL[u.channel].openGuide : 0.6, guideFirst, (card) => {
        this.cardsToday.push({ user: u, order: this.cardsToday.length, card: { from: u, ...card } })
      })
      device.advance(around(rng, 4000))
      device.hide()
      await device.settle()
      u.record.sessions++
      if (session + 1 >= MAX_SESSIONS_PER_DAY || !chance(rng, EXTRA_SESSION)) break
      const warm = chance(rng, WARM_RETURN)
      const next = Math.round(clock.now + (warm ? between(rng, 30_000, 4 * MINUTE) : between(rng, 20 * MINUTE, 6 * HOUR)))
      if (next > latestStart) break
      if (warm) device.advance(next - clock.now)
      else {
        device.kill()
        app = undefined
        clock.now = next
      }
    }
    device?.kill()
  }

  /** Launch options of a cold start: the user's channel on the first one, a returning scene later. */
  private entry(u: SimUser, d: number, session: number, rng: Rng): EntryOptions {
    const home: EntryOptions = { path: PAGES.home, scene: 1001, query: {} }
    if (u.arrival !== d || session > 0) {
      const scene = weighted(rng, RETURN_SCENES)
      if (scene === 1007) {
        const card = this.recentCard(rng, u)
        if (card) return { path: card.path, scene, query: { ...card.query } }
        return { ...home, scene: 1089 }
      }
      return { ...home, scene }
    }
    switch (u.channel) {
      case 'search':
        return { ...home, scene: chance(rng, 0.6) ? 1005 : 1006 }
      case 'discovery':
        return home
      case 'share': {
        const card = this.recentCard(rng, u)
        if (card) {
          u.record.sharedBy = card.from.openid
          return { path: card.path, scene: 1007, query: { ...card.query } }
        }
        // Nobody has shared yet (the first day): this user found the app by searching.
        u.channel = u.record.channel = 'search'
        return { ...home, scene: 1005 }
      }
      case 'poster': {
        const campaign = weighted(rng, POSTER_CAMPAIGNS.map((c) => [c.campaign, c.weight] as const))
        const code = this.codes.find((c) => c.campaign === campaign)!
        u.record.code = code.code
        // A mini-program code from wxacode.getUnlimited: its page, and its scene string in query.scene.
        return { path: code.page, scene: 1047, query: { scene: code.code } }
      }
      case 'utm': {
        const link = weighted(rng, UTM_LINKS.map((l) => [l, l.weight] as const))
        u.record.utmSource = link.utm_source
        const utm = { utm_source: link.utm_source, utm_medium: link.utm_medium, utm_campaign: link.utm_campaign }
        if (link.toGuide) return { path: PAGES.detail, scene: link.scene, query: { id: weighted(rng, GUIDE_WEIGHTS).id, ...utm } }
        return { path: PAGES.home, scene: link.scene, query: utm }
      }
    }
  }

  /** A share card from the last days (not one of the user's own). */
  private recentCard(rng: Rng, u: SimUser): SharedCard | undefined {
    const recent = this.cards.slice(-2000)
    for (let attempt = 0; attempt < 3 && recent.length > 0; attempt++) {
      const card = pick(rng, recent)
      if (card.from !== u) return card
    }
    return undefined
  }

  /** The content function as the device sees it: answered on the device, slow or failing at times. */
  private answer(rng: Rng, fn: string, event: { action: string; data: unknown }): LocalReply | undefined {
    if (fn !== 'content') return undefined
    if (event.action === 'detail' && chance(rng, SESSION.callFails)) {
      return chance(rng, 0.7) ? { failure: 'request:fail timeout', latencyMs: DEVICE_TIMEOUT_MS } : { failure: 'request:fail network error', latencyMs: around(rng, 900) }
    }
    const latencyMs = chance(rng, SESSION.slowCall) ? between(rng, 1600, 4000) : around(rng, 180, 0.5)
    if (event.action === 'detail') {
      const id = (event.data as { id: string }).id
      return { result: { ok: true, data: { id, views: 0, body: [] } }, latencyMs }
    }
    return { result: { ok: true, data: { items: [], nextCursor: null } }, latencyMs }
  }

  // ---- what reached the cloud -------------------------------------------------------------------

  private onTrackReply(u: SimUser, reply: TrackReply, seen: Set<string>): void {
    const s = this.summary
    s.trackCalls++
    if (reply.status !== 200 || !reply.result) {
      s.failedCalls++
      return
    }
    if (!reply.result.ok) {
      s.failedCalls++
      s.rejected.push({ openid: u.openid, id: null, name: undefined, reason: `${reply.result.error.code}: ${reply.result.error.message}` })
      return
    }
    const { rejected, duplicates } = reply.result.data
    s.duplicates += duplicates
    for (const r of rejected) s.rejected.push({ openid: u.openid, id: r.id, name: reply.events[r.index]?.name, reason: r.reason })
    for (const e of reply.events) {
      if (seen.has(e.id)) continue
      seen.add(e.id)
      this.count(u, e)
    }
  }

  /** One generated event (counted the first time it is sent). */
  private count(u: SimUser, e: TrackedEvent): void {
    const s = this.summary
    const day = shanghaiDay(new Date(e.ts))
    s.events++
    s.eventsByName[e.name] = (s.eventsByName[e.name] ?? 0) + 1
    s.eventsByDay[day] = (s.eventsByDay[day] ?? 0) + 1
    s.eventIds?.push(e.id)
    const r = u.record
    r.events++
    if (!r.firstDay) {
      r.firstDay = day
      s.newUsersByDay[day] = (s.newUsersByDay[day] ?? 0) + 1
      s.usersByChannel[u.channel]++
    }
    if (r.activeDays[r.activeDays.length - 1] !== day) {
      r.activeDays.push(day)
      s.activeUserDays++
      s.activeUsersByDay[day] = (s.activeUsersByDay[day] ?? 0) + 1
      u.dayIndexes.add(this.dayList.indexOf(day))
    }
    if (e.name === 'app_show') s.sessions++
    if (e.name === 'app_launch') s.coldStarts++
    const step =
      e.name === 'page_view' && e.page === PAGES.home ? 1 : e.name === 'page_view' && e.page === PAGES.detail ? 2 : e.name === 'content_open' ? 3 : e.name === 'share' ? 4 : 0
    if (step === u.step + 1) u.step = step
  }

  // ---- checking the database -------------------------------------------------------------------

  private async verify(db: CloudDatabase): Promise<NonNullable<TrafficSummary['stored']>> {
    const mine = { $regularExpression: { pattern: `^dev-${this.tag}`, options: '' } }
    const events = await db.count('events', { openid: mine })
    const firstSeenDayMismatches: string[] = []
    const missingUsers: string[] = []
    let users = 0
    for (let i = 0; i < this.users.length; i += 500) {
      const batch = this.users.slice(i, i + 500)
      const docs = await db.find<{ _id: string; firstSeenDay?: string }>('users', { _id: { $in: batch.map((u) => u.openid) } }, { projection: { firstSeenDay: 1 } })
      const byId = new Map(docs.map((doc) => [doc._id, doc]))
      users += docs.length
      for (const u of batch) {
        const doc = byId.get(u.openid)
        if (!doc) missingUsers.push(u.openid)
        else if (doc.firstSeenDay !== u.record.firstDay) firstSeenDayMismatches.push(`${u.openid}: stored ${doc.firstSeenDay}, first event on ${u.record.firstDay}`)
      }
    }
    return { events, users, firstSeenDayMismatches, missingUsers }
  }

  private finish(stored: TrafficSummary['stored'], generatedAt: number): TrafficSummary {
    const s = this.summary
    const rate = (n: number) => {
      const eligible = this.users.filter((u) => u.arrival + n < this.dayList.length)
      const returned = eligible.filter((u) => u.dayIndexes.has(u.arrival + n)).length
      return { eligible: eligible.length, returned, rate: eligible.length ? returned / eligible.length : null }
    }
    const reached = (step: number) => this.users.filter((u) => u.step >= step).length
    const elapsedMs = generatedAt - this.startedAt
    const ok =
      s.rejected.length === 0 &&
      (!stored || (stored.events === s.events && stored.users === s.users && stored.firstSeenDayMismatches.length === 0 && stored.missingUsers.length === 0))
    return {
      ...s,
      retention: { d1: rate(1), d7: rate(7), d30: rate(30) },
      funnel: { homeView: reached(1), guideView: reached(2), contentOpen: reached(3), share: reached(4) },
      stored,
      ok,
      elapsedMs,
      eventsPerSecond: Math.round(s.events / Math.max(0.001, elapsedMs / 1000)),
      usersPerSecond: Math.round(s.users / Math.max(0.001, elapsedMs / 1000)),
      userList: this.users.map((u) => u.record),
    }
  }
}

// ---- one app instance: the pages and what the user does on them ---------------------------------

const tap = (track: string, data: Record<string, string> = {}) => ({ type: 'tap', currentTarget: { dataset: { ...data, track } } })

/**
 * The app as the user moves through it. The pages' own methods mirror miniprogram/pages/home,
 * packages/guide/detail and packages/me (share paths, tap handlers); the tracked-page behavior
 * wrapping them is the real one.
 */
class AppRun {
  private stack: PageInstance[] = []

  constructor(
    readonly device: Device,
    readonly rng: Rng,
  ) {}

  currentRoute(): string {
    return this.stack[this.stack.length - 1]?.route ?? PAGES.home
  }

  private wait(median: number, spread = 0.6): void {
    this.device.advance(around(this.rng, median, spread))
  }

  private homePage(): PageInstance {
    return this.device.page(PAGES.home, {}, {
      onShow() {},
      onShareAppMessage: () => ({ title: '实用指南', path: '/pages/home/index' }),
      openGuide() {},
      openMe() {},
    })
  }

  private detailPage(guide: Guide): PageInstance {
    return this.device.page(PAGES.detail, { id: guide.id }, {
      onShow() {},
      onShareAppMessage: () => ({ title: guide.title, path: `/packages/guide/detail/index?id=${guide.id}` }),
      onShareTimeline: () => ({ title: `${guide.title}｜实用指南`, query: `id=${guide.id}` }),
      goHome() {},
    })
  }

  private mePage(): PageInstance {
    return this.device.page(PAGES.me, {}, { onShow() {}, openEntry() {} })
  }

  /** The home page loads (its list comes from the content function) and shows. */
  private async openHome(): Promise<PageInstance> {
    const home = this.homePage()
    this.stack = [home]
    home.methods.onShow!()
    await this.device.modules.api.content.list({ limit: 10 }).catch(() => undefined)
    return home
  }

  /** A guide page loads and shows; content_open once the guide has loaded, as the page does. */
  private async openGuide(guide: Guide): Promise<PageInstance> {
    const page = this.detailPage(guide)
    this.stack.push(page)
    page.methods.onShow!()
    try {
      await this.device.modules.api.content.detail({ id: guide.id })
      this.device.modules.track('content_open', { guideId: guide.id, category: guide.category })
    } catch {
      // the failed call is reported by the monitor (cloud_call_failed); the page shows its error state
    }
    return page
  }

  async coldStart(entry: EntryOptions): Promise<void> {
    this.device.launch(entry)
    this.device.show(entry)
    // The privacy answer (the user has agreed) arrives before the first page shows.
    await deviceTick()
    this.device.advance(between(this.rng, 300, 1500))
    const id = entry.query?.id
    const guide = entry.path === PAGES.detail ? GUIDE_WEIGHTS.find(([g]) => g.id === id)?.[0] : undefined
    if (guide) await this.openGuide(guide)
    else await this.openHome()
  }

  async warmShow(entry: EntryOptions): Promise<void> {
    this.device.show(entry)
    await deviceTick()
    this.stack[this.stack.length - 1]?.methods.onShow!()
  }

  /** Reading a guide: time on the page, maybe a share (its path carries the sharer). */
  private read(page: PageInstance, onCard: (card: { path: string; query: Record<string, string> }) => void): void {
    this.wait(60_000, 0.7)
    if (!chance(this.rng, SESSION.shareGuide)) return
    this.wait(3000)
    if (chance(this.rng, SESSION.shareToMoments)) {
      page.methods.onShareTimeline!()
      return
    }
    const shared = page.methods.onShareAppMessage!() as { path: string }
    onCard(parsePath(shared.path))
  }

  /** A session's pages: guides from the home page, a visit to "me", shares, maybe a script error. */
  async browse(openGuide: number, guideFirst: boolean, onCard: (card: { path: string; query: Record<string, string> }) => void): Promise<void> {
    const rng = this.rng
    const errorAt = chance(rng, SESSION.scriptError) ? Math.floor(rng() * 3) : -1
    let home: PageInstance | undefined
    let wantGuide = openGuide
    if (guideFirst) {
      const page = this.stack[this.stack.length - 1]!
      this.read(page, onCard)
      if (!chance(rng, SESSION.guideToHome)) return
      this.wait(2000)
      page.methods.goHome!(tap('guide_more'))
      // reLaunch: the guide page is gone, the home page loads.
      home = await this.openHome()
      wantGuide = openGuide * 0.6
    } else {
      home = this.stack[0]?.route === PAGES.home ? this.stack[0] : await this.openHome()
    }
    if (errorAt === 0) this.device.scriptError(pick(rng, SCRIPT_ERRORS))
    this.wait(8000)
    if (chance(rng, SESSION.visitMe)) {
      home.methods.openMe!(tap('home_me'))
      const me = this.mePage()
      this.stack.push(me)
      me.methods.onShow!()
      this.wait(6000)
      if (chance(rng, SESSION.meEntry)) {
        me.methods.openEntry!({ type: 'click', currentTarget: { dataset: { url: '/pages/home/index', track: 'me_entry' } } })
        home = await this.openHome()
      } else {
        this.stack.pop()
        home.methods.onShow!()
      }
      this.wait(3000)
    }
    for (let guides = 0; guides < SESSION.maxGuides && chance(rng, guides === 0 ? wantGuide : SESSION.anotherGuide); guides++) {
      const guide = weighted(rng, GUIDE_WEIGHTS)
      home.methods.openGuide!(tap('home_card', { id: guide.id }))
      this.device.advance(between(rng, 300, 900))
      const page = await this.openGuide(guide)
      if (errorAt === 1 && guides === 0) this.device.scriptError(pick(rng, SCRIPT_ERRORS))
      this.read(page, onCard)
      // Back to the list.
      this.wait(1500)
      this.stack.pop()
      home.methods.onShow!()
      this.wait(5000)
    }
    if (chance(rng, SESSION.shareHome)) {
      const shared = home.methods.onShareAppMessage!() as { path: string }
      onCard(parsePath(shared.path))
    }
    if (errorAt === 2) this.device.scriptError(pick(rng, SCRIPT_ERRORS))
  }
}

export async function generateTraffic(options: TrafficOptions): Promise<TrafficSummary> {
  return new Generator(options).run()
}

// ---- the command ---------------------------------------------------------------------------------

const HELP = `Usage: npm run seed:traffic -- --users <n> --days <d> [options]

Simulates users of the mini-program over the last <d> days (1-30, ending today, Asia/Shanghai)
through the real tracking code into a running local cloud (npm start).

  --users <n>        users to simulate (they arrive over the days)
  --days <d>         days of history, 1-30
  --seed <n>         random seed (default 1): the same seed generates the same traffic
  --url <url>        local cloud (default ${defaultCloudUrl()}; LOCAL_CLOUD_PORT changes the port)
  --concurrency <n>  devices simulated at once (default 12)
  --tag <id>         marks this run's users: up to 4 letters or digits (OPENIDs dev-<tag>...; default from the seed)
  --admin <openid>   caller that creates the poster codes (made an admin if needed)
  --no-verify        skip counting what was stored
  --json             print the summary as JSON (without the user list)
`

function table(rows: Record<string, number>): string {
  return Object.entries(rows)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      users: { type: 'string' },
      days: { type: 'string' },
      seed: { type: 'string', default: '1' },
      url: { type: 'string' },
      concurrency: { type: 'string', default: '12' },
      tag: { type: 'string' },
      admin: { type: 'string' },
      'no-verify': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help || !values.users || !values.days) {
    console.log(HELP)
    return values.help ? 0 : 2
  }
  const url = (values.url ?? defaultCloudUrl()).replace(/\/$/, '')
  try {
    await fetch(`${url}/_/health`)
  } catch {
    console.error(`No local cloud at ${url}: start one with npm start (or pass --url).`)
    return 1
  }
  const summary = await generateTraffic({
    url,
    users: Number(values.users),
    days: Number(values.days),
    seed: Number(values.seed),
    concurrency: Number(values.concurrency),
    tag: values.tag,
    admin: values.admin,
    verify: !values['no-verify'],
    log: values.json ? undefined : (line) => console.log(line),
  })
  if (values.json) {
    const { userList: _users, ...rest } = summary
    console.log(JSON.stringify(rest, null, 2))
  } else {
    const pct = (r: { rate: number | null; eligible: number }) => (r.rate === null ? 'n/a (no user old enough)' : `${(r.rate * 100).toFixed(1)}% of ${r.eligible}`)
    const st = summary.stored
    console.log(`
Generated ${summary.users} users over ${summary.days.length} days (${summary.days[0]} .. ${summary.days[summary.days.length - 1]}), seed ${summary.seed}, OPENIDs dev-${summary.tag}...
  events    ${summary.events} in ${summary.sessions} sessions (${summary.coldStarts} cold starts), ${summary.trackCalls} track calls (${(summary.events / Math.max(1, summary.trackCalls)).toFixed(1)} events per call)
  by name   ${table(summary.eventsByName)}
  channels  ${table(summary.usersByChannel)}   (poster codes: ${summary.channelCodes.map((c) => `${c.code} ${c.campaign}`).join(', ')})
  new users ${table(summary.newUsersByDay)}
  retention D1 ${pct(summary.retention.d1)}, D7 ${pct(summary.retention.d7)}, D30 ${pct(summary.retention.d30)}
  funnel    home view ${summary.funnel.homeView} → guide view ${summary.funnel.guideView} → content_open ${summary.funnel.contentOpen} → share ${summary.funnel.share}
  delivery  ${summary.rejected.length} rejected, ${summary.duplicates} duplicates (retried batches), ${summary.failedCalls} failed calls (retried)
  stored    ${st ? `${st.events} events, ${st.users} users (${st.missingUsers.length} missing, ${st.firstSeenDayMismatches.length} with a wrong first-seen day)` : 'not checked (--no-verify)'}
  elapsed   ${(summary.elapsedMs / 1000).toFixed(1)} s: ${summary.usersPerSecond} users/s, ${summary.eventsPerSecond} events/s
`)
  }
  if (!summary.ok) {
    for (const r of summary.rejected.slice(0, 10)) console.error(`rejected ${r.name ?? '?'} ${r.id ?? ''} of ${r.openid}: ${r.reason}`)
    if (summary.stored && summary.stored.events !== summary.events) console.error(`${summary.events} events generated, ${summary.stored.events} stored`)
    for (const line of [...(summary.stored?.missingUsers ?? []), ...(summary.stored?.firstSeenDayMismatches ?? [])].slice(0, 10)) console.error(`user ${line}`)
    return 1
  }
  return 0
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err)
      process.exit(1)
    },
  )
}
