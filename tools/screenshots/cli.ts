/**
 * `npm run screenshots`: every page state of the mini-program, rendered with the real page code,
 * TDesign and WXSS against a seeded local cloud, photographed by headless Chromium inside a drawn
 * WeChat frame, into screenshots/<state>.png (+ <state>.full.png) and screenshots/index.html.
 *
 *   npm run screenshots                      # every state
 *   npm run screenshots -- home checkin      # states by name (a group's name picks its states: `admin` = every admin-*)
 *   npm run screenshots -- --only home,me    # the same, as one option
 *   npm run screenshots -- --list            # the states table
 *
 * Exits 1 when a state fails (the page threw, never got ready, or rendered nothing), 2 on bad usage.
 */
import path from 'node:path'
import { parseArgs } from 'node:util'
import { ROOT } from '../paths'
import { takeScreenshots, writeGallery } from './run'
import type { State } from './state'
import type { Theme } from './frame'
import { createWorld } from './world'

const HELP = `Usage: npm run screenshots -- [state...] [options]

Renders each page state in headless Chromium (Debian's chromium; CHROMIUM_PATH overrides) and
writes screenshots/<state>.png, <state>.full.png and screenshots/index.html.

  state...            only these states: a state's name, or a group's (admin = every admin-* state)
  --only a,b          the same, comma-separated
  --list              print the states and exit
  --out <dir>         output folder (default screenshots/)
  --theme <t>         light (default) or dark: the phone's theme (prefers-color-scheme, wx theme)
  --states <module>   a states table other than tools/screenshots/states.ts (its default export
                      is { root, states }), e.g. the tool's own test fixtures
  --html              also write each state's page as screenshots/<state>.html, to inspect
  --traffic-users <n> users the traffic generator simulates for the dashboard (default 300)
`

export interface StatesModule {
  /** The mini-program root the states' pages are in. */
  root: string
  states: State[]
}

/**
 * The states named, in table order: a state's own name picks it alone; a name no state has picks
 * the group it prefixes (`admin` → every `admin-*`). Throws on a name that picks nothing.
 */
export function pickStates(all: State[], names: string[]): State[] {
  if (names.length === 0) return all
  const picks = (n: string) => (all.some((s) => s.name === n) ? (s: State) => s.name === n : (s: State) => s.name.startsWith(`${n}-`))
  const unknown = names.filter((n) => !all.some(picks(n)))
  if (unknown.length > 0) throw new Error(`no such state: ${unknown.join(', ')} (npm run screenshots -- --list)`)
  const chosen = names.map(picks)
  return all.filter((s) => chosen.some((pick) => pick(s)))
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      only: { type: 'string' },
      list: { type: 'boolean', default: false },
      out: { type: 'string', default: path.join(ROOT, 'screenshots') },
      theme: { type: 'string', default: 'light' },
      states: { type: 'string' },
      html: { type: 'boolean', default: false },
      'traffic-users': { type: 'string', default: '300' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(HELP)
    return 0
  }
  if (values.theme !== 'light' && values.theme !== 'dark') {
    console.error(`--theme is light or dark, not ${values.theme}`)
    return 2
  }
  const theme: Theme = values.theme
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const table = (require(path.resolve(values.states ?? path.join(__dirname, 'states.ts'))) as { default: StatesModule }).default
  if (values.list) {
    for (const s of table.states) console.log(`${s.name.padEnd(24)} ${s.page.padEnd(36)} ${s.description}`)
    return 0
  }
  let states: State[]
  try {
    states = pickStates(table.states, [...positionals, ...(values.only?.split(',').filter(Boolean) ?? [])])
  } catch (err) {
    console.error((err as Error).message)
    return 2
  }

  const started = performance.now()
  const log = (line: string) => console.log(line)
  log(`screenshots: ${states.length} states, ${theme} theme; seeding a local cloud…`)
  const world = await createWorld({ trafficUsers: states.some((s) => s.traffic) ? Number(values['traffic-users']) : 0, log })
  try {
    log(`  world ready in ${((performance.now() - started) / 1000).toFixed(1)} s`)
    const { shots, failures } = await takeScreenshots({ root: table.root, states, world, out: values.out, theme, keepHtml: values.html, log })
    const took = performance.now() - started
    const gallery = writeGallery(values.out, shots, failures, { theme, took })
    log(`\n${gallery} (${(took / 1000).toFixed(0)} s)`)
    for (const f of failures) console.error(`FAILED ${f.state.name} (${f.state.page}): ${f.error}`)
    // The closing line CI reads.
    log(`screenshots: ${shots.length} passed, ${failures.length} failed`)
    return failures.length > 0 ? 1 : 0
  } finally {
    await world.stop()
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(err.stack ?? err.message)
      process.exit(1)
    },
  )
}
