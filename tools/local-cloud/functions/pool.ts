/**
 * A pool of worker processes per function: one invocation at a time per worker (how a cloud function
 * instance behaves), concurrency = number of workers, a per-function timeout, and a worker that
 * throws, times out or crashes is replaced so the next call starts clean.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import type { FunctionConfig } from './config'
import type { InvokeMessage, PeakMemory, WorkerMessage } from './messages'

export type FailureCode =
  | 'FUNCTION_NOT_BUILT'
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
  lastUsed: number
  current?: string
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void
  onResult?: (message: WorkerMessage) => void
}

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
    const worker: Worker = { proc, busy: false, retired: false, exited: false, lastUsed: Date.now(), ready: Promise.resolve(0) }
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
    proc.on('exit', (code, signal) => {
      worker.exited = true
      this.workers = this.workers.filter((w) => w !== worker)
      worker.onExit?.(code, signal)
      this.dispatch()
    })
    this.workers.push(worker)
    return worker
  }

  /** Hands free workers to waiting calls, spawning new ones while under the limit. */
  private dispatch(): void {
    while (this.waiting.length > 0 && !this.closed) {
      const free = this.workers.find((w) => !w.busy && !w.retired && !w.exited)
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
    const worker = await this.acquire()
    const coldStart = !this.warm.has(worker)
    this.warm.add(worker)
    let startMs: number | undefined
    try {
      startMs = await worker.ready
    } catch (err) {
      this.release(worker, true)
      const e = err as Error
      return { coldStart: true, outcome: { ok: false, code: 'FUNCTION_LOAD_ERROR', message: e.message, stack: e.stack } }
    }
    worker.current = requestId
    let memory: PeakMemory | undefined
    const outcome = await new Promise<Outcome>((resolve) => {
      const timer = setTimeout(() => {
        resolve({
          ok: false,
          code: 'FUNCTION_TIMEOUT',
          message: `Invoking task timed out after ${(this.config.timeoutMs / 1000).toFixed(0)} seconds`,
        })
      }, this.config.timeoutMs)
      worker.onExit = (code, signal) => {
        clearTimeout(timer)
        resolve({ ok: false, code: 'FUNCTION_CRASHED', message: `The function's process exited (code ${String(code)}, signal ${String(signal)}) during the call` })
      }
      worker.onResult = (message) => {
        if (message.type !== 'result' || message.requestId !== requestId) return
        clearTimeout(timer)
        memory = message.memory
        if (message.ok) resolve({ ok: true, json: message.json })
        else resolve({ ok: false, code: 'FUNCTION_ERROR', message: message.error.message, stack: message.error.stack })
      }
      const message: InvokeMessage = { type: 'invoke', requestId, event, context, env }
      worker.proc.send(message)
    })
    this.release(worker, !outcome.ok)
    return { outcome, coldStart, ...(coldStart ? { startMs } : {}), ...(memory ? { memory } : {}) }
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
