/**
 * One error base class. `code` is stable and documented; messages may change.
 * `name` is the class name, set automatically. Misuse throws TypeError/RangeError instead.
 */
export type ErrorCode =
  | 'ABORTED' | 'TIMEOUT' | 'NODE_UNREACHABLE' | 'PROTOCOL_ERROR' | 'REMOTE_ERROR' | 'UNKNOWN_METHOD'
  | 'BAD_REQUEST' | 'UNKNOWN_TARGET' | 'BUSY' | 'SHUTTING_DOWN' | 'LOOKUP_FAILED' | 'NOT_RESPONSIBLE'
  | 'BLOCK_NOT_FOUND' | 'BLOCK_INVALID' | 'BLOCK_TOO_LARGE' | 'ROOT_STALE' | 'ROOT_CONFLICT'
  | 'QUOTA_EXCEEDED' | 'STORAGE_FULL' | 'TOO_FEW_REPLICAS'
  | 'ENTRY_NOT_FOUND' | 'ENTRY_EXISTS' | 'NOT_A_DIRECTORY' | 'IS_A_DIRECTORY' | 'DIRECTORY_NOT_EMPTY'
  | 'INVALID_NAME' | 'READ_ONLY' | 'NOT_SUPPORTED'
  | 'STORE_LOCKED' | 'STORE_CORRUPT' | 'ADDRESS_IN_USE' | 'LISTEN_FAILED' | 'JOURNAL_FAILED' | 'JOURNAL_IN_USE'
  | 'UNSUPPORTED_FORMAT' | 'ATTRIBUTE_NOT_FOUND' | 'ATTRIBUTE_EXISTS' | 'ATTRIBUTE_TOO_LARGE' | 'FORBIDDEN'

export abstract class CfsError extends Error {
  abstract readonly code: ErrorCode
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
  }
}

export class AbortError extends CfsError { readonly code = 'ABORTED' }
export class TimeoutError extends CfsError { readonly code = 'TIMEOUT' }
export class NodeUnreachableError extends CfsError { readonly code = 'NODE_UNREACHABLE' }
/** A peer sent bytes that are not a valid frame or message. */
export class ProtocolError extends CfsError { readonly code = 'PROTOCOL_ERROR' }
/** The peer failed in a way it could not classify. */
export class RemoteError extends CfsError { readonly code = 'REMOTE_ERROR' }
export class UnknownMethodError extends CfsError { readonly code = 'UNKNOWN_METHOD' }
/** A request whose body does not match the method's schema. */
export class BadRequestError extends CfsError { readonly code = 'BAD_REQUEST' }
/** The endpoint hosts no virtual node with the id the request was sent to. */
export class UnknownTargetError extends CfsError { readonly code = 'UNKNOWN_TARGET' }
export class BusyError extends CfsError { readonly code = 'BUSY' }
export class ShuttingDownError extends CfsError { readonly code = 'SHUTTING_DOWN' }
export class LookupFailedError extends CfsError { readonly code = 'LOOKUP_FAILED' }
export class NotResponsibleError extends CfsError { readonly code = 'NOT_RESPONSIBLE' }
export class BlockNotFoundError extends CfsError { readonly code = 'BLOCK_NOT_FOUND' }
export class BlockInvalidError extends CfsError { readonly code = 'BLOCK_INVALID' }
export class BlockTooLargeError extends CfsError { readonly code = 'BLOCK_TOO_LARGE' }
export class RootStaleError extends CfsError { readonly code = 'ROOT_STALE' }
export class RootConflictError extends CfsError { readonly code = 'ROOT_CONFLICT' }
export class QuotaExceededError extends CfsError { readonly code = 'QUOTA_EXCEEDED' }
export class StorageFullError extends CfsError { readonly code = 'STORAGE_FULL' }
/**
 * The peer may not ask this: a request of a node-to-node method from an identity that is not a
 * node of the ring, or any request on a private ring from a peer that did not prove its secret.
 */
export class ForbiddenError extends CfsError { readonly code = 'FORBIDDEN' }
/** A block or root reached fewer holders than the configured minimum: not durable enough to acknowledge. */
export class TooFewReplicasError extends CfsError { readonly code = 'TOO_FEW_REPLICAS' }
export class EntryNotFoundError extends CfsError { readonly code = 'ENTRY_NOT_FOUND' }
export class EntryExistsError extends CfsError { readonly code = 'ENTRY_EXISTS' }
export class NotADirectoryError extends CfsError { readonly code = 'NOT_A_DIRECTORY' }
export class IsADirectoryError extends CfsError { readonly code = 'IS_A_DIRECTORY' }
export class DirectoryNotEmptyError extends CfsError { readonly code = 'DIRECTORY_NOT_EMPTY' }
export class InvalidNameError extends CfsError { readonly code = 'INVALID_NAME' }
export class ReadOnlyError extends CfsError { readonly code = 'READ_ONLY' }
export class NotSupportedError extends CfsError { readonly code = 'NOT_SUPPORTED' }
/** A block of a file-tree format this version does not read (an older volume): refused, never guessed at. */
export class UnsupportedFormatError extends CfsError { readonly code = 'UNSUPPORTED_FORMAT' }
/** No extended attribute of that name (ENODATA). */
export class AttributeNotFoundError extends CfsError { readonly code = 'ATTRIBUTE_NOT_FOUND' }
/** An extended attribute of that name exists and XATTR_CREATE was asked (EEXIST). */
export class AttributeExistsError extends CfsError { readonly code = 'ATTRIBUTE_EXISTS' }
/** An extended attribute value over its limit (E2BIG), or all of an inode's over theirs (ENOSPC). */
export class AttributeTooLargeError extends CfsError {
  readonly code = 'ATTRIBUTE_TOO_LARGE'
  constructor (message: string, readonly total = false) { super(message) }
}
/** Another process (or another store in this one) holds the LevelDB's lock: its data directory is in use. */
export class StoreLockedError extends CfsError { readonly code = 'STORE_LOCKED' }
/** A store holds a record its code did not write, or LevelDB reports corruption. */
export class StoreCorruptError extends CfsError { readonly code = 'STORE_CORRUPT' }
/** Another socket is bound to the address a server was told to listen on (EADDRINUSE). */
export class AddressInUseError extends CfsError { readonly code = 'ADDRESS_IN_USE' }
/** A server could not listen for another reason: a privileged port, an address not on this host, ... */
export class ListenFailedError extends CfsError { readonly code = 'LISTEN_FAILED' }
/** The owner's journal could not be read or written (other than a full disk, STORAGE_FULL): the change it carried is refused. */
export class JournalError extends CfsError { readonly code = 'JOURNAL_FAILED' }
/** Another live process keeps this volume's journal (a second owner mount with the same --data). */
export class JournalInUseError extends CfsError { readonly code = 'JOURNAL_IN_USE' }

export function isCfsError (err: unknown, code?: ErrorCode): err is CfsError {
  return err instanceof CfsError && (code === undefined || err.code === code)
}

/** Failures that mean "this peer did not answer": callers treat the peer as dead. */
export function isUnreachable (err: unknown): boolean {
  return isCfsError(err) && (err.code === 'NODE_UNREACHABLE' || err.code === 'TIMEOUT' ||
    err.code === 'UNKNOWN_TARGET' || err.code === 'SHUTTING_DOWN')
}
