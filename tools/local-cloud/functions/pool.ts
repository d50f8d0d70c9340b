/**
 * A pool of worker processes per function: one invocation at a time per worker (how a cloud function
 * instance behaves), concurrency = number of workers, a per-function timeout, and a worker that
 * throws, times out or crashes is replaced so the next call starts clean.
 *
 * A worker can die at any moment (OOM, a crash, kill -9), also while idle and before its `exit`
 * event arrives. So a worker that disconnected is never handed a call, its `error` events (EPIPE on
 * a closed channel) are handled, and each call waits for the worker's `started` acknowledgement: a
 * call whose send failed, or whose worker died before acknowledging it, never ran, and is run again
 * on a fresh worker. Every path out of `invoke` releases the worker.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import type { FunctionConfig } from './config'
import type { InvokeMessage, PeakMemory, WorkerMessage } from './messages'

export type FailureCode =
  | 'FUNCTION_NOT_BUILT'
  /** The source does not build (watch mode); the cloud answers it before any worker. */
  | 'FUNCTION_BUILD_ERROR'
  | 'FUNCTION_LOAD_ERROR'
  | 'FUNCTION_ERROR'
  | 'FUNCTION_TIMEOUT'
  | 'FUNCTION_CRASHED'

export type Outcome =
  | { ok: true; json: string | null }
  | { ok: false; code: FailureCode; message: string; stack?: string }

export interface InvokeResult {
  outcome: Outcome
  /** The worker was started for this call (cold start). */
  coldStart: boolean
  /** Time to start the process and load the function (cold starts only). */
  startMs?: number
  /** The worker's peak memory during the call. */
  memory?: PeakMemory
}

export interface PoolOptions {
  workerScript: string
  maxWorkers: number
  idleTimeoutMs: number
  /** Environment every worker of this function starts with (SDK redirection, env id...). */
  baseEnv: Record<string, string>
  /** Receives each line a worker prints, with the request it was serving. */
  onLog: (fn: string, requestId: string | undefined, stream: 'stdout' | 'stderr', line: string) => void
}

interface Worker {
  proc: ChildProcess
  ready: Promise<number>
  busy: boolean
  retired: boolean
  exited: boolean
  /** The IPC channel closed (the process is dying or dead): it can take no call. */
  disconnected: boolean
  lastUsed: number
  current?: string
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void
  onResult?: (message: WorkerMessage) => void
}

/** How often a call that never ran (its worker died before taking it) is tried on a fresh worker. */
const MAX_ATTEMPTS = 3

/** A call that did not reach its worker: it never ran, so running it elsewhere is safe. */
type Attempt = { ran: true; outcome: Outcome; memory?: PeakMemory } | { ran: false; reason: string }

export class FunctionPool {
  private workers: Worker[] = []
  /** Workers that have served a call already: the next call on them is warm. */
  private readonly warm = new WeakSet<Worker>()
  private waiting: Array<(worker: Worker) => void> = []
  private readonly reaper: NodeJS.Timeout
  private closed = false

  constructor(
    readonly config: FunctionConfig,
    private readonly options: PoolOptions,
  ) {
    this.reaper = setInterval(() => this.reapIdle(), Math.min(30_000, options.idleTimeoutMs))
    this.reaper.unref()
  }

  get size(): number {
    return this.workers.length
  }

  private spawn(): Worker {
    const proc = fork(this.options.workerScript, [], {
      cwd: this.config.dir,
      env: {
        ...this.options.baseEnv,
        ...this.config.envVariables,
        LOCAL_CLOUD_FUNCTION_ENTRY: this.config.entry,
      },
      execArgv: [`--max-old-space-size=${this.config.memoryMb}`],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    })
    const worker: Worker = { proc, busy: false, retired: false, exited: false, disconnected: false, lastUsed: Date.now(), ready: Promise.resolve(0) }
    for (const stream of ['stdout', 'stderr'] as const) {
      const source = proc[stream]
      if (source) {
        createInterface({ input: source }).on('line', (line) => this.options.onLog(this.config.name, worker.current, stream, line))
      }
    }
    worker.ready = new Promise<number>((resolve, reject) => {
      const started = Date.now()
      proc.once('message', (raw: unknown) => {
        const message = raw as WorkerMessage
        if (message.type === 'ready') resolve(Date.now() - started)
        else if (message.type === 'load-error') reject(Object.assign(new Error(message.message), { stack: message.stack }))
        else reject(new Error(`unexpected first message from worker: ${message.type}`))
      })
      proc.once('exit', (code) => reject(new Error(`worker exited with code ${String(code)} while loading`)))
    })
    worker.ready.catch(() => undefined)
    proc.on('message', (raw: unknown) => worker.onResult?.(raw as WorkerMessage))
    // A send to a process that died (EPIPE, a closed channel) is reported here and through the
    // send's callback; without a listener it would be thrown and take the whole local cloud down.
    proc.on('error', (err) => {
      this.options.onLog(this.config.name, worker.current, 'stderr', `worker ${String(proc.pid)}: ${err.message}`)
      this.unusable(worker)
    })
    proc.on('disconnect', () => this.unusable(worker))
    proc.on('exit', (code, signal) => {
      worker.exited = true
      this.workers = this.workers.filter((w) => w !== worker)
      worker.onExit?.(code, signal)
      this.dispatch()
    })
    this.workers.push(worker)
    return worker
  }

  /**
   * A worker whose channel closed or failed: no new call goes to it, and an idle one is made sure to
   * end (a busy one ends with its call: its exit, or the timeout, settles it).
   */
  private unusable(worker: Worker): void {
    if (worker.disconnected) return
    worker.disconnected = true
    if (!worker.busy) this.kill(worker)
  }

  private usable(worker: Worker): boolean {
    return !worker.retired && !worker.exited && !worker.disconnected && worker.proc.connected
  }

  /** Hands free workers to waiting calls, spawning new ones while under the limit. */
  private dispatch(): void {
    while (this.waiting.length > 0 && !this.closed) {
      const free = this.workers.find((w) => !w.busy && this.usable(w))
      const worker = free ?? (this.workers.length < this.options.maxWorkers ? this.spawn() : undefined)
      if (!worker) return
      worker.busy = true
      this.waiting.shift()!(worker)
    }
  }

  private acquire(): Promise<Worker> {
    return new Promise((resolve) => {
      this.waiting.push(resolve)
      this.dispatch()
    })
  }

  private release(worker: Worker, replace: boolean): void {
    worker.busy = false
    worker.current = undefined
    worker.onExit = undefined
    worker.onResult = undefined
    worker.lastUsed = Date.now()
    if (replace || worker.retired) this.kill(worker)
    this.dispatch()
  }

  private kill(worker: Worker): void {
    worker.retired = true
    if (!worker.exited) worker.proc.kill('SIGKILL')
  }

  async invoke(requestId: string, event: unknown, context: Record<string, unknown>, env: Record<string, string>): Promise<InvokeResult> {
    if (!existsSync(this.config.entry)) {
      return {
        coldStart: false,
        outcome: { ok: false, code: 'FUNCTION_NOT_BUILT', message: `${this.config.entry} does not exist: run \`npm run build\`` },
      }
    }
    let coldStart = false
    let startMs: number | undefined
    for (let attempt = 1; ; attempt++) {
      const worker = await this.acquire()
      let result: Attempt | undefined
      let replace = true
      try {
        const cold = !this.warm.has(worker)
        this.warm.add(worker)
        coldStart ||= cold
        try {
          const loaded = await worker.ready
          if (cold) startMs = loaded
        } catch (err) {
          const e = err as Error
          return { coldStart: true, outcome: { ok: false, code: 'FUNCTION_LOAD_ERROR', message: e.message, stack: e.stack } }
        }
        result = await this.run(worker, requestId, event, context, env)
        replace = !result.ran || !result.outcome.ok
      } finally {
        // Every way out, a thrown error included, gives the worker back (or replaces it).
        this.release(worker, replace)
      }
      if (result.ran) {
        return { outcome: result.outcome, coldStart, ...(coldStart ? { startMs } : {}), ...(result.memory ? { memory: result.memory } : {}) }
      }
      this.options.onLog(this.config.name, requestId, 'stderr', `${result.reason}; the call never ran${attempt < MAX_ATTEMPTS ? ', running it on a fresh worker' : ''}`)
      if (attempt >= MAX_ATTEMPTS) {
        return { coldStart, outcome: { ok: false, code: 'FUNCTION_CRASHED', message: `${result.reason} before the call started, ${MAX_ATTEMPTS} times` } }
      }
    }
  }

  /** Sends one call to a worker and waits for its outcome, or learns that it never started. */
  private run(worker: Worker, requestId: string, event: unknown, context: Record<string, unknown>, env: Record<string, string>): Promise<Attempt> {
    if (!this.usable(worker)) return Promise.resolve({ ran: false, reason: 'the worker had disconnected' })
    worker.current = requestId
    return new Promise<Attempt>((resolve) => {
      let started = false
      let timer: NodeJS.Timeout | undefined
      const finish = (attempt: Attempt) => {
        clearTimeout(timer)
        worker.onExit = undefined
        worker.onResult = undefined
        resolve(attempt)
      }
      worker.onExit = (code, signal) => {
        if (!started) finish({ ran: false, reason: `the worker exited (code ${String(code)}, signal ${String(signal)})` })
        else finish({ ran: true, outcome: { ok: false, code: 'FUNCTION_CRASHED', message: `The function's process exited (code ${String(code)}, signal ${String(signal)}) during the call` } })
      }
      worker.onResult = (message) => {
        if (message.type === 'started' && message.requestId === requestId) {
          started = true
          return
        }
        if (message.type !== 'result' || message.requestId !== requestId) return
        const outcome: Outcome = message.ok ? { ok: true, json: message.json } : { ok: false, code: 'FUNCTION_ERROR', message: message.error.message, stack: message.error.stack }
        finish({ ran: true, outcome, ...(message.memory ? { memory: message.memory } : {}) })
      }
      // The timeout counts from the send, as the cloud counts from the call.
      timer = setTimeout(() => {
        finish({ ran: true, outcome: { ok: false, code: 'FUNCTION_TIMEOUT', message: `Invoking task timed out after ${(this.config.timeoutMs / 1000).toFixed(0)} seconds` } })
      }, this.config.timeoutMs)
      const message: InvokeMessage = { type: 'invoke', requestId, event, context, env }
      try {
        worker.proc.send(message, (err) => {
          if (err && !started) {
            this.unusable(worker)
            finish({ ran: false, reason: `the send to the worker failed (${err.message})` })
          }
        })
      } catch (err) {
        // The event could not be serialized (the worker received nothing and is fine).
        clearTimeout(timer)
        worker.onExit = undefined
        worker.onResult = undefined
        resolve({ ran: true, outcome: { ok: false, code: 'FUNCTION_ERROR', message: `The event could not be sent to the function: ${(err as Error).message}` } })
      }
    })
  }

  /** Replaces every worker (after a rebuild): idle ones now, busy ones when their call ends. */
  recycle(): void {
    for (const worker of this.workers) {
      if (worker.busy) worker.retired = true
      else this.kill(worker)
    }
  }

  private reapIdle(): void {
    const now = Date.now()
    for (const worker of this.workers) {
      if (!worker.busy && now - worker.lastUsed > this.options.idleTimeoutMs) this.kill(worker)
    }
  }

  close(): void {
    this.closed = true
    clearInterval(this.reaper)
    for (const worker of this.workers) this.kill(worker)
    this.waiting = []
  }
}
