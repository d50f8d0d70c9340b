/**
 * What a page state is, for the states table (states.ts): which page, opened how, by whom, on what
 * network, and what to do on it before the picture is taken. Adding a state is adding a row.
 */
import type { FakeWx } from '../miniprogram/fake-wx'
import type { AppLaunch } from '../miniprogram/simulate/launch'
import type { Mounted } from '../miniprogram/simulate/mount'
import type { World } from './world'

/** What the network does with one cloud call: answer it, never answer (the page keeps loading), or fail. */
export type NetworkRule = 'pass' | 'hang' | 'fail'

export interface StatePage extends Mounted {
  world: World
  /** The app launch glue, when the state launched the app (`launch: true`). */
  app: AppLaunch | null
  /** Waits until the page shows `text`. */
  waitText(text: string, timeoutMs?: number): Promise<void>
  /** Taps the innermost element whose text contains `text` (a button, a chip, a cell). */
  tapText(text: string): Promise<void>
  /** Fires a component event (e.g. WeChat's `chooseavatar` on a button) on a rendered element, with its detail. */
  fire(target: Element, name: string, detail?: Record<string, unknown>): void
}

export interface State {
  /** File name: screenshots/<name>.png (lower case, dashes). */
  name: string
  /** One line for the gallery: what the state is. */
  description: string
  /** Page path from the mini-program root, without extension. */
  page: string
  query?: Record<string, string>
  /** Pages below this one: 0 when opened directly (from a share card or a code), 1 by default. */
  below?: number
  /** Who uses the phone: a user of the seeded world (default `reader`). */
  user?: keyof World['users']
  /** Prepares the phone before the page opens: storage (caches, the onboarding record), what a wx API answers. */
  device?(fake: FakeWx, world: World): void
  /** What happens to each cloud call; default: every call is answered. */
  network?(call: { fn: string; action: string }): NetworkRule
  /** The app is cold-started on this page (App.onLaunch: tracker, privacy, experiments, login). */
  launch?: boolean
  /** Drives the page into the state and waits until it is on screen. */
  ready(page: StatePage): Promise<void>
  /** Shows the dashboard's data: the world then generates a month of traffic and rolls it up (most of its cost). */
  traffic?: boolean
  /** Draws the page's last toast (wx.showToast) over it. */
  toast?: boolean
}
