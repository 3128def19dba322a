import { AddressInUseError, ListenFailedError, isCfsError } from './errors.js'

/**
 * A failure to listen on `address` as a CfsError, by the errno code Node puts on the socket
 * error (the transport chains it as the `cause`): EADDRINUSE is AddressInUseError, any other
 * errno (EACCES for a privileged port, EADDRNOTAVAIL for an address not on this host, ...) is
 * ListenFailedError. CfsErrors and errors without an errno are returned unchanged (a thrown
 * non-Error as an Error).
 */
export function listenError (err: unknown, address: string): Error {
  if (isCfsError(err)) return err
  const plain = err instanceof Error ? err : new Error(String(err))
  for (let e: unknown = err, depth = 0; e != null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (code === 'EADDRINUSE') return new AddressInUseError(`cannot listen on ${address}: the address is in use by another process`, { cause: err })
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
      return new ListenFailedError(`cannot listen on ${address}: ${e instanceof Error ? e.message : code}`, { cause: err })
    }
  }
  return plain
}
