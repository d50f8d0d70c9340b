/**
 * Database conformance, part 5: transactions (runTransaction, startTransaction / commit /
 * rollback), through the unmodified wx-server-sdk against the local cloud.
 */
import { TRANSACTION_TTL_MS } from '../../tools/local-cloud/db/store'
import { startCloud, type TestCloud, connectSdk, rejection, type SdkError } from '../helpers/local-cloud'

type Doc = Record<string, any>
let t: TestCloud
// The SDK's typings declare results as `Promise<X> | void | string`; tests use it untyped.
let db: any
/** The documented transaction setup: a missing document reads as null instead of throwing. */
let lenient: any
let _: any
let seq = 0

beforeAll(async () => {
  t = await startCloud()
  const cloud = connectSdk(t.cloud)
  db = cloud.database()
  lenient = cloud.database({ throwOnNotFound: false } as never)
  _ = db.command
  await db.createCollection('accounts')
  await db.createCollection('ledger')
})
afterAll(() => t.stop())

/** Two fresh accounts, A with 100 and B with 0. */
async function accounts(): Promise<{ a: string; b: string }> {
  const n = ++seq
  const a = `A${n}`
  const b = `B${n}`
  await db.collection('accounts').add({ data: [{ _id: a, balance: 100 }, { _id: b, balance: 0 }] })
  return { a, b }
}

/** The document as committed (outside any transaction), or null. */
async function committed(collection: string, id: string): Promise<Doc | null> {
  return (await lenient.collection(collection).doc(id).get()).data
}

async function balance(id: string): Promise<number> {
  return (await committed('accounts', id))!.balance
}

describe('runTransaction', () => {
  test('commits every write when the function returns, and resolves with its return value', async () => {
    const { a, b } = await accounts()
    const result = await db.runTransaction(async (tx: any) => {
      const from = (await tx.collection('accounts').doc(a).get()).data
      await tx.collection('accounts').doc(a).update({ data: { balance: _.inc(-30) } })
      await tx.collection('accounts').doc(b).update({ data: { balance: _.inc(30) } })
      const log = await tx.collection('ledger').add({ data: { _id: `log-${a}`, from: a, to: b, amount: 30 } })
      return { before: from.balance, logId: log._id }
    })
    expect(result).toEqual({ before: 100, logId: `log-${a}` })
    expect([await balance(a), await balance(b)]).toEqual([70, 30])
    expect(await committed('ledger', `log-${a}`)).toEqual({ _id: `log-${a}`, from: a, to: b, amount: 30 })
    expect(t.cloud.store.openTransactions()).toBe(0)
  })

  test('transaction.rollback(reason) rejects runTransaction with that reason and writes nothing', async () => {
    const { a, b } = await accounts()
    const reason = { code: 'INSUFFICIENT', wanted: 500 }
    const err = await rejection(
      db.runTransaction(async (tx: any) => {
        await tx.collection('accounts').doc(a).update({ data: { balance: _.inc(-500) } })
        await tx.collection('accounts').doc(b).update({ data: { balance: _.inc(500) } })
        await tx.collection('ledger').add({ data: { _id: `log-${a}`, amount: 500 } })
        await tx.rollback(reason)
      }),
    )
    expect(err).toEqual(reason)
    expect([await balance(a), await balance(b)]).toEqual([100, 0])
    expect(await committed('ledger', `log-${a}`)).toBeNull()
    expect(t.cloud.store.openTransactions()).toBe(0)
  })

  test('a function that throws rejects runTransaction with its error and writes nothing', async () => {
    const { a, b } = await accounts()
    const err = await rejection(
      db.runTransaction(async (tx: any) => {
        await tx.collection('accounts').doc(a).update({ data: { balance: 0 } })
        await tx.collection('accounts').doc(b).set({ data: { balance: 100 } })
        throw new Error('function crashed half way')
      }),
    )
    expect((err as Error).message).toContain('function crashed half way')
    expect([await balance(a), await balance(b)]).toEqual([100, 0])
    expect(t.cloud.store.openTransactions()).toBe(0)
  })

  test('20 parallel read-then-write increments of one field end at exactly +20, each seeing a distinct value', async () => {
    const { a } = await accounts()
    // runTransaction retries a conflict 3 times; 20 contenders can need more, so retry until it commits.
    const increment = async (): Promise<number> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await db.runTransaction(async (tx: any) => {
            const { data } = await tx.collection('accounts').doc(a).get()
            await tx.collection('accounts').doc(a).update({ data: { balance: data.balance + 1 } })
            return data.balance as number
          })
        } catch (err) {
          if ((err as SdkError).code !== 'DATABASE_TRANSACTION_CONFLICT' || attempt >= 100) throw err
        }
      }
    }
    const seen = await Promise.all(Array.from({ length: 20 }, increment))
    expect(await balance(a)).toBe(120)
    // Every committed increment read a different value: none was lost, none applied twice.
    expect(seen.sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_unused, i) => 100 + i))
    expect(t.cloud.store.openTransactions()).toBe(0)
  })
})

describe('startTransaction', () => {
  test('writes stay invisible outside until commit, then all appear', async () => {
    const { a, b } = await accounts()
    const tx = await db.startTransaction()
    await tx.collection('accounts').doc(a).update({ data: { balance: _.inc(-40) } })
    await tx.collection('accounts').doc(b).update({ data: { balance: _.inc(40) } })
    expect([await balance(a), await balance(b)]).toEqual([100, 0])
    await tx.commit()
    expect([await balance(a), await balance(b)]).toEqual([60, 40])
  })

  test('rollback discards every write', async () => {
    const { a, b } = await accounts()
    const tx = await db.startTransaction()
    await tx.collection('accounts').doc(a).set({ data: { balance: -1 } })
    await tx.collection('accounts').doc(b).remove()
    await tx.collection('ledger').add({ data: { _id: `log-${a}` } })
    await tx.rollback()
    expect(await committed('accounts', a)).toEqual({ _id: a, balance: 100 })
    expect(await committed('accounts', b)).toEqual({ _id: b, balance: 0 })
    expect(await committed('ledger', `log-${a}`)).toBeNull()
    expect(t.cloud.store.openTransactions()).toBe(0)
  })

  test('reads inside a transaction see its own writes: update, set, remove and add', async () => {
    const { a, b } = await accounts()
    const tx = await lenient.startTransaction()
    const accountsIn = tx.collection('accounts')
    await accountsIn.doc(a).update({ data: { balance: _.inc(5), note: 'updated' } })
    expect((await accountsIn.doc(a).get()).data).toEqual({ _id: a, balance: 105, note: 'updated' })
    await accountsIn.doc(a).set({ data: { replaced: true } })
    expect((await accountsIn.doc(a).get()).data).toEqual({ _id: a, replaced: true })
    expect((await accountsIn.doc(b).remove()).stats.removed).toBe(1)
    expect((await accountsIn.doc(b).get()).data).toBeNull()
    const added = await accountsIn.add({ data: { balance: 7 } })
    expect(added._id).toMatch(/^[0-9a-f]{32}$/)
    expect((await accountsIn.doc(added._id).get()).data).toEqual({ _id: added._id, balance: 7 })

    // Nothing is visible outside yet.
    expect(await committed('accounts', a)).toEqual({ _id: a, balance: 100 })
    expect(await committed('accounts', b)).toEqual({ _id: b, balance: 0 })
    expect(await committed('accounts', added._id)).toBeNull()

    await tx.commit()
    expect(await committed('accounts', a)).toEqual({ _id: a, replaced: true })
    expect(await committed('accounts', b)).toBeNull()
    expect(await committed('accounts', added._id)).toEqual({ _id: added._id, balance: 7 })
  })

  test('a commit after an outside write to a document the transaction read fails with a conflict; the outside write stays', async () => {
    const { a } = await accounts()
    const tx = await db.startTransaction()
    const { data } = await tx.collection('accounts').doc(a).get()
    await db.collection('accounts').doc(a).update({ data: { balance: _.inc(1) } })
    await tx.collection('accounts').doc(a).update({ data: { balance: data.balance + 50 } })
    const err = (await rejection(tx.commit())) as SdkError
    expect(err.code).toBe('DATABASE_TRANSACTION_CONFLICT')
    expect(await balance(a)).toBe(101)
  })

  test('a transaction whose function dies (never commits) changes nothing, and expires', async () => {
    const { a } = await accounts()
    const open = t.cloud.store.openTransactions()
    const tx = await db.startTransaction()
    await tx.collection('accounts').doc(a).update({ data: { balance: 999 } })
    // The function dies here: neither commit nor rollback is ever sent.
    expect(t.cloud.store.openTransactions()).toBe(open + 1)
    expect(await balance(a)).toBe(100)

    const now = Date.now()
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now + TRANSACTION_TTL_MS + 1_000)
    try {
      // Once expired it is gone: a late commit cannot apply its writes.
      const err = (await rejection(tx.commit())) as SdkError
      expect(err.code).toBe('DATABASE_REQUEST_FAILED')
      expect(t.cloud.store.openTransactions()).toBe(open)
    } finally {
      clock.mockRestore()
    }
    expect(await balance(a)).toBe(100)
  })
})

describe('what a transaction refuses or does not cover', () => {
  test('where().get inside a transaction is refused (only single-document operations by _id are allowed)', async () => {
    const { a } = await accounts()
    const tx = await db.startTransaction()
    const err = (await rejection(tx.collection('accounts').where({ balance: 100 }).get())) as SdkError
    expect(err.errCode).toBe(-502001)
    expect(err.errMsg).toContain('single document')
    // A where() on _id alone is a single-document read and is allowed.
    expect((await tx.collection('accounts').where({ _id: a }).get()).data).toEqual([{ _id: a, balance: 100 }])
    await tx.rollback()
  })

  test('SDK: aggregate through a transaction carries no transaction id, so it runs outside and does not see its writes', async () => {
    const { a } = await accounts()
    const tx = await db.startTransaction()
    await tx.collection('accounts').doc(a).update({ data: { balance: 1 } })
    const { list } = await tx.collection('accounts').aggregate().match({ _id: a }).end()
    expect(list).toEqual([{ _id: a, balance: 100 }])
    await tx.rollback()
    expect(await balance(a)).toBe(100)
  })
})
