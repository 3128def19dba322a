import {
  BadRequestError, BlockInvalidError, BlockNotFoundError, BlockTooLargeError, BusyError, CfsError, ForbiddenError,
  NotResponsibleError, QuotaExceededError, RemoteError, RootConflictError, RootStaleError,
  ShuttingDownError, StorageFullError, UnknownMethodError, UnknownTargetError, type ErrorCode,
} from '../core/index.js'

/** Frame kinds on the wire (docs/PROTOCOL.md). */
export const FrameType = { REQUEST: 0, RESPONSE: 1 } as const

/** Numeric wire statuses: small, stable, and separate from local error codes. */
export const Status = {
  OK: 0,
  ERROR: 1,
  BAD_REQUEST: 2,
  UNKNOWN_METHOD: 3,
  UNKNOWN_TARGET: 4,
  BUSY: 5,
  SHUTTING_DOWN: 6,
  NOT_FOUND: 7,
  NOT_RESPONSIBLE: 8,
  INVALID_BLOCK: 9,
  TOO_LARGE: 10,
  ROOT_STALE: 11,
  ROOT_CONFLICT: 12,
  QUOTA_EXCEEDED: 13,
  STORAGE_FULL: 14,
  FORBIDDEN: 15,
} as const
export type StatusCode = typeof Status[keyof typeof Status]

export interface RequestFrame { type: typeof FrameType.REQUEST, id: number, method: string, body: unknown }
export interface ResponseFrame { type: typeof FrameType.RESPONSE, id: number, status: StatusCode, body: unknown }
export type Frame = RequestFrame | ResponseFrame

const statusByCode: Partial<Record<ErrorCode, StatusCode>> = {
  BAD_REQUEST: Status.BAD_REQUEST,
  PROTOCOL_ERROR: Status.BAD_REQUEST,
  UNKNOWN_METHOD: Status.UNKNOWN_METHOD,
  UNKNOWN_TARGET: Status.UNKNOWN_TARGET,
  BUSY: Status.BUSY,
  SHUTTING_DOWN: Status.SHUTTING_DOWN,
  BLOCK_NOT_FOUND: Status.NOT_FOUND,
  NOT_RESPONSIBLE: Status.NOT_RESPONSIBLE,
  BLOCK_INVALID: Status.INVALID_BLOCK,
  BLOCK_TOO_LARGE: Status.TOO_LARGE,
  ROOT_STALE: Status.ROOT_STALE,
  ROOT_CONFLICT: Status.ROOT_CONFLICT,
  QUOTA_EXCEEDED: Status.QUOTA_EXCEEDED,
  STORAGE_FULL: Status.STORAGE_FULL,
  FORBIDDEN: Status.FORBIDDEN,
}

const errorByStatus: Record<StatusCode, (message: string) => CfsError | undefined> = {
  [Status.OK]: () => undefined,
  [Status.ERROR]: (m) => new RemoteError(m),
  [Status.BAD_REQUEST]: (m) => new BadRequestError(m),
  [Status.UNKNOWN_METHOD]: (m) => new UnknownMethodError(m),
  [Status.UNKNOWN_TARGET]: (m) => new UnknownTargetError(m),
  [Status.BUSY]: (m) => new BusyError(m),
  [Status.SHUTTING_DOWN]: (m) => new ShuttingDownError(m),
  [Status.NOT_FOUND]: (m) => new BlockNotFoundError(m),
  [Status.NOT_RESPONSIBLE]: (m) => new NotResponsibleError(m),
  [Status.INVALID_BLOCK]: (m) => new BlockInvalidError(m),
  [Status.TOO_LARGE]: (m) => new BlockTooLargeError(m),
  [Status.ROOT_STALE]: (m) => new RootStaleError(m),
  [Status.ROOT_CONFLICT]: (m) => new RootConflictError(m),
  [Status.QUOTA_EXCEEDED]: (m) => new QuotaExceededError(m),
  [Status.STORAGE_FULL]: (m) => new StorageFullError(m),
  [Status.FORBIDDEN]: (m) => new ForbiddenError(m),
}

/** The one place a local error becomes a wire status (server side). */
export function statusForError (err: unknown): StatusCode {
  return err instanceof CfsError ? (statusByCode[err.code] ?? Status.ERROR) : Status.ERROR
}

/** The one place a wire status becomes a local error (client side). */
export function errorForStatus (status: number, message: string, method: string): CfsError {
  const make = errorByStatus[status as StatusCode] as ((m: string) => CfsError | undefined) | undefined
  const err = make?.(`${method}: ${message}`)
  return err ?? new RemoteError(`${method}: unknown status ${status}: ${message}`)
}

export function isStatus (value: unknown): value is StatusCode {
  return typeof value === 'number' && Object.prototype.hasOwnProperty.call(errorByStatus, value)
}
