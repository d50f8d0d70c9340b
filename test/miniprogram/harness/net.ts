/**
 * Network helpers for page tests (jsdom has no fetch): JSON over real HTTP, a port where nothing
 * listens, and a server that accepts requests and never answers (for timeouts).
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface HttpReply {
  status: number
  body: any
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body)
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8')
        let parsed: unknown = raw
        try {
          parsed = JSON.parse(raw)
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, body: parsed })
      })
    })
    req.on('error', reject)
    req.end(text)
  })
}

/** Calls a routed function through the local cloud's gateway; returns its `result`. */
export async function callFunction(url: string, fn: string, action: string, data: unknown, openid: string): Promise<any> {
  const reply = await postJson(`${url}/functions/${fn}`, { action, data }, { 'x-wx-openid': openid })
  if (reply.status !== 200) throw new Error(`gateway answered ${reply.status}: ${JSON.stringify(reply.body)}`)
  return reply.body.result
}

/** A request to the SDK endpoint (the cloud's own protocol), e.g. to insert test data. */
export function adminRequest(url: string, body: Record<string, unknown>): Promise<HttpReply> {
  return postJson(`${url}/admin`, body)
}

/** A URL on 127.0.0.1 where nothing listens (the port was free a moment ago). */
export async function deadUrl(): Promise<string> {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}`
}

/** A server that takes every request and never answers, until closed. */
export async function hangingServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<import('node:net').Socket>()
  const server = http.createServer(() => undefined)
  server.on('connection', (socket) => sockets.add(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}
