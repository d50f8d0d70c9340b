/**
 * A function worker: a child process that loads one cloud function's bundled index.js (with the
 * unmodified wx-server-sdk it requires) and serves invocations one at a time, like a cloud function
 * instance. Identity reaches getWXContext() through process environment, set per invocation.
 */
import type { InvokeMessage, WorkerMessage } from './messages'

const entry = process.env.LOCAL_CLOUD_FUNCTION_ENTRY

function send(message: WorkerMessage): void {
  process.send?.(message)
}

function describe(err: unknown): { name: string; message: string; stack?: string } {
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack }
  if (typeof err === 'object' && err !== null) {
    const e = err as { errCode?: unknown; errMsg?: unknown; message?: unknown }
    const message = typeof e.errMsg === 'string' ? e.errMsg : typeof e.message === 'string' ? e.message : JSON.stringify(err)
    return { name: 'Error', message: e.errCode !== undefined ? `errCode: ${String(e.errCode)} ${message}` : message }
  }
  return { name: 'Error', message: String(err) }
}

type Main = (event: unknown, context: unknown) => unknown

let main: Main

// Errors after a response are logged (as the cloud logs them), never allowed to kill the instance silently.
process.on('unhandledRejection', (reason) => {
  console.error('Unhandled promise rejection in function code:', reason)
})

try {
  if (!entry) throw new Error('LOCAL_CLOUD_FUNCTION_ENTRY is not set')
  const started = process.hrtime.bigint()
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(entry) as { main?: unknown }
  if (typeof mod.main !== 'function') throw new Error(`${entry} does not export a main function`)
  main = mod.main as Main
  send({ type: 'ready', loadMs: Number(process.hrtime.bigint() - started) / 1e6 })
} catch (err) {
  const { message, stack } = describe(err)
  send({ type: 'load-error', message, stack })
  process.exit(1)
}

process.on('message', (raw: unknown) => {
  const message = raw as InvokeMessage
  if (message.type !== 'invoke') return
  send({ type: 'started', requestId: message.requestId })
  for (const key of Object.keys(process.env)) {
    if (key.startsWith('WX_') && !(key in message.env)) delete process.env[key]
  }
  Object.assign(process.env, message.env)
  // Peak memory of the call, sampled while it waits on I/O (and at its end): the figure to hold
  // against the function's memory size.
  const peak = { heap: 0, rss: 0 }
  const sample = () => {
    const usage = process.memoryUsage()
    peak.heap = Math.max(peak.heap, usage.heapUsed)
    peak.rss = Math.max(peak.rss, usage.rss)
  }
  sample()
  const sampler = setInterval(sample, 5)
  const memory = () => {
    clearInterval(sampler)
    sample()
    return { heapMb: Math.round((peak.heap / 2 ** 20) * 10) / 10, rssMb: Math.round((peak.rss / 2 ** 20) * 10) / 10 }
  }
  Promise.resolve()
    .then(() => main(message.event, message.context))
    .then(
      (value) => {
        const json = value === undefined ? null : JSON.stringify(value)
        send({ type: 'result', requestId: message.requestId, ok: true, json: json ?? null, memory: memory() })
      },
      (err: unknown) => send({ type: 'result', requestId: message.requestId, ok: false, error: describe(err), memory: memory() }),
    )
    .catch((err: unknown) => {
      // The result could not be serialized (e.g. a circular structure).
      send({ type: 'result', requestId: message.requestId, ok: false, error: describe(err), memory: memory() })
    })
})
