/**
 * Who may talk to the local cloud. It plays WeChat's authenticated channel (the caller's openid is a
 * header), so anything that reaches it can act as any user, an admin included. The model:
 *
 *  - Loopback by default: only this machine reaches it.
 *  - No cross-site requests, on every route: a `Host` that is not one of this machine's names is
 *    refused (DNS rebinding), so is a foreign `Origin` (a web page posting to it), and a body sent
 *    to a JSON route must be labeled `application/json` (what a form or a `text/plain` fetch cannot
 *    do without a preflight, which the local cloud never grants).
 *  - Off loopback (`--host 0.0.0.0` to test on a phone), a request from another machine must carry
 *    the access token printed at start (`x-local-cloud-token`), except the signed storage URLs, which
 *    carry their own signature (an `<image>` cannot send headers).
 */
import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import os from 'node:os'
import { header, HttpError } from './http'

export const TOKEN_HEADER = 'x-local-cloud-token'

/** The mini-program's own pages (WeChat's webview origin), should a client send an Origin at all. */
const MINIPROGRAM_ORIGIN = 'https://servicewechat.com'

export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false
  const plain = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address
  return plain === '::1' || /^127\.\d+\.\d+\.\d+$/.test(plain)
}

/** Addresses this machine answers to, by interface (loopback excluded). */
export function lanAddresses(): string[] {
  return Object.values(os.networkInterfaces())
    .flat()
    .filter((i): i is os.NetworkInterfaceInfo => i !== undefined && !i.internal)
    .map((i) => i.address)
}

export interface AccessPolicy {
  /** Host names (no port) this server may be reached by. */
  hosts: ReadonlySet<string>
  /** Required from callers not on loopback; null when the server listens on loopback only. */
  token: string | null
}

/** The policy for a server listening on `host`. */
export function accessPolicy(host: string, token: string | null): AccessPolicy {
  const hosts = new Set(['localhost', '127.0.0.1', '::1'])
  if (!isLoopbackAddress(host) && host !== 'localhost') {
    for (const address of lanAddresses()) hosts.add(address.toLowerCase())
    const name = os.hostname().toLowerCase()
    hosts.add(name)
    hosts.add(`${name}.local`)
    if (host !== '0.0.0.0' && host !== '::') hosts.add(host.toLowerCase())
  }
  return { hosts, token }
}

/** `host[:port]`, `[v6]:port` → the bare host name, lower case. */
function hostName(value: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(value)
  if (v6) return v6[1]!.toLowerCase()
  return value.replace(/:\d+$/, '').toLowerCase()
}

function sameToken(given: string | undefined, expected: string): boolean {
  if (!given) return false
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** Routes whose body is JSON: the gateway, the SDK endpoint (except open API's multipart), inspection. */
function jsonRoute(path: string, contentType: string): boolean {
  if (path.startsWith('/storage/')) return path === '/storage/client-temp-url'
  if (path.startsWith('/admin') && contentType.startsWith('multipart/form-data')) return false
  return true
}

/** URLs that carry their own signature (temporary download URLs, signed uploads). */
function signedStorageUrl(method: string, path: string): boolean {
  return ((method === 'GET' || method === 'HEAD') && path.startsWith('/storage/file/')) || (method === 'PUT' && path === '/storage/upload')
}

/**
 * Throws the typed refusal for a request the policy does not let in. `invocation`: the request came
 * on a live invocation's own SDK endpoint (a worker's), whose unguessable path stands for the token.
 */
export function checkAccess(req: IncomingMessage, path: string, policy: AccessPolicy, invocation = false): void {
  const host = header(req, 'host')
  if (!host || !policy.hosts.has(hostName(host))) {
    throw new HttpError(403, 'HOST_NOT_ALLOWED', `Host "${host ?? ''}" is not this machine: the local cloud answers only to its own names`)
  }
  const origin = header(req, 'origin')
  if (origin !== undefined && origin !== MINIPROGRAM_ORIGIN) {
    let allowed = false
    try {
      allowed = policy.hosts.has(hostName(new URL(origin).host))
    } catch {
      // "null" and other opaque origins are foreign
    }
    if (!allowed) throw new HttpError(403, 'ORIGIN_NOT_ALLOWED', `Requests from ${origin} are refused: the local cloud takes no cross-site requests`)
  }
  const method = req.method ?? 'GET'
  if (policy.token !== null && !invocation && !isLoopbackAddress(req.socket.remoteAddress) && !signedStorageUrl(method, path)) {
    if (!sameToken(header(req, TOKEN_HEADER), policy.token)) {
      throw new HttpError(401, 'TOKEN_REQUIRED', `Off loopback, send the access token printed at start in the ${TOKEN_HEADER} header`)
    }
  }
  if (method === 'POST' || method === 'PUT' || method === 'PATCH' || method === 'DELETE') {
    const contentType = (header(req, 'content-type') ?? '').toLowerCase()
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined
    if (jsonRoute(path, contentType) && (contentType ? !/^application\/json\s*(;|$)/.test(contentType) : hasBody)) {
      throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the body as JSON, with Content-Type: application/json')
    }
  }
}
