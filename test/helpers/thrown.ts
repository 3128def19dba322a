import { isCfsError, type ErrorCode } from '../../src/core/index.js'

/** Runs `f` and returns what it threw (or 'no error'), so a test can name the exact class. */
export function thrown (f: () => unknown): unknown {
  try {
    f()
  } catch (err) {
    return err
  }
  return 'no error'
}

/** What `p` rejected with (or 'no error'). */
export async function rejection (p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (err) {
    return err
  }
  return 'no error'
}

/** The CfsError code `p` rejects with, or 'ok'; anything else is rethrown. */
export async function errorCode (p: Promise<unknown>): Promise<ErrorCode | 'ok'> {
  try {
    await p
    return 'ok'
  } catch (err) {
    if (isCfsError(err)) return err.code
    throw err
  }
}
