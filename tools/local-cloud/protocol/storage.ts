/**
 * Cloud storage: upload (getUploadMetadata, then a PUT of the bytes to the URL it returns),
 * temporary download URLs (signed, expiring) and deletion. Files live under <dataDir>/storage.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs'
import path from 'node:path'
import { DbError } from '../db/errors'

/** Default lifetime of a temporary URL (the cloud's default is one day). */
export const TEMP_URL_MAX_AGE_S = 86_400
/** Who uploaded each file from a client (`_id` the cloud path, `openid`), for the storage rule. */
export const STORAGE_FILES = '_storage_files'
/** The largest single upload the local cloud accepts. */
export const MAX_UPLOAD_BYTES = 50 * 1024 * 1024

export class Storage {
  readonly root: string
  private readonly secret = randomBytes(32)

  constructor(
    dataDir: string,
    readonly env: string,
    private readonly baseUrl: () => string,
  ) {
    this.root = path.join(dataDir, 'storage')
    mkdirSync(this.root, { recursive: true })
  }

  /** The bucket part of a file ID, shaped like the cloud's. */
  get bucket(): string {
    return `${this.env}-local-bucket`
  }

  fileId(cloudPath: string): string {
    return `cloud://${this.env}.${this.bucket}/${cloudPath}`
  }

  /** Validates a cloud path: relative, no `..`, printable, at most 850 characters. */
  static checkPath(cloudPath: unknown): string {
    if (typeof cloudPath !== 'string' || cloudPath.length === 0 || cloudPath.length > 850) {
      throw new DbError('INVALID_PARAM', 'cloudPath must be 1-850 characters')
    }
    const parts = cloudPath.split('/')
    if (cloudPath.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..') || /[\u0000-\u001f\\]/.test(cloudPath)) {
      throw new DbError('INVALID_PARAM', `cloudPath "${cloudPath}" is not a valid relative path`)
    }
    return cloudPath
  }

  /** The cloud path of a file ID of this environment, or null. */
  pathOf(fileId: unknown): string | null {
    if (typeof fileId !== 'string') return null
    const prefix = `cloud://${this.env}.${this.bucket}/`
    if (!fileId.startsWith(prefix)) return null
    try {
      return Storage.checkPath(fileId.slice(prefix.length))
    } catch {
      return null
    }
  }

  diskPath(cloudPath: string): string {
    return path.join(this.root, ...cloudPath.split('/'))
  }

  private sign(text: string): string {
    return createHmac('sha256', this.secret).update(text).digest('base64url')
  }

  verify(text: string, signature: unknown): boolean {
    if (typeof signature !== 'string') return false
    const expected = Buffer.from(this.sign(text))
    const given = Buffer.from(signature)
    return expected.length === given.length && timingSafeEqual(expected, given)
  }

  uploadUrl(cloudPath: string): string {
    const query = new URLSearchParams({ path: cloudPath, sig: this.sign(`put:${cloudPath}`) })
    return `${this.baseUrl()}/storage/upload?${query.toString()}`
  }

  tempUrl(cloudPath: string, maxAgeS = TEMP_URL_MAX_AGE_S): string {
    const expires = Math.floor(Date.now() / 1000) + maxAgeS
    const query = new URLSearchParams({ t: String(expires), sign: this.sign(`get:${cloudPath}:${expires}`) })
    return `${this.baseUrl()}/storage/file/${cloudPath.split('/').map(encodeURIComponent).join('/')}?${query.toString()}`
  }

  exists(cloudPath: string): boolean {
    const file = this.diskPath(cloudPath)
    return existsSync(file) && statSync(file).isFile()
  }

  remove(cloudPath: string): boolean {
    if (!this.exists(cloudPath)) return false
    rmSync(this.diskPath(cloudPath))
    return true
  }

  ensureDir(cloudPath: string): void {
    mkdirSync(path.dirname(this.diskPath(cloudPath)), { recursive: true })
  }

  handle(action: string, body: Record<string, unknown>): Record<string, unknown> {
    switch (action) {
      case 'storage.getUploadMetadata': {
        const cloudPath = Storage.checkPath(body.path)
        return {
          data: {
            url: this.uploadUrl(cloudPath),
            token: '',
            authorization: '',
            fileId: this.fileId(cloudPath),
            // The SDK sends this back as an HTTP header, so it must be ASCII whatever the path.
            cosFileId: `local:${encodeURIComponent(cloudPath)}`,
          },
        }
      }
      case 'storage.batchGetDownloadUrl': {
        const list = Array.isArray(body.file_list) ? (body.file_list as { fileid?: unknown; max_age?: unknown }[]) : null
        if (!list) throw new DbError('INVALID_PARAM', 'file_list must be an array')
        if (list.length > 50) throw new DbError('INVALID_PARAM', 'at most 50 files per call')
        return {
          data: {
            download_list: list.map((item) => {
              const cloudPath = this.pathOf(item.fileid)
              const maxAge = typeof item.max_age === 'number' && item.max_age > 0 ? item.max_age : TEMP_URL_MAX_AGE_S
              if (!cloudPath || !this.exists(cloudPath)) {
                return { fileID: item.fileid, tempFileURL: '', code: 'STORAGE_FILE_NONEXIST', message: 'file not exist' }
              }
              return { fileID: item.fileid, tempFileURL: this.tempUrl(cloudPath, maxAge), code: 'SUCCESS', maxAge }
            }),
          },
        }
      }
      case 'storage.batchDeleteFile': {
        const list = Array.isArray(body.fileid_list) ? (body.fileid_list as unknown[]) : null
        if (!list) throw new DbError('INVALID_PARAM', 'fileid_list must be an array')
        if (list.length > 50) throw new DbError('INVALID_PARAM', 'at most 50 files per call')
        return {
          data: {
            delete_list: list.map((fileId) => {
              const cloudPath = this.pathOf(fileId)
              const removed = cloudPath !== null && this.remove(cloudPath)
              return removed ? { fileID: fileId, code: 'SUCCESS' } : { fileID: fileId, code: 'STORAGE_FILE_NONEXIST', message: 'file not exist' }
            }),
          },
        }
      }
      default:
        throw new DbError('INVALID_PARAM', `Unknown storage action ${action}`)
    }
  }
}
