import { randomBytes } from 'node:crypto'
import { isAdmin } from '../_shared/admin'
import { collection, isDuplicateKeyError, miniProgramCode, tempFileUrl, uploadFile } from '../_shared/cloud'
import { newShortCode as newCode } from '../_shared/codes'
import type { ChannelCodeDoc } from '../_shared/models'
import { AppError, createRouter } from '../_shared/router'
import { type ChannelCode, channelActions, type ChannelOutputs } from './api'

async function requireAdmin(openid: string): Promise<void> {
  if (!(await isAdmin(openid))) throw new AppError('FORBIDDEN', 'Only admins can manage channel codes.')
}

function toCode(doc: ChannelCodeDoc): ChannelCode {
  return {
    code: doc._id,
    channel: doc.channel,
    campaign: doc.campaign,
    ...(doc.inviter ? { inviter: doc.inviter } : {}),
    page: doc.page,
    note: doc.note,
    createdAt: new Date(doc.createdAt).toISOString(),
    fileId: doc.qrFileId,
  }
}

export const main = createRouter<typeof channelActions, ChannelOutputs>(channelActions, {
  async createCode(input, { openid }) {
    await requireAdmin(openid)
    for (let attempt = 0; attempt < 3; attempt++) {
      const code = newCode()
      let image: Buffer
      try {
        image = await miniProgramCode({ scene: code, page: input.page, checkPath: input.checkPath, width: 430 })
      } catch (err) {
        const errCode = (err as { errCode?: number }).errCode
        if (errCode === 41030) throw new AppError('INVALID_INPUT', `Page "${input.page}" is not in the published mini-program (or pass checkPath: false).`)
        throw err
      }
      // A file of its own per attempt: a drawn code that is taken must not overwrite the taken code's image.
      const fileId = await uploadFile(`channel-codes/${code}-${randomBytes(4).toString('hex')}.png`, image)
      const doc: ChannelCodeDoc = {
        _id: code,
        channel: input.channel,
        campaign: input.campaign,
        ...(input.inviter ? { inviter: input.inviter } : {}),
        page: input.page,
        note: input.note,
        createdBy: openid,
        createdAt: new Date(),
        qrFileId: fileId,
      }
      try {
        await collection('channel_codes').add(doc)
      } catch (err) {
        if (isDuplicateKeyError(err)) continue // 57^8 codes: a collision is rare, try another
        throw err
      }
      return { ...toCode(doc), imageUrl: await tempFileUrl(fileId) }
    }
    throw new AppError('CONFLICT', 'Could not find a free code; try again.')
  },

  async listCodes({ channel }, { openid }) {
    await requireAdmin(openid)
    const docs = await collection('channel_codes').find(channel ? { channel } : {}, { orderBy: [['createdAt', 'desc']], limit: 100 })
    return { items: docs.map(toCode) }
  },

  async resolve({ code }) {
    const doc = await collection('channel_codes').get(code)
    if (!doc) throw new AppError('NOT_FOUND', 'No such channel code.')
    return { channel: doc.channel, campaign: doc.campaign }
  },
})
