/**
 * Posts a short text to a chat webhook: WeCom (企业微信) and Feishu/Lark group bots get their own
 * message format, any other URL a JSON body with `text` and the details. Node's http(s) module,
 * so it runs on every cloud function runtime (Node 16 has no fetch).
 */
import http from 'node:http'
import https from 'node:https'

/** The host is `domain` or one of its subdomains (not merely a name ending in the same letters). */
function within(host: string, domain: string): boolean {
  return host === domain || host.endsWith(`.${domain}`)
}

export function webhookBody(url: string, text: string, details: Record<string, unknown>): Record<string, unknown> {
  const host = new URL(url).hostname
  if (host === 'qyapi.weixin.qq.com') return { msgtype: 'text', text: { content: text } }
  if (within(host, 'feishu.cn') || within(host, 'larksuite.com')) return { msg_type: 'text', content: { text } }
  return { text, ...details }
}

export function postWebhook(url: string, text: string, details: Record<string, unknown>, timeoutMs = 3000): Promise<number> {
  const body = JSON.stringify(webhookBody(url, text, details))
  const client = url.startsWith('https:') ? https : http
  return new Promise((resolve, reject) => {
    const req = client.request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`webhook timed out after ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end(body)
  })
}
