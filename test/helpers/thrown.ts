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
