export { CfsNode, STATUS_METHOD, LOOKUP_METHOD, type CfsNodeInit } from './create-node.js'
export { runDaemon } from './daemon.js'
export type { NodeStatus, VnodeStatus, PeerStatus } from './status.js'
export { queryStatus, queryLookup, type LookupAnswer } from './status-client.js'
