export { CfsNode, STATUS_METHOD, type CfsNodeInit } from './create-node.js'
export { runDaemon } from './daemon.js'
export type { NodeStatus, VnodeStatus, PeerStatus } from './status.js'
export { queryStatus } from './status-client.js'
