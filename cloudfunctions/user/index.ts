import { collection, isDuplicateKeyError, msgSecCheck, SecScene, serverDate } from '../_shared/cloud'
import type { UserDoc } from '../_shared/models'
import { AppError, createRouter } from '../_shared/router'
import { shanghaiDay } from '../_shared/time'
import { userActions, type UserOutputs, type UserProfile } from './api'

const users = () => collection('users')

function toProfile(doc: UserDoc): UserProfile {
  return {
    openid: doc.openid,
    nickname: doc.nickname,
    avatarUrl: doc.avatarUrl,
    firstSeenAt: new Date(doc.firstSeenAt).toISOString(),
    firstSeenDay: doc.firstSeenDay,
  }
}

async function requireUser(openid: string): Promise<UserDoc> {
  const doc = await users().get(openid)
  if (!doc) throw new AppError('NOT_FOUND', 'No user yet: call login first.')
  return doc
}

export const main = createRouter<typeof userActions, UserOutputs>(userActions, {
  /**
   * One round trip for a returning user (plus one, at most once a day, to record the visit);
   * two for a new one. The document _id is the OPENID, so concurrent first logins cannot create
   * two users: the losers of the insert race get E11000 and read the winner's document.
   */
  async login(_input, { openid, appid, unionid }) {
    const now = new Date()
    const today = shanghaiDay(now)
    const existing = await users().get(openid)
    if (existing) {
      if (existing.lastSeenDay !== today) {
        await users().update(openid, { lastSeenAt: serverDate(), lastSeenDay: today })
      }
      return { user: toProfile(existing), isNew: false }
    }
    const doc: UserDoc = {
      _id: openid,
      openid,
      appid: appid ?? '',
      ...(unionid ? { unionid } : {}),
      nickname: '',
      avatarUrl: '',
      firstSeenAt: now,
      firstSeenDay: today,
      lastSeenAt: now,
      lastSeenDay: today,
      updatedAt: now,
    }
    try {
      await users().add({ ...doc, firstSeenAt: serverDate(), lastSeenAt: serverDate(), updatedAt: serverDate() })
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err
      return { user: toProfile(await requireUser(openid)), isNew: false }
    }
    return { user: toProfile(doc), isNew: true }
  },

  async profile(_input, { openid }) {
    return toProfile(await requireUser(openid))
  },

  async updateProfile(input, { openid }) {
    if (input.nickname !== undefined) {
      const verdict = await msgSecCheck({ content: input.nickname, openid, scene: SecScene.profile })
      if (verdict.suggest !== 'pass') {
        throw new AppError('CONTENT_REJECTED', '昵称未通过内容安全检查，请换一个。')
      }
    }
    const changes = {
      ...(input.nickname !== undefined ? { nickname: input.nickname } : {}),
      ...(input.avatarUrl !== undefined ? { avatarUrl: input.avatarUrl } : {}),
    }
    // updatedAt always changes, so 0 documents updated means there is no such user.
    const updated = await users().update(openid, { ...changes, updatedAt: serverDate() })
    if (updated === 0) throw new AppError('NOT_FOUND', 'No user yet: call login first.')
    return toProfile(await requireUser(openid))
  },
})
