/** Messages between the local cloud and a function worker process (over Node's IPC channel). */

export interface InvokeMessage {
  type: 'invoke'
  requestId: string
  event: unknown
  context: Record<string, unknown>
  /** Process environment for this invocation: WX_* identity and TCB_CONTEXT_CNFG with its token. */
  env: Record<string, string>
}

export type WorkerMessage =
  | { type: 'ready'; loadMs: number }
  | { type: 'load-error'; message: string; stack?: string }
  /** Sent on receiving a call, before it runs: a call not acknowledged never ran (safe to rerun). */
  | { type: 'started'; requestId: string }
  | {
      type: 'result'
      requestId: string
      ok: true
      /** The function's return value as JSON text (what the cloud would serialize), or null. */
      json: string | null
      memory?: PeakMemory
    }
  | { type: 'result'; requestId: string; ok: false; error: { name: string; message: string; stack?: string }; memory?: PeakMemory }

/** The worker's peak memory during one call, in MB. */
export interface PeakMemory {
  heapMb: number
  rssMb: number
}
