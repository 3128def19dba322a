import { describe, expect, it } from 'vitest'
import { mountDevice } from '../../../src/fuse/mount.js'

// mountCfs finds its mount's backing device in /proc/self/mountinfo to raise the kernel's
// read-ahead there (sysfs), without touching the mount it serves.

const INFO = [
  '22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda rw',
  '812 22 0:40 / /tmp/a\\040b/mnt rw,nosuid,nodev,relatime shared:420 - fuse.cfs cfs:0123456789abcdef rw,user_id=0,group_id=0',
  '813 22 0:41 / /tmp/c/mnt rw,nosuid,nodev,relatime shared:421 - fuse.cfs cfs:fedcba9876543210 rw,user_id=0,group_id=0',
  '900 813 0:52 / /tmp/c/mnt rw,relatime shared:500 - fuse.cfs cfs:0000000000000000 rw,user_id=0,group_id=0',
  '',
].join('\n')

describe('mountDevice', () => {
  it('gives the major:minor of a mount point, unescaping what mountinfo escapes', () => {
    expect(mountDevice(INFO, '/tmp/a b/mnt')).toBe('0:40')
  })

  it('gives the last of mounts stacked on one point (the one path lookups see)', () => {
    expect(mountDevice(INFO, '/tmp/c/mnt')).toBe('0:52')
  })

  it('gives nothing for a path that is not a mount point', () => {
    expect(mountDevice(INFO, '/tmp/a b')).toBeUndefined()
    expect(mountDevice(INFO, '/tmp/a\\040b/mnt')).toBeUndefined()
  })
})
