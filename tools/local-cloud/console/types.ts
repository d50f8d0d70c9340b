/** Shapes the console API answers with, shared by the server and the web app (no Node imports here). */

/** The last run of a timer trigger (scheduled or "run now"). */
export interface TimerRun {
  requestId: string
  at: number
  outcome: string
  durationMs: number
  /** The function's result or error, as JSON text (cut to 2 KB). */
  result: string
}
