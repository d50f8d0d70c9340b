/**
 * App.onLaunch (miniprogram/app.ts) for a rendered page, in the page's fresh module registry (call
 * it from mountPageWith's `beforeLoad`): the tracker (holding its events: a launch under test or
 * in the screenshot tool sends them only when told), the launch's tracking, the privacy listener,
 * the launch's call, and optionally the experiments config. The cloud client is configured by the mount.
 */
import path from 'node:path'
import type { FakeWx } from '../fake-wx'

/**
 * What the launch uses of the mini-program's modules. Their real types need the mini-program's `wx`
 * typings, which Node tools do not load: the page tests' harness narrows them (harness/launch.ts).
 */
export interface AppLaunch {
  tracker: { initTracker(options: { flushAt: number; flushIntervalMs: number }): void; stopTracker(): void }
  privacy: { initPrivacy(): void }
}

type LaunchOptions = FakeWx['launchOptions']

export function launchApp(root: string, fake: FakeWx, options: { experiments?: boolean } = {}): AppLaunch {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const tracker = require(path.join(root, 'core/tracker')) as AppLaunch['tracker']
  const privacy = require(path.join(root, 'core/privacy')) as AppLaunch['privacy']
  const app = require(path.join(root, 'core/app-tracking')) as { appLaunched(options: LaunchOptions): void }
  const launch = require(path.join(root, 'core/launch')) as { startLaunch(): void }
  const experiments = require(path.join(root, 'core/experiments')) as { initExperiments(query: Record<string, string>): void }
  /* eslint-enable @typescript-eslint/no-require-imports */
  tracker.initTracker({ flushAt: 1000, flushIntervalMs: 3_600_000 })
  app.appLaunched(fake.launchOptions)
  privacy.initPrivacy()
  launch.startLaunch()
  if (options.experiments) experiments.initExperiments(fake.launchOptions.query)
  return { tracker, privacy }
}
