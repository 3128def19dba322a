export type { Router, KeyRange } from './router.js'
export type { LookupResult, LookupOptions } from './lookup.js'
export {
  ChordNode, DEFAULT_STABILIZE_INTERVAL_MS,
  type ChordComponents, type ChordInit,
} from './chord-node.js'
export { ChordRpcServer } from './rpc/server.js'
export { makeNodeRef, nodeIdFor, sameNode, describeNode, toWire, fromWire, nodeRefSchema, keySchema, type NodeRef, type NodeRefWire } from './node-ref.js'
export { parseRequest, parseResponse } from './messages.js'
export { DEFAULT_SUCCESSOR_ENDPOINTS, DEFAULT_SUCCESSOR_LIST_SIZE, MAX_SUCCESSORS } from './successor-list.js'
export { RemoteRouter, type RemoteRouterInit } from './remote-router.js'
