/**
 * `wx.uploadFile` for a device under test: a real multipart POST (the form fields, then the file) to
 * the URL the page gives, as the platform sends it, calling `uploaded` with each file ID the local
 * cloud answers.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'

export interface UploadOptions {
  url: string
  filePath: string
  name: string
  formData: Record<string, string>
  header: Record<string, string>
  success: (r: { statusCode: number; data: string }) => void
  fail: (e: { errMsg: string }) => void
}

export function uploadFileOver(uploaded: (fileId: string) => void): (o: UploadOptions) => void {
  return (o) => {
    // jsdom has no fetch: the multipart body is written by hand.
    const boundary = `----wx${randomBytes(8).toString('hex')}`
    const part = (head: string) => Buffer.from(`--${boundary}\r\n${head}\r\n\r\n`)
    const body = Buffer.concat([
      ...Object.entries(o.formData).flatMap(([k, v]) => [part(`Content-Disposition: form-data; name="${k}"`), Buffer.from(`${v}\r\n`)]),
      part(`Content-Disposition: form-data; name="${o.name}"; filename="${path.basename(o.filePath)}"\r\nContent-Type: image/jpeg`),
      readFileSync(o.filePath),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ])
    const req = http.request(o.url, { method: 'POST', headers: { ...o.header, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const data = Buffer.concat(chunks).toString('utf8')
        if (res.statusCode === 200) uploaded((JSON.parse(data) as { fileID: string }).fileID)
        o.success({ statusCode: res.statusCode ?? 0, data })
      })
    })
    req.on('error', (err) => o.fail({ errMsg: `uploadFile:fail ${err.message}` }))
    req.end(body)
  }
}
