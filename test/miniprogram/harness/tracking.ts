/**
 * Helpers for the tracking tests: what a device sent to `track`, what the cloud stored, waiting on
 * the device, and a proxy in front of the local cloud that can fail, delay, hold or lose calls.
 */
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { TrackedEvent } from '../../../cloudfunctions/track/plan'
import { adminRequest } from './net'
import type { FakeWx } from './wx'

/** An event as the cloud stored it. */
export interface StoredEvent {
  _id: string
  name: string
  anonymousId: string
  sessionId: string
  page: string
  openid?: string
  props: Record<string, unknown>
}

/** The cloud's `events` matching `query` (e.g. one device's `{ anonymousId }`). */
export async function storedEvents(cloudUrl: string, query: Record<string, unknown>): Promise<StoredEvent[]> {
  const reply = await adminRequest(cloudUrl, {
    action: 'database.getDocument',
    collectionName: 'events',
    queryType: 'WHERE',
    query: JSON.stringify(query),
    limit: 1000,
  })
  if (reply.status !== 200) throw new Error(`events query answered ${reply.status}: ${JSON.stringify(reply.body)}`)
  return (reply.body.data.list as string[]).map((text) => JSON.parse(text) as StoredEvent)
}

/** The batches the device sent to `track`, in order. */
export function trackBatches(fake: FakeWx): TrackedEvent[][] {
  return fake.log.requests
    .filter((r) => r.url.endsWith('/functions/track'))
    .map((r) => (r.data as { data: { events: TrackedEvent[] } }).data.events)
}

// The waits use the timer as it was before any test's spy (retry tests record the tracker's), and
// the monotonic clock (some tests set Date.now).
const nativeSetTimeout = globalThis.setTimeout
export const sleep = (ms: number) => new Promise((resolve) => nativeSetTimeout(resolve, ms))

/** Waits for `condition`, generously: it only waits (a loaded machine is slow), it measures nothing. */
export async function until(condition: () => boolean, what: string, timeoutMs = 25_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

/**
 * What the proxy does with one request: `pass` it on, `fail` it without forwarding (a 503, as a
 * broken gateway would), `drop` the reply after the cloud has handled it (the connection dies on
 * the way back), `hold` the reply until release(), or delay it.
 */
export type Fate = 'pass' | 'fail' | 'drop' | 'hold' | { delayMs: number }

export interface Hit {
  path: string
  body: any
  fate: Fate
  /** The cloud's answer, when the request reached it. */
  reply?: any
  /** The proxy has answered (or dropped the connection). */
  done?: boolean
}

export interface Proxy {
  url: string
  hits: Hit[]
  /** Sends the held replies. */
  release(): void
  close(): Promise<void>
}

/** Starts a proxy to `target`; `decide` picks each request's fate. Close it after the test. */
export async function startProxy(target: string, decide: (path: string, body: any) => Fate): Promise<Proxy> {
  const hits: Hit[] = []
  const held: (() => void)[] = []
  const sockets = new Set<Socket>()
  const agent = new http.Agent({ keepAlive: false })
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks)
      const body = JSON.parse(raw.toString('utf8') || 'null')
      const fate = decide(req.url ?? '', body)
      const hit: Hit = { path: req.url ?? '', body, fate }
      hits.push(hit)
      if (fate === 'fail') {
        res.writeHead(503, { 'content-type': 'application/json', connection: 'close' })
        res.end(JSON.stringify({ error: { message: 'proxy: failed before forwarding' } }))
        hit.done = true
        return
      }
      const forward = () => {
        const out = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers, agent }, (answer) => {
          const parts: Buffer[] = []
          answer.on('data', (c: Buffer) => parts.push(c))
          answer.on('end', () => {
            const text = Buffer.concat(parts)
            try {
              hit.reply = JSON.parse(text.toString('utf8'))
            } catch {
              hit.reply = text.toString('utf8')
            }
            const send = () => {
              res.writeHead(answer.statusCode ?? 502, { 'content-type': 'application/json', connection: 'close' })
              res.end(text)
              hit.done = true
            }
            if (fate === 'drop') {
              req.socket.destroy()
              hit.done = true
            } else if (fate === 'hold') held.push(send)
            else send()
          })
        })
        out.on('error', () => req.socket.destroy())
        out.end(raw)
      }
      if (typeof fate === 'object') nativeSetTimeout(forward, fate.delayMs)
      else forward()
    })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    release: () => {
      for (const send of held.splice(0)) send()
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}
