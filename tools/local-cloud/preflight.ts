/**
 * What a local cloud checks before it starts, so a mistake gets a sentence instead of a raw
 * EADDRINUSE or `unable to open database file`: the data folder is usable and not in use by another
 * local cloud (a lock file), the port is free, the word list exists.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { createServer } from 'node:net'
import path from 'node:path'

export const LOCK_FILE = 'local-cloud.lock'

/** Data folders this process holds (a lock file naming this pid but not listed here is stale). */
const held = new Set<string>()

function cause(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied (the folder is not writable by this user)'
    case 'EROFS':
      return 'the file system is read-only'
    case 'ENOTDIR':
    case 'EEXIST':
      return 'a file is in the way (a path component is not a folder)'
    case 'ENOSPC':
      return 'the disk is full'
    default:
      return (err as Error).message
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Creates the data folder if needed and takes its lock; returns the release. Fails with the path
 * and the cause when the folder cannot be made or written, or when another running local cloud
 * holds it (two instances on one database would interleave their writes and timers).
 */
export function lockDataDir(dataDir: string): () => void {
  const dir = path.resolve(dataDir)
  const file = path.join(dir, LOCK_FILE)
  try {
    mkdirSync(dir, { recursive: true })
  } catch (err) {
    throw new Error(`Cannot use the data folder ${dir}: ${cause(err)}. Pick another with --data <dir>.`)
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number
    try {
      fd = openSync(file, 'wx')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`Cannot use the data folder ${dir}: ${cause(err)}. Pick another with --data <dir>.`)
      let owner: { pid?: number; port?: number } = {}
      try {
        owner = JSON.parse(readFileSync(file, 'utf8')) as typeof owner
      } catch {
        // unreadable or half written: stale
      }
      const pid = owner.pid
      const ours = pid === process.pid && held.has(dir)
      if (typeof pid === 'number' && (ours || (pid !== process.pid && alive(pid)))) {
        throw new Error(
          `The data folder ${dir} is in use by another local cloud (pid ${pid}). Stop it (Ctrl-C in its terminal), or give this one its own folder: npm start -- --data .cloud-2 --port 8091`,
        )
      }
      unlinkSync(file)
      continue
    }
    writeSync(fd, JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() }))
    closeSync(fd)
    held.add(dir)
    return () => {
      held.delete(dir)
      try {
        const owner = JSON.parse(readFileSync(file, 'utf8')) as { pid?: number }
        if (owner.pid === process.pid) unlinkSync(file)
      } catch {
        // already gone
      }
    }
  }
  throw new Error(`Cannot take the lock ${file}`)
}

/** Whether something listens on host:port already (without binding it for long). */
export function portInUse(host: string, port: number): Promise<boolean> {
  if (port === 0) return Promise.resolve(false)
  return new Promise((resolve) => {
    const probe = createServer()
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'EADDRINUSE'))
    probe.listen(port, host, () => probe.close(() => resolve(false)))
  })
}

/** The sentence for a busy port: whether a local cloud answers there, and how to pick another port. */
export async function portInUseMessage(host: string, port: number): Promise<string> {
  let who = 'another program'
  try {
    const res = await fetch(`http://${host.includes(':') ? `[${host}]` : host}:${port}/_/health`, { signal: AbortSignal.timeout(1000) })
    const body = (await res.json()) as { ok?: boolean; env?: string }
    if (body.ok) who = `a local cloud (env "${body.env ?? '?'}") already running`
  } catch {
    // not a local cloud
  }
  return `Port ${port} on ${host} is used by ${who}. Stop it, or start this one on another port: npm start -- --port ${port + 1} (or LOCAL_CLOUD_PORT=${port + 1}; --port 0 picks a free one).`
}

/** A word list given on purpose must exist: a missing one would silently pass every content check. */
export function checkWordsFile(file: string | undefined): void {
  if (file !== undefined && !existsSync(file)) {
    throw new Error(`--words ${file}: no such file. Without a word list security.msgSecCheck passes everything; give an existing file (one word, or word<TAB>label, per line).`)
  }
}
