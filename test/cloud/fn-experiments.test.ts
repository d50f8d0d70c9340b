/**
 * The `experiments` function through the gateway, against a real local cloud: the config devices
 * get (defaults, invalid documents left out, overrides only for their own user, isNew / channel),
 * admin validation and saving (every kind of bad input refused, nothing written), and results
 * rolled up from exposure and goal events sent through the real `track` function, checked against
 * an independent count made here with plain loops (multiple exposures, conversion window edges,
 * overrides, stop time), idempotence, SRM on a broken split, the timer, and cost.
 */
import type { ClientConfig, ExperimentResults, ExperimentsOutputs, ListedDoc } from '../../cloudfunctions/experiments/api'
import { DEFAULT_DOCS, HOME_VALUE_COPY } from '../../cloudfunctions/experiments/defaults'
import { analyze } from '../../cloudfunctions/experiments/stats'
import { assignVariant } from '../../miniprogram/core/bucketing'
import { uuidv7 } from '../../miniprogram/core/uuid'
import type { DeviceEvent } from '../helpers/events'
import { shanghaiDayOf } from '../helpers/events'
import { callAction, callGateway, startCloud, type TestCloud } from '../helpers/local-cloud'
import { prng } from '../helpers/prng'

jest.setTimeout(180_000)

const ADMIN = 'o-exp-admin'
const QA = 'o-exp-qa'
const USER = 'o-exp-user'
const DAY = 86_400_000
const HOME = 'pages/home/index'

let t: TestCloud
type Doc = Record<string, unknown>

beforeAll(async () => {
  t = await startCloud()
  t.cloud.store.insert('app_config', [{ _id: 'admins', openids: [ADMIN] }])
})
afterAll(() => t.stop())

async function call<K extends keyof ExperimentsOutputs>(action: K, data: unknown = {}, openid = ADMIN): Promise<ExperimentsOutputs[K]> {
  const reply = await callAction<ExperimentsOutputs[K]>(t.url, 'experiments', action, data, openid)
  if (!reply.ok) throw new Error(`${action}: ${JSON.stringify(reply.error)}`)
  return reply.data
}

async function failure(action: keyof ExperimentsOutputs, data: unknown, openid = ADMIN) {
  const reply = await callAction(t.url, 'experiments', action, data, openid)
  if (reply.ok) throw new Error(`${action} succeeded: ${JSON.stringify(reply.data)}`)
  return reply.error
}

const storedDocs = () => t.cloud.store.find('experiments', { query: {}, limit: 1000 }).map((d) => JSON.stringify(d)).sort()

function experiment(key: string, over: Doc = {}): Doc {
  return {
    _id: key,
    kind: 'experiment',
    name: '测试实验',
    hypothesis: 'If we change it, more people convert.',
    variants: [
      { key: 'control', name: '对照', weight: 0.5 },
      { key: 'b', name: 'B', weight: 0.5 },
    ],
    coverage: 1,
    goal: { event: 'content_open', withinDays: 3 },
    status: 'draft',
    ...over,
  }
}

function flag(key: string, over: Doc = {}): Doc {
  return { _id: key, kind: 'flag', description: '', type: 'boolean', defaultValue: false, rules: [], enabled: true, ...over }
}

// ---- config -------------------------------------------------------------------------------------

describe('config', () => {
  test('with nothing stored: the repo defaults, control first; the caller as id; new when not seen', async () => {
    const config = await call('config', {}, USER)
    expect(config.experiments).toEqual([
      {
        key: 'home_value_copy',
        variants: [
          { key: 'control', weight: 0.5, value: '每天 3 分钟，学一个马上用得上的生活技巧' },
          { key: 'b', weight: 0.5, value: '3 分钟一篇，今天就能用上的生活技巧' },
        ],
        coverage: 1,
      },
    ])
    expect(config.flags).toEqual([{ key: 'home_show_read_count', type: 'boolean', defaultValue: true, rules: [] }])
    expect(config.me).toEqual({ id: USER, isNew: true, forced: {} })
    expect(config.version).toMatch(/^[0-9a-z]+$/)
  })

  test('every default is a valid document', async () => {
    const result = await call('validate', { docs: DEFAULT_DOCS })
    expect(result).toEqual({ valid: true, docs: DEFAULT_DOCS.map((d) => ({ key: d._id, valid: true, issues: [] })) })
  })

  test('stored documents: invalid ones, drafts and stopped experiments left out; overrides only for that user', async () => {
    // As an admin might type them in the console, bypassing `save`.
    t.cloud.store.insert('experiments', [
      experiment('cfg_running', { status: 'running', startedAt: new Date(), overrides: { [QA]: 'b', 'o-someone-else': 'control' }, targeting: { platforms: ['ios', 'android'], percentage: 50 } }),
      experiment('cfg_bad_weights', { status: 'running', variants: [{ key: 'control', name: '对照', weight: 0.6 }, { key: 'b', name: 'B', weight: 0.6 }] }),
      experiment('cfg_draft'),
      experiment('cfg_stopped', { status: 'stopped', startedAt: new Date(Date.now() - DAY), stoppedAt: new Date() }),
      flag('cfg_flag_bad_type', { defaultValue: 'yes' }),
      flag('cfg_flag_off', { enabled: false, rules: [{ when: { newUsers: true }, value: true }] }),
      flag('cfg_flag_on', { type: 'number', defaultValue: 3, rules: [{ when: { channels: ['poster'], minSdk: '2.32.0' }, value: 5 }] }),
      { _id: 'cfg_no_kind', note: 'half-typed in the console' },
    ])
    const plain = await call('config', {}, USER)
    expect(plain.experiments.map((e) => e.key)).toEqual(['cfg_running', 'home_value_copy'])
    expect(plain.experiments[0]).toEqual({
      key: 'cfg_running',
      variants: [
        { key: 'control', weight: 0.5 },
        { key: 'b', weight: 0.5 },
      ],
      coverage: 1,
      targeting: { platforms: ['ios', 'android'], percentage: 50 },
    })
    expect(plain.flags).toEqual([
      { key: 'cfg_flag_off', type: 'boolean', defaultValue: false, rules: [] }, // disabled: rules off
      { key: 'cfg_flag_on', type: 'number', defaultValue: 3, rules: [{ when: { channels: ['poster'], minSdk: '2.32.0' }, value: 5 }] },
      { key: 'home_show_read_count', type: 'boolean', defaultValue: true, rules: [] },
    ])
    expect(plain.me.forced).toEqual({})
    // The override list goes to nobody: not as a field, not as an OPENID anywhere in the reply.
    const text = JSON.stringify(plain)
    expect(text).not.toContain('overrides')
    expect(text).not.toContain(QA)
    expect(text).not.toContain('o-someone-else')

    const qa = await call('config', {}, QA)
    expect(qa.me.forced).toEqual({ cfg_running: 'b' })
    expect(JSON.stringify(qa)).not.toContain('o-someone-else')
    expect(qa.version).toBe(plain.version) // the content is the same for everyone
  })

  test('isNew and channel come from the caller’s user document', async () => {
    const today = shanghaiDayOf(Date.now())
    const yesterday = shanghaiDayOf(Date.now() - DAY)
    t.cloud.store.insert('users', [
      { _id: 'o-exp-new', openid: 'o-exp-new', firstSeenDay: today, firstTouch: { channel: 'poster', day: today, at: new Date() } },
      { _id: 'o-exp-old', openid: 'o-exp-old', firstSeenDay: yesterday },
    ])
    expect((await call('config', {}, 'o-exp-new')).me).toEqual({ id: 'o-exp-new', isNew: true, channel: 'poster', forced: {} })
    expect((await call('config', {}, 'o-exp-old')).me).toEqual({ id: 'o-exp-old', isNew: false, forced: {} })
  })

  test('the version follows the content', async () => {
    const before = (await call('config', {}, USER)).version
    expect((await call('config', {}, USER)).version).toBe(before)
    await call('save', { doc: flag('cfg_version_probe') })
    const after = (await call('config', {}, USER)).version
    expect(after).not.toBe(before)
  })

  test('costs two reads: the documents and the caller’s user', async () => {
    const reply = await callGateway(t.url, 'experiments', { action: 'config', data: {} }, { openid: USER })
    expect(reply.headers.get('x-db-ops')).toBe('getDocument=2')
  })

  test('needs a user', async () => {
    expect((await callAction(t.url, 'experiments', 'config', {})).ok).toBe(false)
  })
})

// ---- validate / save ----------------------------------------------------------------------------

const BAD: [string, Doc, RegExp][] = [
  ['weights that do not sum to 1', experiment('bad_sum', { variants: [{ key: 'control', name: '对照', weight: 0.5 }, { key: 'b', name: 'B', weight: 0.4 }] }), /weights must sum to 1 \(they sum to 0\.9\)/],
  ['duplicate variant keys', experiment('bad_dup', { variants: [{ key: 'control', name: '对照', weight: 0.5 }, { key: 'control', name: 'B', weight: 0.5 }] }), /duplicate variant key "control"/],
  ['an unknown goal event', experiment('bad_goal', { goal: { event: 'content_opened', withinDays: 7 } }), /not an event of the tracking plan/],
  ['the exposure event as goal', experiment('bad_goal2', { goal: { event: 'experiment_viewed', withinDays: 7 } }), /exposure event cannot be the goal/],
  ['an experiment started without variants', experiment('bad_empty', { status: 'running', variants: [] }), /running experiment needs 2 to 6 variants/],
  ['a single variant', experiment('bad_single', { variants: [{ key: 'control', name: '对照', weight: 1 }] }), /control and at least one other variant/],
  ['seven variants', experiment('bad_many', { variants: Array.from({ length: 7 }, (_, i) => ({ key: `v${i}`, name: `V${i}`, weight: 1 / 7 })) }), /6/],
  ['a flag default of the wrong type', flag('bad_flag', { defaultValue: 'true' }), /defaultValue must be a boolean/],
  ['a flag rule value of the wrong type', flag('bad_flag_rule', { type: 'number', defaultValue: 1, rules: [{ when: {}, value: '2' }] }), /value must be a number/],
  ['an override to a missing variant', experiment('bad_override', { overrides: { [QA]: 'c' } }), /no variant "c"/],
  ['a key with capitals', experiment('Bad-Key'), /a key of lowercase letters/],
  ['a goal window over 30 days', experiment('bad_window', { goal: { event: 'content_open', withinDays: 31 } }), /30/],
  ['coverage 0', experiment('bad_coverage', { coverage: 0 }), /coverage above 0/],
  ['mixed variant value types', experiment('bad_values', { variants: [{ key: 'control', name: '对照', weight: 0.5, value: 'a' }, { key: 'b', name: 'B', weight: 0.5, value: 2 }] }), /same type/],
  ['an unknown field', { ...experiment('bad_field'), colour: 'red' }, /colour|Unrecognized/],
  ['a bad targeting platform', experiment('bad_platform', { targeting: { platforms: ['symbian'] } }), /platforms/],
]

describe('validate and save', () => {
  test.each(BAD)('%s: validate reports it, save refuses it with INVALID_INPUT, nothing is written', async (_what, doc, message) => {
    const before = storedDocs()
    const report = await call('validate', { doc })
    expect(report.valid).toBe(false)
    expect(report.docs[0]!.issues.map((i) => `${i.path}: ${i.message}`).join('\n')).toMatch(message)

    const error = await failure('save', { doc })
    expect(error.code).toBe('INVALID_INPUT')
    expect(error.issues!.map((i) => `${i.path}: ${i.message}`).join('\n')).toMatch(message)
    expect(storedDocs()).toEqual(before)
  })

  test('validate checks a list, duplicate keys included, and writes nothing', async () => {
    const before = storedDocs()
    const report = await call('validate', { docs: [experiment('list_a'), flag('list_b'), flag('list_a'), 'not a doc'] })
    expect(report.valid).toBe(false)
    expect(report.docs.map((d) => [d.key, d.valid])).toEqual([
      ['list_a', true],
      ['list_b', true],
      ['list_a', false],
      [null, false],
    ])
    expect(report.docs[2]!.issues).toEqual(expect.arrayContaining([{ path: '_id', message: 'duplicate key "list_a" (also document 1)' }]))
    expect(storedDocs()).toEqual(before)
    expect((await failure('validate', {})).code).toBe('INVALID_INPUT')
  })

  test('non-admins get FORBIDDEN from every admin action and write nothing', async () => {
    const before = storedDocs()
    for (const [action, data] of [
      ['validate', { doc: flag('x') }],
      ['save', { doc: flag('forbidden_flag') }],
      ['list', {}],
      ['results', {}],
      ['rollup', {}],
      ['hourly', {}],
    ] as const) {
      expect([action, (await failure(action, data, USER)).code]).toEqual([action, 'FORBIDDEN'])
    }
    expect(storedDocs()).toEqual(before)
  })

  test('an experiment’s life: draft, start (startedAt), no split change while running, stop (stoppedAt), change, restart', async () => {
    const draft = await call('save', { doc: experiment('life') })
    expect(draft).toMatchObject({ key: 'life', created: true, doc: { _id: 'life', status: 'draft', updatedBy: ADMIN } })
    expect(draft.doc.startedAt).toBeUndefined()

    const started = await call('save', { doc: experiment('life', { status: 'running' }) })
    expect(started.created).toBe(false)
    const startedAt = started.doc.startedAt as string
    expect(Date.now() - Date.parse(startedAt)).toBeLessThan(60_000)
    // Stored as a real Date, as the rollup's queries need.
    expect(t.cloud.store.find('experiments', { query: { _id: 'life' } })[0]!.startedAt).toBeInstanceOf(Date)

    // Saving again (e.g. a new hypothesis) keeps the start.
    const edited = await call('save', { doc: experiment('life', { status: 'running', hypothesis: 'Sharper wording.' }) })
    expect(edited.doc.startedAt).toBe(startedAt)

    const before = storedDocs()
    const newWeights = { variants: [{ key: 'control', name: '对照', weight: 0.3 }, { key: 'b', name: 'B', weight: 0.7 }] }
    const conflict = await failure('save', { doc: experiment('life', { status: 'running', ...newWeights }) })
    expect(conflict.code).toBe('CONFLICT')
    expect(conflict.message).toMatch(/Stop it first/)
    const renamed = await failure('save', { doc: experiment('life', { status: 'running', variants: [{ key: 'control', name: '对照', weight: 0.5 }, { key: 'c', name: 'C', weight: 0.5 }] }) })
    expect(renamed.code).toBe('CONFLICT')
    expect((await failure('save', { doc: flag('life') })).code).toBe('CONFLICT') // nor turn it into a flag
    expect((await failure('save', { doc: experiment('life') })).code).toBe('CONFLICT') // nor back into a draft
    expect(storedDocs()).toEqual(before)

    const stopped = await call('save', { doc: experiment('life', { status: 'stopped' }) })
    expect(stopped.doc.startedAt).toBe(startedAt)
    expect(typeof stopped.doc.stoppedAt).toBe('string')

    const changed = await call('save', { doc: experiment('life', { status: 'stopped', ...newWeights }) })
    expect(changed.doc.stoppedAt).toBe(stopped.doc.stoppedAt)
    const restarted = await call('save', { doc: experiment('life', { status: 'running', ...newWeights }) })
    // A new split is a new test: counting starts again.
    expect(Date.parse(restarted.doc.startedAt as string)).toBeGreaterThan(Date.parse(startedAt))
    expect(restarted.doc.stoppedAt).toBeUndefined()
  })

  test('the running default cannot have its split changed either', async () => {
    const error = await failure('save', {
      doc: { ...HOME_VALUE_COPY, variants: [{ key: 'control', name: '对照', weight: 0.9 }, { key: 'b', name: 'B', weight: 0.1 }] },
    })
    expect(error.code).toBe('CONFLICT')
  })

  test('list: stored documents with their issues, and the defaults not stored', async () => {
    const { items } = await call('list')
    const byKey = new Map<string, ListedDoc>(items.map((i) => [i.key, i]))
    expect(byKey.get('cfg_bad_weights')).toMatchObject({ source: 'stored', kind: 'experiment', valid: false })
    expect(byKey.get('cfg_bad_weights')!.issues[0]!.message).toMatch(/sum to 1/)
    expect(byKey.get('cfg_no_kind')).toMatchObject({ source: 'stored', kind: 'unknown', valid: false })
    expect(byKey.get('cfg_running')).toMatchObject({ source: 'stored', valid: true, issues: [] })
    expect(byKey.get('home_value_copy')).toMatchObject({ source: 'default', kind: 'experiment', valid: true })
    expect(byKey.get('cfg_running')!.doc.overrides).toEqual({ [QA]: 'b', 'o-someone-else': 'control' }) // admins see them
  })
})

// ---- results ------------------------------------------------------------------------------------

interface Sent extends DeviceEvent {
  openid: string
}

describe('results', () => {
  const sent: Sent[] = []
  const NOW = Date.now()
  const START = NOW - 10 * DAY
  const WINDOW = 3 * DAY
  const KEY = 'exp_rollup'
  const VARIANTS = [
    { key: 'control', name: '对照', weight: 0.4 },
    { key: 'b', name: 'B', weight: 0.6 },
  ]

  async function ingest(openid: string, events: { name: string; ts: number; props: Doc }[]): Promise<void> {
    const anonymousId = uuidv7()
    const sessionId = uuidv7()
    const full = events.map((e) => ({ id: uuidv7(), anonymousId, sessionId, page: HOME, ...e }))
    for (let i = 0; i < full.length; i += 50) {
      const reply = await callAction<{ rejected: unknown[] }>(t.url, 'track', 'ingest', { events: full.slice(i, i + 50) }, openid)
      if (!reply.ok) throw new Error(JSON.stringify(reply.error))
      expect(reply.data.rejected).toEqual([])
    }
    for (const e of full) sent.push({ ...e, openid })
  }

  const viewed = (ts: number, variant: string, experiment = KEY) => ({ name: 'experiment_viewed', ts, props: { experiment, variant } })
  const opened = (ts: number) => ({ name: 'content_open', ts, props: { guideId: 'g1', category: 'home' } })

  /** The independent count: per user, exposures in [from, to], the first one's variant and time, a goal in the window. */
  function expected(key: string, from: number, to: number, windowMs: number, variants: string[], overrides: string[] = []) {
    const users = new Map<string, Sent[]>()
    for (const e of sent) users.set(e.openid, [...(users.get(e.openid) ?? []), e])
    const out = { byVariant: Object.fromEntries(variants.map((v) => [v, { users: 0, conversions: 0 }])), multiple: 0, overridden: 0 }
    for (const [openid, events] of users) {
      const exposures = events.filter((e) => e.name === 'experiment_viewed' && e.props.experiment === key && e.ts >= from && e.ts <= to)
      if (exposures.length === 0) continue
      if (overrides.includes(openid)) {
        out.overridden++
        continue
      }
      const seen = new Set(exposures.map((e) => e.props.variant as string))
      if (seen.size > 1) {
        out.multiple++
        continue
      }
      const first = Math.min(...exposures.map((e) => e.ts))
      const converted = events.some((e) => e.name === 'content_open' && e.ts >= first && e.ts < first + windowMs)
      const cell = out.byVariant[[...seen][0]!]
      if (!cell) continue
      cell.users++
      if (converted) cell.conversions++
    }
    return out
  }

  const counts = (r: ExperimentResults) => ({
    byVariant: Object.fromEntries(r.variants.map((v) => [v.key, { users: v.users, conversions: v.conversions }])),
    multiple: r.multipleExposures,
    overridden: r.overridden,
  })

  beforeAll(async () => {
    await call('save', { doc: experiment(KEY, { status: 'running', variants: VARIANTS, startedAt: new Date(START).toISOString(), overrides: { 'o-r-qa': 'b' } }) })
    const random = prng(8)
    // 320 users assigned by the real bucketing, exposed once or twice, converting (b more often) at
    // some point up to 5 days later (all in the past: `track` refuses future events) — inside or outside the 3-day window.
    for (let i = 0; i < 320; i++) {
      const openid = `o-r${i}`
      const { variant } = assignVariant({ key: KEY, variants: VARIANTS, coverage: 1 }, openid)
      const at = START + DAY + Math.floor(random() * 4 * DAY)
      const events: { name: string; ts: number; props: Doc }[] = [viewed(at, variant)]
      if (random() < 0.3) events.push(viewed(at + Math.floor(random() * DAY), variant)) // shown again: still one user
      if (random() < (variant === 'b' ? 0.5 : 0.3)) events.push(opened(at + Math.floor(random() * 5 * DAY)))
      if (random() < 0.1) events.push(opened(at - 60_000)) // before exposure: never a conversion
      if (random() < 0.1) events.push(viewed(at, 'x', 'other_experiment'))
      await ingest(openid, events)
    }
    const at = START + 2 * DAY
    const b = (id: string) => assignVariant({ key: KEY, variants: VARIANTS, coverage: 1 }, id).variant
    // The edges of the window, to the millisecond.
    await ingest('o-edge-at-start', [viewed(at, b('o-edge-at-start')), opened(at)])
    await ingest('o-edge-last-ms', [viewed(at, b('o-edge-last-ms')), opened(at + WINDOW - 1)])
    await ingest('o-edge-window-end', [viewed(at, b('o-edge-window-end')), opened(at + WINDOW)])
    await ingest('o-edge-from-first', [viewed(at, b('o-edge-from-first')), viewed(at + 2 * DAY, b('o-edge-from-first')), opened(at + WINDOW + 3600_000)])
    // Exposed before the start: not counted, even with a goal after it.
    await ingest('o-edge-before-start', [viewed(START - 3600_000, b('o-edge-before-start')), opened(START + 3600_000)])
    // Saw both variants (e.g. a cleared cache on an old build): left out, counted apart.
    await ingest('o-both-1', [viewed(at, 'control'), viewed(at + 1000, 'b'), opened(at + 2000)])
    await ingest('o-both-2', [viewed(at, 'b'), viewed(at + DAY, 'control')])
    // On the override list (QA): left out.
    await ingest('o-r-qa', [viewed(at, 'b'), opened(at + 1000)])
    // A variant the experiment does not have: ignored.
    await ingest('o-unknown-variant', [viewed(at, 'zzz'), opened(at + 1000)])
    // Goals without any exposure: not users of the experiment.
    await ingest('o-never-exposed', [opened(at), opened(at + DAY)])
    await call('rollup', { key: KEY })
  }, 120_000)

  test('counts match the independent count', async () => {
    const [r] = (await call('results', { key: KEY })).items
    const x = expected(KEY, START, Date.now(), WINDOW, ['control', 'b'], ['o-r-qa'])
    expect(counts(r!)).toEqual(x)
    // Not vacuous: both variants have users and conversions, some users saw both, one is overridden.
    expect(x.byVariant.control!.users).toBeGreaterThan(50)
    expect(x.byVariant.b!.conversions).toBeGreaterThan(20)
    expect(x.multiple).toBe(2)
    expect(x.overridden).toBe(1)
    expect(r).toMatchObject({ key: KEY, status: 'running', goal: { event: 'content_open', withinDays: 3 }, startedAt: new Date(START).toISOString(), from: new Date(START).toISOString() })
    expect(r!.users).toBe(x.byVariant.control!.users + x.byVariant.b!.users)
  })

  test('conversion window edges: [first exposure, first exposure + withinDays)', async () => {
    const edge = (openid: string) => {
      const x = expected(KEY, START, Date.now(), WINDOW, ['control', 'b'])
      const without = (() => {
        const saved = sent.filter((e) => e.openid === openid)
        sent.splice(0, sent.length, ...sent.filter((e) => e.openid !== openid))
        const y = expected(KEY, START, Date.now(), WINDOW, ['control', 'b'])
        sent.push(...saved)
        return y
      })()
      const total = (o: typeof x) => Object.values(o.byVariant).reduce((s, c) => s + c.conversions, 0)
      const users = (o: typeof x) => Object.values(o.byVariant).reduce((s, c) => s + c.users, 0)
      return { users: users(x) - users(without), conversions: total(x) - total(without) }
    }
    expect(edge('o-edge-at-start')).toEqual({ users: 1, conversions: 1 })
    expect(edge('o-edge-last-ms')).toEqual({ users: 1, conversions: 1 })
    expect(edge('o-edge-window-end')).toEqual({ users: 1, conversions: 0 })
    expect(edge('o-edge-from-first')).toEqual({ users: 1, conversions: 0 })
    expect(edge('o-edge-before-start')).toEqual({ users: 0, conversions: 0 })
    // And the function agrees with those semantics: a rollup without those users differs by exactly that.
    const [r] = (await call('results', { key: KEY })).items
    expect(counts(r!)).toEqual(expected(KEY, START, Date.now(), WINDOW, ['control', 'b'], ['o-r-qa']))
  })

  test('statistics are computed from those counts', async () => {
    const [r] = (await call('results', { key: KEY })).items
    const [control, b] = r!.variants
    expect(control!.rate).toBeCloseTo(control!.conversions / control!.users, 12)
    expect(control!.rateCi![0]).toBeLessThan(control!.rate!)
    expect(r!.comparisons).toHaveLength(1)
    expect(r!.comparisons[0]!.variant).toBe('b')
    expect(r!.comparisons[0]!.uplift).toBeCloseTo(b!.rate! / control!.rate! - 1, 12)
    expect(r!.srm!.expected[0]! / r!.users).toBeCloseTo(0.4, 12)
    expect(r!.srm!.flagged).toBe(false)
    expect(r!.verdict).toEqual(analyze(r!.variants.map((v) => ({ key: v.key, name: v.name, weight: v.weight, users: v.users, conversions: v.conversions }))).verdict)
    expect(['better', 'no_difference']).toContain(r!.verdict.kind) // enough data, a sound split
  })

  test('CUPED’s covariate is counted in the rollup: goal events in the 14 days before each user’s first exposure', async () => {
    const [r] = (await call('results', { key: KEY })).items
    // The independent count of the pre-period sums, per variant, over the users counted.
    const users = new Map<string, Sent[]>()
    for (const e of sent) users.set(e.openid, [...(users.get(e.openid) ?? []), e])
    const pre = new Map(['control', 'b'].map((v) => [v, { sum: 0, sumSq: 0, sumConverted: 0 }]))
    for (const [openid, events] of users) {
      if (openid === 'o-r-qa') continue
      const exposures = events.filter((e) => e.name === 'experiment_viewed' && e.props.experiment === KEY && e.ts >= START)
      const seen = new Set(exposures.map((e) => e.props.variant as string))
      const cell = pre.get([...seen][0] ?? '')
      if (seen.size !== 1 || !cell) continue
      const first = Math.min(...exposures.map((e) => e.ts))
      const x = events.filter((e) => e.name === 'content_open' && e.ts < first && e.ts >= first - 14 * DAY).length
      const converted = events.some((e) => e.name === 'content_open' && e.ts >= first && e.ts < first + WINDOW)
      cell.sum += x
      cell.sumSq += x * x
      if (converted) cell.sumConverted += x
    }
    expect(pre.get('control')!.sum + pre.get('b')!.sum).toBeGreaterThan(10) // not vacuous
    const recomputed = analyze(r!.variants.map((v) => ({ key: v.key, name: v.name, weight: v.weight, users: v.users, conversions: v.conversions, pre: pre.get(v.key)! })))
    expect(r!.comparisons[0]!.cuped).not.toBeNull()
    expect(r!.comparisons).toEqual(recomputed.comparisons)
    expect(r!.stopping).toEqual(recomputed.stopping)
  })

  test('idempotent: running again writes the same document (but its time)', async () => {
    const strip = (r: ExperimentResults) => ({ ...r, computedAt: undefined, to: undefined })
    const [first] = (await call('results', { key: KEY })).items
    await call('rollup', { key: KEY })
    const [second] = (await call('results', { key: KEY })).items
    expect(strip(second!)).toEqual(strip(first!))
    expect(Date.parse(second!.computedAt)).toBeGreaterThanOrEqual(Date.parse(first!.computedAt))
  })

  test('a stopped experiment counts exposures up to its stop only', async () => {
    const stop = START + 4 * DAY
    await call('save', { doc: experiment('exp_stopped', { status: 'stopped', startedAt: new Date(START).toISOString(), stoppedAt: new Date(stop).toISOString() }) })
    const v = (id: string) => assignVariant({ key: 'exp_stopped', variants: experiment('x').variants as never, coverage: 1 }, id).variant
    await ingest('o-s1', [viewed(stop - DAY, v('o-s1'), 'exp_stopped'), opened(stop + DAY)]) // goal after the stop, inside its window: counts
    await ingest('o-s2', [viewed(stop + 3600_000, v('o-s2'), 'exp_stopped'), opened(stop + 2 * 3600_000)]) // exposed after the stop
    await call('rollup', { key: 'exp_stopped' })
    const [r] = (await call('results', { key: 'exp_stopped' })).items
    expect(counts(r!)).toEqual(expected('exp_stopped', START, stop, WINDOW, ['control', 'b']))
    expect(r!.users).toBe(1)
    expect(r!.variants.reduce((s, x) => s + x.conversions, 0)).toBe(1)
    expect(r!.to).toBe(new Date(stop).toISOString())
  })

  test('a broken split is flagged (SRM) and the verdict says so', async () => {
    await call('save', { doc: experiment('exp_srm', { status: 'running', startedAt: new Date(START).toISOString() }) })
    const docs: Doc[] = []
    // 600 in control, 400 in b where 50/50 was configured: chi-squared 40, p ≈ 2.5e-10.
    for (let i = 0; i < 1000; i++) {
      const ts = new Date(START + DAY + i * 1000)
      docs.push({ _id: uuidv7(), name: 'experiment_viewed', ts, day: shanghaiDayOf(ts.getTime()), receivedAt: ts, openid: `o-srm${i}`, anonymousId: uuidv7(), sessionId: uuidv7(), page: HOME, props: { experiment: 'exp_srm', variant: i < 600 ? 'control' : 'b' } })
    }
    t.cloud.store.insert('events', docs)
    await call('rollup', { key: 'exp_srm' })
    const [r] = (await call('results', { key: 'exp_srm' })).items
    expect(r!.variants.map((v) => v.users)).toEqual([600, 400])
    expect(r!.srm).toMatchObject({ df: 1, flagged: true })
    expect(r!.srm!.chiSquare).toBeCloseTo(40, 10)
    expect(r!.verdict.kind).toBe('srm')
  })

  test('drafts and unknown keys cannot be rolled up', async () => {
    await call('save', { doc: experiment('exp_draft') })
    expect((await failure('rollup', { key: 'exp_draft' })).code).toBe('CONFLICT')
    expect((await failure('rollup', { key: 'no_such_experiment' })).code).toBe('NOT_FOUND')
    expect((await failure('rollup', { key: 'cfg_flag_on' })).code).toBe('NOT_FOUND')
  })

  test('the hourly timer recomputes running and recently stopped experiments, and reports invalid ones', async () => {
    const before = new Map((await call('results')).items.map((r) => [r.key, r.computedAt]))
    const res = await fetch(`${t.url}/_/triggers/experiments/hourly`, { method: 'POST' })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { result: { ok: boolean; data: ExperimentsOutputs['hourly'] } }
    expect(body.result.ok).toBe(true)
    const runs = new Map(body.result.data.runs.map((r) => [r.key, r]))
    for (const key of [KEY, 'exp_stopped', 'exp_srm', 'home_value_copy', 'cfg_running', 'cfg_stopped']) expect(runs.get(key)?.error).toBeNull()
    expect(runs.get('cfg_bad_weights')!.error).toMatch(/invalid document: variants: variant weights must sum to 1/)
    expect(runs.has('exp_draft')).toBe(false)
    expect(runs.has('cfg_flag_on')).toBe(false)
    const after = new Map((await call('results')).items.map((r) => [r.key, r.computedAt]))
    expect(Date.parse(after.get(KEY)!)).toBeGreaterThan(Date.parse(before.get(KEY)!))
    // The same action called by a user (not the timer) is for admins only.
    expect((await failure('hourly', {}, USER)).code).toBe('FORBIDDEN')
  })

  test('results only read the stored documents; the rollup receives grouped rows, not events', async () => {
    const one = await callGateway(t.url, 'experiments', { action: 'results', data: { key: KEY } }, { openid: ADMIN })
    expect(one.headers.get('x-db-ops')).toBe('getDocument=2') // the admin check and the results document
    const rollup = await callGateway(t.url, 'experiments', { action: 'rollup', data: { key: KEY } }, { openid: ADMIN })
    const events = t.cloud.store.count('events', {})
    expect(events).toBeGreaterThan(400)
    // The admin document, the experiment document, its previous results, and a few grouped rows.
    expect(Number(rollup.headers.get('x-db-docs-read'))).toBeLessThan(10)
    expect(rollup.headers.get('x-db-ops')).toBe('getDocument=3,aggregateDocuments=1,modifyDocument=1')
  })

  test('a large experiment is counted in OPENID ranges whose sums equal the independent count', async () => {
    await call('save', { doc: experiment('exp_large', { status: 'running', startedAt: new Date(START).toISOString(), goal: { event: 'content_open', withinDays: 2 } }) })
    const random = prng(99)
    const docs: Doc[] = []
    const event = (openid: string, name: string, ts: number, props: Doc) => {
      const doc = { _id: uuidv7(ts), name, ts: new Date(ts), day: shanghaiDayOf(ts), receivedAt: new Date(ts), openid, anonymousId: uuidv7(), sessionId: uuidv7(), page: HOME, props }
      docs.push(doc)
      sent.push({ id: doc._id, name, ts, anonymousId: doc.anonymousId, sessionId: doc.sessionId, page: HOME, props, openid })
    }
    // 24,000 users (more than a chunk): OPENIDs with a shared prefix, like a real app's.
    for (let i = 0; i < 24_000; i++) {
      const openid = `oAbCdE${Math.floor(random() * 2 ** 40).toString(36)}${i}`
      const at = START + DAY + Math.floor(random() * 4 * DAY)
      event(openid, 'experiment_viewed', at, { experiment: 'exp_large', variant: random() < 0.5 ? 'control' : 'b' })
      if (random() < 0.01) event(openid, 'experiment_viewed', at + 1000, { experiment: 'exp_large', variant: 'b' })
      if (random() < 0.2) event(openid, 'content_open', at + Math.floor(random() * 3 * DAY), { guideId: 'g1', category: 'home' })
    }
    t.cloud.store.insert('events', docs)
    const reply = await callGateway(t.url, 'experiments', { action: 'rollup', data: { key: 'exp_large' } }, { openid: ADMIN })
    const ops = Object.fromEntries((reply.headers.get('x-db-ops') ?? '').split(',').map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]))
    expect(ops.aggregateDocuments).toBeGreaterThan(2) // really split
    const [r] = (await call('results', { key: 'exp_large' })).items
    const x = expected('exp_large', START, Date.now(), 2 * DAY, ['control', 'b'])
    expect(counts(r!)).toEqual(x)
    expect(x.multiple).toBeGreaterThan(50)
    // The next run sizes its ranges from this result (about 24,000 users: a sample, then 2 ranges).
    const again = await callGateway(t.url, 'experiments', { action: 'rollup', data: { key: 'exp_large' } }, { openid: ADMIN })
    expect(again.headers.get('x-db-ops')).toMatch(/aggregateDocuments=3(,|$)/)
    expect(counts((await call('results', { key: 'exp_large' })).items[0]!)).toEqual(x)
  })
})
