/** Repository locations shared by the tools. */
import path from 'node:path'

export const ROOT = path.resolve(__dirname, '..')
export const FUNCTIONS_DIR = path.join(ROOT, 'cloudfunctions')
/** The local cloud's worker harness, bundled by `npm run build`. */
export const WORKER_BUNDLE = path.join(ROOT, 'tools/local-cloud/.build/worker.js')
