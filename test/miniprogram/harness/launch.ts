/**
 * A cold start of the app on the home page, as App.onLaunch does it on a device (tracker, the
 * launch's tracking, the privacy listener, the login), with the home page rendered for real and
 * `getCurrentPages()` answering with it (the privacy popup is found on the page on screen).
 */
import { launchApp } from '../../../tools/miniprogram/simulate/launch'
import { type CloudProcess, startCloudProcess } from './cloud'
import { type Mounted, MP_ROOT, mountPage } from './mount'
import { type FakeWx } from './wx'

type Tracker = typeof import('../../../miniprogram/core/tracker')
type Privacy = typeof import('../../../miniprogram/core/privacy')

export interface Launched extends Mounted {
  tracker: Tracker
  privacy: Privacy
  /** The privacy popup component on the home page. */
  popup(): { data: { visible: boolean; feature: boolean; contractName: string } }
  /** Fires an event (e.g. WeChat's `agreeprivacyauthorization`) on a rendered element, as the runtime would. */
  fire(target: Element, name: string): void
}

/** `experiments`: also initialise flags and experiments, as app.ts does (the launch's reply then fills their cache). */
export async function launchHome(cloudUrl: string, fake: FakeWx, options: { experiments?: boolean } = {}): Promise<Launched> {
  let page: Record<string, unknown> | undefined
  let tracker!: Tracker
  let privacy!: Privacy
  const m = await mountPage('pages/home/index', {
    cloudUrl,
    fake,
    stackDepth: 1,
    beforeLoad: () => {
      const g = globalThis as Record<string, unknown>
      g.getCurrentPages = () => (page ? [page] : [])
      const launched = launchApp(MP_ROOT, fake, options)
      tracker = launched.tracker as Tracker
      privacy = launched.privacy as Privacy
    },
  })
  page = m.page
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const exparser = require('miniprogram-exparser') as {
    Event: { dispatchEvent(node: unknown, event: unknown): void; create(name: string, detail: unknown, options: unknown): unknown }
  }
  return {
    ...m,
    tracker,
    privacy,
    popup: () => (m.page.selectComponent as (selector: string) => ReturnType<Launched['popup']>)('#privacy-popup'),
    fire(target, name) {
      const node = (target as Element & { __wxElement?: unknown }).__wxElement
      if (!node) throw new Error('not a rendered mini-program node')
      exparser.Event.dispatchEvent(node, exparser.Event.create(name, {}, { bubbles: false, composed: false }))
    },
  }
}

/**
 * One local cloud for a test file and the home launches of each test: `launch` cold-starts the app
 * on a device, `close` closes it (tracker stopped, page gone), and every launch still open is closed
 * after its test.
 */
export function homeLaunches() {
  let cloud: CloudProcess
  const open: Launched[] = []
  const close = (l: Launched): void => {
    l.tracker.stopTracker()
    l.unmount()
    const at = open.indexOf(l)
    if (at >= 0) open.splice(at, 1)
  }
  beforeAll(async () => {
    cloud = await startCloudProcess()
  }, 90_000)
  afterEach(() => {
    for (const l of [...open]) close(l)
  })
  afterAll(() => cloud?.stop())
  return {
    url: () => cloud.url,
    async launch(fake: FakeWx): Promise<Launched> {
      const l = await launchHome(cloud.url, fake)
      open.push(l)
      return l
    },
    close,
  }
}
