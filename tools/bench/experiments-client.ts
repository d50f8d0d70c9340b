/**
 * What flags and experiments cost on the device:
 *
 *  1. size: core/experiments.ts + core/bucketing.ts bundled and minified with esbuild (the cache,
 *     cloud client and tracker are the app's own, shared: left out), and gzipped; with `--official`
 *     also the two files as WeChat's official compiler emits them into the main package (ES5, its
 *     Babel helpers shared and not counted);
 *  2. speed: `variant()` and `flag()` on a warm cache (the config in storage, as on every launch
 *     after the first) with a fake `wx`: the first call of a launch (reads storage, logs the
 *     exposure) and then N calls timed one by one (median, p99, max), with no request made.
 *
 *   tsx tools/bench/experiments-client.ts [--calls 100000] [--official] [--json]
 */
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { gzipSync } from 'node:zlib'
import * as esbuild from 'esbuild'
import type { ClientConfig } from '../../cloudfunctions/experiments/api'
import { createWx } from '../miniprogram/fake-wx'
import { ROOT } from '../paths'

const CORE = path.join(ROOT, 'miniprogram/core')
const EXPERIMENT = 'home_value_copy'
const FLAG = 'home_show_read_count'
const USER = 'oBench0000000000000000000001'

// ---- 1. size --------------------------------------------------------------------------------------

interface CodeSize {
  minified: number
  gzip: number
}

async function bundleSize(entry: string, external: string[]): Promise<CodeSize> {
  const result = await esbuild.build({
    stdin: { contents: `export * from './${entry}'`, resolveDir: CORE, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'cjs',
    target: 'es2020',
    write: false,
    external,
  })
  const code = result.outputFiles[0]!.contents
  return { minified: code.length, gzip: gzipSync(code).length }
}

const SHARED = ['./api', './cache', './cloud', './tracker']

/** The two files as the official compiler writes them into the package (compiles the whole project: ~20 s). */
async function officialSize(): Promise<Record<string, number>> {
  const { compile } = await import('../miniprogram/ci')
  const output = await compile()
  const size = (file: string) => output.get(file)?.length ?? 0
  return { 'core/experiments.js': size('core/experiments.js'), 'core/bucketing.js': size('core/bucketing.js') }
}

// ---- 2. speed -------------------------------------------------------------------------------------

/** A config as `experiments.config` sends it: the defaults among 9 more experiments and 19 more flags. */
function benchConfig(): ClientConfig {
  const experiments: ClientConfig['experiments'] = Array.from({ length: 9 }, (_, i) => ({
    key: `exp_${i}`,
    variants: [
      { key: 'control', weight: 0.5, value: `A${i}` },
      { key: 'b', weight: 0.5, value: `B${i}` },
    ],
    coverage: 1,
    ...(i % 3 === 0 ? { targeting: { platforms: ['ios', 'android'] as ('ios' | 'android')[], minSdk: '2.30.0' } } : {}),
  }))
  experiments.push({
    key: EXPERIMENT,
    variants: [
      { key: 'control', weight: 0.5, value: '每天 3 分钟，学一个马上用得上的生活技巧' },
      { key: 'b', weight: 0.5, value: '3 分钟一篇，今天就能用上的生活技巧' },
    ],
    coverage: 1,
  })
  const flags: ClientConfig['flags'] = Array.from({ length: 19 }, (_, i) => ({
    key: `flag_${i}`,
    type: 'boolean' as const,
    defaultValue: false,
    rules: [{ when: { percentage: 20 }, value: true }],
  }))
  flags.push({ key: FLAG, type: 'boolean', defaultValue: true, rules: [{ when: { newUsers: true, platforms: ['android'] }, value: false }] })
  const byKey = (a: { key: string }, b: { key: string }) => a.key.localeCompare(b.key)
  return { version: 'bench', flags: flags.sort(byKey), experiments: experiments.sort(byKey), me: { id: USER, isNew: false, forced: {} } }
}

interface Timing {
  calls: number
  firstCallUs: number
  medianNs: number
  p99Ns: number
  maxNs: number
  callsPerSecond: number
  requests: number
}

interface Device {
  initTracker(options?: Record<string, number>): void
  setConsent(granted: boolean): void
  stopTracker(): void
  pending(): readonly { name: string }[]
}
interface Experiments {
  initExperiments(query?: Record<string, string>): void
  variant(key: string): { key: string }
  flag<T>(key: string, fallback: T): T
}

/** A warm launch: fresh device modules on a fake `wx` whose storage holds a fresh config. */
function warmLaunch() {
  for (const key of Object.keys(require.cache)) if (key.startsWith(CORE)) delete require.cache[key]
  const fake = createWx()
  fake.storage.set('cache:experiments', { v: 1, t: Date.now(), d: benchConfig() })
  ;(globalThis as Record<string, unknown>).wx = fake.wx
  const cloud = require(path.join(CORE, 'cloud')) as { configureCloud(o: Record<string, unknown>): void }
  // Nowhere to go: a request would fail (and be counted), never reach anything.
  cloud.configureCloud({ mode: 'local', localCloudUrl: 'http://127.0.0.1:9', timeoutMs: 100 })
  const tracker = require(path.join(CORE, 'tracker')) as Device
  tracker.initTracker({ flushIntervalMs: 3_600_000 })
  tracker.setConsent(true)
  const experiments = require(path.join(CORE, 'experiments')) as Experiments
  experiments.initExperiments({})
  return { fake, tracker, experiments }
}

function time(calls: number, run: (e: Experiments) => unknown): Timing {
  const { fake, tracker, experiments } = warmLaunch()
  const t0 = process.hrtime.bigint()
  run(experiments)
  const firstCallUs = Number(process.hrtime.bigint() - t0) / 1000
  const samples = new Float64Array(calls)
  const started = process.hrtime.bigint()
  for (let i = 0; i < calls; i++) {
    const s = process.hrtime.bigint()
    run(experiments)
    samples[i] = Number(process.hrtime.bigint() - s)
  }
  const totalNs = Number(process.hrtime.bigint() - started)
  samples.sort()
  const exposures = tracker.pending().filter((e) => e.name === 'experiment_viewed').length
  tracker.stopTracker()
  if (exposures > 1) throw new Error(`${exposures} exposures logged: the dedupe is broken`)
  return {
    calls,
    firstCallUs: Math.round(firstCallUs * 10) / 10,
    medianNs: Math.round(samples[Math.floor(calls / 2)]!),
    p99Ns: Math.round(samples[Math.floor(calls * 0.99)]!),
    maxNs: Math.round(samples[calls - 1]!),
    callsPerSecond: Math.round(calls / (totalNs / 1e9)),
    requests: fake.log.requests.length,
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { calls: { type: 'string', default: '100000' }, official: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
  })
  const calls = Number(values.calls)
  if (!Number.isInteger(calls) || calls < 100) throw new Error('--calls: a whole number of at least 100')
  const size = {
    both: await bundleSize('experiments', SHARED),
    experiments: await bundleSize('experiments', [...SHARED, './bucketing']),
    bucketing: await bundleSize('bucketing', []),
  }
  const variant = time(calls, (e) => e.variant(EXPERIMENT))
  const flag = time(calls, (e) => e.flag(FLAG, true))
  if (variant.requests + flag.requests > 0) throw new Error('a warm launch made a request')
  const official = values.official ? await officialSize() : null
  const report = { size, official, variant, flag }
  if (values.json) {
    console.log(JSON.stringify(report, null, 2))
    return
  }
  const kb = (n: number) => `${(n / 1024).toFixed(2)} KB`
  const line = (name: string, t: Timing) =>
    `  ${name}: first call of a launch ${t.firstCallUs} µs; then median ${t.medianNs} ns, p99 ${t.p99Ns} ns, max ${(t.maxNs / 1000).toFixed(1)} µs (${t.callsPerSecond.toLocaleString('en')} calls/s); requests: ${t.requests}`
  console.log(`
Flags and experiments on the device (${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version})

code size, esbuild minified (gzipped); cache, cloud client and tracker are shared and not counted:
  experiments.ts + bucketing.ts: ${kb(size.both.minified)} (${kb(size.both.gzip)})
  experiments.ts alone: ${kb(size.experiments.minified)} (${kb(size.experiments.gzip)}); bucketing.ts alone: ${kb(size.bucketing.minified)} (${kb(size.bucketing.gzip)})${
    official
      ? `
  official compiler output (what the main package holds): ${Object.entries(official)
          .map(([file, bytes]) => `${file} ${kb(bytes)}`)
          .join(', ')}`
      : ''
  }

warm cache, ${calls.toLocaleString('en')} calls each (10 experiments and 20 flags in the config):
${line(`variant('${EXPERIMENT}')`, variant)}
${line(`flag('${FLAG}')`, flag)}
`)
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
