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

/** A conflict: a commit's error keeps its code; a write's error through wx-server-sdk only its message. */
function isConflict(err: SdkError): boolean {
  return err.code === 'DATABASE_TRANSACTION_CONFLICT' || /TransactionConflict/.test(err.errMsg ?? '')
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
    // A write to a document another open transaction is writing fails at once (wx-server-sdk reports
    // it as errCode -501001 with the conflict in its message, which runTransaction does not retry),
    // and 20 contenders need many attempts: retry until it commits.
    const increment = async (): Promise<number> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await db.runTransaction(async (tx: any) => {
            const { data } = await tx.collection('accounts').doc(a).get()
            await tx.collection('accounts').doc(a).update({ data: { balance: data.balance + 1 } })
            return data.balance as number
          })
        } catch (err) {
          if (!isConflict(err as SdkError) || attempt >= 200) throw err
          // Contenders spread out a little (a jittered pause, not a timing assertion).
          await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(attempt, 20)))
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

  test('a write to a document changed outside since the transaction started fails at once with a conflict; the outside write stays', async () => {
    const { a } = await accounts()
    const tx = await db.startTransaction()
    const { data } = await tx.collection('accounts').doc(a).get()
    await db.collection('accounts').doc(a).update({ data: { balance: _.inc(1) } })
    const err = (await rejection(tx.collection('accounts').doc(a).update({ data: { balance: data.balance + 50 } }))) as SdkError
    expect(isConflict(err)).toBe(true)
    // The conflict ended the transaction: nothing of it can commit.
    expect((await rejection(tx.commit())).code).toBe('DATABASE_TRANSACTION_FAIL')
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
      expect(err.code).toBe('DATABASE_TRANSACTION_FAIL')
      expect(t.cloud.store.openTransactions()).toBe(open)
    } finally {
      clock.mockRestore()
    }
    expect(await balance(a)).toBe(100)
  })
})

// WeChat documents its cloud database transactions as snapshot isolation (数据库事务, 快照隔离):
// reads return the transaction's snapshot; a write changes the snapshot and locks the document; a
// write by another transaction to a locked document fails at once. A transaction that no longer
// exists answers DATABASE_TRANSACTION_FAIL ("[ResourceUnavailable.TransactionNotExist] ...").
describe('snapshot isolation', () => {
  test('a re-read inside a transaction returns its snapshot after an outside write; outside reads see the write', async () => {
    const { a, b } = await accounts()
    const tx = await db.startTransaction()
    expect((await tx.collection('accounts').doc(a).get()).data.balance).toBe(100)
    await db.collection('accounts').doc(a).update({ data: { balance: 7 } })
    await db.collection('accounts').doc(b).update({ data: { balance: 8 } })
    // a was read before the outside write, b never: both read as they were when the transaction started.
    expect((await tx.collection('accounts').doc(a).get()).data.balance).toBe(100)
    expect((await tx.collection('accounts').doc(b).get()).data.balance).toBe(0)
    expect([await balance(a), await balance(b)]).toEqual([7, 8])
    await tx.rollback()
  })

  test('documents added or removed outside after the start are still missing or present inside', async () => {
    const { a } = await accounts()
    const tx = await lenient.startTransaction()
    const later = `later-${a}`
    await db.collection('accounts').add({ data: { _id: later, balance: 1 } })
    await db.collection('accounts').doc(a).remove()
    expect((await tx.collection('accounts').doc(later).get()).data).toBeNull()
    expect((await tx.collection('accounts').doc(a).get()).data).toEqual({ _id: a, balance: 100 })
    await tx.rollback()
  })

  test('a second open transaction writing the same document fails at once with DATABASE_TRANSACTION_CONFLICT; the first commits', async () => {
    const { a } = await accounts()
    const first = await db.startTransaction()
    const second = await db.startTransaction()
    await first.collection('accounts').doc(a).update({ data: { balance: _.inc(-10) } })
    const err = (await rejection(second.collection('accounts').doc(a).update({ data: { balance: _.inc(-20) } }))) as SdkError
    expect(isConflict(err)).toBe(true)
    const set = (await rejection(second.collection('accounts').doc(a).set({ data: { balance: 0 } }))) as SdkError
    expect(set.errCode).toBe(-501001) // the conflict ended the second transaction
    await first.commit()
    expect(await balance(a)).toBe(90)
    expect(t.cloud.store.openTransactions()).toBe(0)
  })

  test('runTransaction rejects with the conflict when its write meets another open transaction, and writes nothing', async () => {
    const { a, b } = await accounts()
    const holder = await db.startTransaction()
    await holder.collection('accounts').doc(a).update({ data: { balance: _.inc(-10) } })
    const err = (await rejection(
      db.runTransaction(async (tx: any) => {
        await tx.collection('accounts').doc(b).update({ data: { balance: _.inc(10) } })
        await tx.collection('accounts').doc(a).update({ data: { balance: _.inc(1) } })
      }),
    )) as SdkError
    expect(isConflict(err)).toBe(true)
    expect(await balance(b)).toBe(0)
    await holder.commit()
    expect(await balance(a)).toBe(90)
    expect(t.cloud.store.openTransactions()).toBe(0)
  })

  test('using a transaction after its commit answers DATABASE_TRANSACTION_FAIL (TransactionNotExist) and changes nothing', async () => {
    const { a } = await accounts()
    const tx = await db.startTransaction()
    await tx.collection('accounts').doc(a).update({ data: { balance: 1 } })
    await tx.commit()
    const read = (await rejection(tx.collection('accounts').doc(a).get())) as SdkError
    expect(read.errCode).toBe(-501001)
    expect(read.errMsg).toContain('TransactionNotExist')
    const write = (await rejection(tx.collection('accounts').doc(a).update({ data: { balance: 2 } }))) as SdkError
    expect(write.errMsg).toContain('TransactionNotExist')
    const again = (await rejection(tx.commit())) as SdkError
    expect(again.code).toBe('DATABASE_TRANSACTION_FAIL')
    expect(again.message).toContain('TransactionNotExist')
    expect(await balance(a)).toBe(1)
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

  test('@cloudbase/node-sdk: updateAndReturn inside a transaction (a where() operation it sends with the transaction id) is refused and writes nothing', async () => {
    const { a } = await accounts()
    // CloudBase's own node SDK offers it; WeChat's runTransaction documentation allows single-record
    // operations only, and the local cloud follows WeChat.
    const tcb = require('@cloudbase/node-sdk')
    const nodeDb = tcb.init({ env: tcb.SYMBOL_CURRENT_ENV }).database()
    const tx = await nodeDb.startTransaction()
    const err = (await rejection(tx.collection('accounts').where({ _id: a }).updateAndReturn({ balance: 0 }))) as SdkError
    expect(err.code).toBe('DATABASE_REQUEST_FAILED')
    expect(err.message).toContain('not supported in a transaction')
    await tx.rollback()
    expect(await balance(a)).toBe(100)
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
