import { InvalidArgumentError } from 'commander'

export function positiveInt (value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer')
  return n
}
