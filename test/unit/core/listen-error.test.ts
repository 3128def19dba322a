import { describe, expect, it } from 'vitest'
import { AddressInUseError, ListenFailedError, NodeUnreachableError, isCfsError, listenError } from '../../../src/core/index.js'

const osError = (code: string): Error => Object.assign(new Error(`listen ${code}: whatever 127.0.0.1:1`), { code, errno: -1, syscall: 'listen' })

describe('listenError', () => {
  it('EADDRINUSE, on the error or as the cause the transport chains, is ADDRESS_IN_USE', () => {
    const os = osError('EADDRINUSE')
    const wrapped = new Error('cannot listen on 127.0.0.1:1: address already in use', { cause: os })
    for (const err of [os, wrapped]) {
      const mapped = listenError(err, '127.0.0.1:1')
      expect(mapped).toBeInstanceOf(AddressInUseError)
      expect(isCfsError(mapped, 'ADDRESS_IN_USE')).toBe(true)
      expect((mapped).cause).toBe(err)
    }
  })

  it.each(['EACCES', 'EADDRNOTAVAIL'])('any other errno (%s) is LISTEN_FAILED', (code) => {
    const mapped = listenError(new Error('cannot listen', { cause: osError(code) }), '10.9.9.9:80')
    expect(mapped).toBeInstanceOf(ListenFailedError)
    expect(isCfsError(mapped, 'LISTEN_FAILED')).toBe(true)
  })

  it('leaves CfsErrors and errors without an errno as they were', () => {
    const cfs = new NodeUnreachableError('x')
    const plain = new Error('odd')
    expect(listenError(cfs, 'a:1')).toBe(cfs)
    expect(listenError(plain, 'a:1')).toBe(plain)
  })
})
