/**
 * Errors the cloud database answers with. The SDK maps the `code` string to its numeric errCode
 * (DATABASE_REQUEST_FAILED -502001, DATABASE_INVALID_OPERRATOR -502002, DATABASE_PERMISSION_DENIED
 * -502003, DATABASE_COLLECTION_EXCEED_LIMIT -502004, DATABASE_COLLECTION_NOT_EXIST -502005,
 * INVALID_PARAM -501007); DATABASE_TRANSACTION_CONFLICT is what runTransaction retries on;
 * DATABASE_TRANSACTION_FAIL is a transaction that no longer exists.
 */
export type DbErrorCode =
  | 'DATABASE_REQUEST_FAILED'
  | 'DATABASE_INVALID_OPERRATOR' // sic: the SDK's own spelling
  | 'DATABASE_PERMISSION_DENIED'
  | 'DATABASE_COLLECTION_EXCEED_LIMIT'
  | 'DATABASE_COLLECTION_NOT_EXIST'
  | 'DATABASE_TRANSACTION_CONFLICT'
  | 'DATABASE_TRANSACTION_FAIL'
  | 'INVALID_PARAM'

export class DbError extends Error {
  constructor(
    readonly code: DbErrorCode,
    message: string,
  ) {
    super(message)
    this.name = 'DbError'
  }
}

export function collectionNotExist(env: string, name: string): DbError {
  return new DbError(
    'DATABASE_COLLECTION_NOT_EXIST',
    `[ResourceNotFound] Db or Table not exist: ${name}. Please check your request, but if the problem persists, contact us.` +
      ` (local cloud: collection "${name}" is not in cloudfunctions/_shared/collections.ts of env ${env})`,
  )
}

/** The message shape MongoDB (and so the cloud) uses for a unique-index violation. */
export function duplicateKey(env: string, collection: string, index: string, key: string): DbError {
  return new DbError(
    'DATABASE_REQUEST_FAILED',
    `[FailedOperation] E11000 duplicate key error collection: ${env}.${collection} index: ${index} dup key: ${key}`,
  )
}

/** What the cloud answers for a transaction that was committed, aborted or has expired (30 s). */
export function transactionNotExist(id: string): DbError {
  return new DbError(
    'DATABASE_TRANSACTION_FAIL',
    '[ResourceUnavailable.TransactionNotExist] Transaction does not exist on the server, transaction must be commit or abort in 30 seconds.' +
      ` Please check your request, but if the problem persists, contact us. (local cloud: transaction ${id} was committed, aborted or expired)`,
  )
}

/**
 * A write conflict. wx-server-sdk keeps only the message of an error inside a transaction (errCode
 * -501001), so the message names the conflict the way the cloud's resource errors do.
 */
export function transactionConflict(collection: string, id: string, why: string): DbError {
  return new DbError(
    'DATABASE_TRANSACTION_CONFLICT',
    `[ResourceUnavailable.TransactionConflict] Transaction is conflicted on ${collection}/${id}: ${why}. Retry the transaction.`,
  )
}
