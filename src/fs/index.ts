export {
  Volume, DEFAULT_BLOCK_SIZE,
  type VolumeComponents, type VolumeInit, type VolumeStats,
} from './volume.js'
export { DEFAULT_PUBLISH_INTERVAL_MS } from './publication.js'
export { Reader, type ReaderComponents, type ReaderInit } from './reader.js'
export { Snapshot, type VersionInfo, type SnapshotInit } from './snapshot.js'
export { diffTrees, DEFAULT_DIFF_LIMIT, type DiffOptions, type TreeChanges } from './tree-diff.js'
export { FileJournal, replayJournal, summarizeJournal, JOURNAL_FILE, type JournalSummary, type VolumeJournal, type JournalBase, type RecoveredJournal, type FileJournalInit } from './journal.js'
export { DEFAULT_JOURNAL_REWRITE_BYTES } from './journal-keeper.js'
export { JsonFileSeenRoots, MemorySeenRoots, SEEN_ROOTS_FILE, type SeenRoots } from './seen-roots.js'
export type { RootSigner, RootVerifier } from './ports.js'
export type { FileSystem, FileHandle, OpenOptions, FileReadOptions, ReadStreamOptions, WriteOptions } from './file-system.js'
export { ReadLoans } from './loans.js'
export type { Stat } from './tree-read.js'
export type { DirEntry, InodeEntry } from './dir-node.js'
export type { ListOptions } from './directory.js'
export { nsToMs, msToNs, encodeTime, S_ISUID, S_ISGID, type EntryType, type SpecialType, type Owner } from './inode.js'
export type { RenameMode, SetTimes, XattrMode } from './tree.js'
export type { RefreshReport } from './refresh.js'
export type { UploadStats } from './write-buffer.js'
export { checkName, MAX_NAME_BYTES } from './names.js'
export { FS_FORMAT_VERSION } from './format.js'
export {
  listPathBlocks, DEFAULT_LIST_CONCURRENCY, type ListedBlock, type ListedRole, type ListPathOptions, type PathBlocks,
} from './path-blocks.js'
export { rootRecordCodec, type RootRecord } from './root-record.js'
