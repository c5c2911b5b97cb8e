/**
 * ckptkit: open, inspect, migrate and rewrite PyTorch checkpoints without
 * Python. The zip's central directory and `data.pkl` are read and decoded
 * into a faithful Python value model without executing anything; tensor
 * storages are copied as untouched byte ranges when the checkpoint is saved.
 *
 * @example Rename a state_dict key and save
 * ```ts
 * import assert from "node:assert/strict";
 * import { Checkpoint, PyObject, Tensor } from "./mod.ts";
 *
 * const ckpt = await Checkpoint.open("tests/fixtures/state_dict.ckpt");
 * const stateDict = ckpt.root as PyObject<string, Tensor>;
 * stateDict.set("classifier.weight", stateDict.pop("fc.weight"));
 * const out = await Deno.makeTempFile({ suffix: ".ckpt" });
 * await ckpt.save(out);
 * ckpt.close();
 *
 * const saved = await Checkpoint.open(out);
 * assert.ok((saved.root as PyObject).has("classifier.weight"));
 * saved.close();
 * await Deno.remove(out);
 * ```
 *
 * @module
 */

export {
  CheckpointError,
  CkptkitError,
  KeyError,
  NotAFileError,
  PickleError,
  RemoteError,
  UnsupportedFormatError,
  ZipFormatError,
} from "./lib/errors.ts";
export type { ZipDirectory, ZipEntry } from "./lib/zip/central_directory.ts";
export { ClosedSourceError, FileSource, type RandomAccessSource } from "./lib/zip/source.ts";
export { HttpSource, type RemoteUsage } from "./lib/zip/http_source.ts";
export { PyByteArray } from "./lib/pickle/py_bytearray.ts";
export { DuplicateKeyError, PyDict } from "./lib/pickle/py_dict.ts";
export { floatRepr, PyFloat } from "./lib/pickle/py_float.ts";
export { PyGlobal } from "./lib/pickle/py_global.ts";
export { type Construction, PyObject } from "./lib/pickle/py_object.ts";
export { PyFrozenSet, PySet } from "./lib/pickle/py_set.ts";
export { LONG_STR, PyStr } from "./lib/pickle/py_str.ts";
export { EMPTY_TUPLE, Tuple } from "./lib/pickle/tuple.ts";
export { unpickle, type UnpickleOptions } from "./lib/pickle/unpickler.ts";
export { pickle, type PickleOptions } from "./lib/pickle/pickler.ts";
export { dis, type Instruction, instructions } from "./lib/pickle/dis.ts";
export { type DType, dtype } from "./lib/torch/dtype.ts";
export { CANONICAL_NAN, CAST_DTYPES, castElements } from "./lib/torch/cast.ts";
export { TensorError } from "./lib/torch/tensor_error.ts";
export type { Layout } from "./lib/torch/views.ts";
export type { Scalar } from "./lib/torch/scalar.ts";
export { consumePrefix } from "./lib/torch/state_dict_prefix.ts";
export { Storage, type StorageRecord } from "./lib/torch/storage.ts";
export {
  contiguousStride,
  Parameter,
  Tensor,
  type TensorArray,
  type TensorRebuild,
} from "./lib/torch/tensor.ts";
export {
  type NdarrayView,
  numpyDtypeName,
  readNdarray,
  readNumpyScalar,
} from "./lib/torch/ndarray.ts";
export {
  Checkpoint,
  type OpenOptions,
  type SaveOptions,
  type SaveProgress,
  type SaveResult,
  type SaveStrategy,
} from "./lib/torch/checkpoint.ts";
export {
  type VerifyCheck,
  verifyCheckpoint,
  type VerifyOptions,
  type VerifyProblem,
  type VerifyProgress,
  type VerifyReport,
  verifySource,
} from "./lib/torch/verify.ts";
export {
  type AllowedUse,
  type AllowEntry,
  type GlobalRating,
  type PolicyFile,
  type PolicyOptions,
  type Rating,
  ScanPolicy,
  type ShapeRule,
  USE_BITS,
} from "./lib/scan/policy.ts";
export type {
  Finding,
  GlobalReference,
  Loader,
  NestedPickle,
  ScanResult,
  Verdict,
} from "./lib/scan/scan_result.ts";
export { type ScanOptions, scanPickle } from "./lib/scan/scan_pickle.ts";
export {
  type FileKind,
  type FileScan,
  type RecordScan,
  scanFile,
  type ScanFileOptions,
  scanSource,
} from "./lib/scan/scan_file.ts";
export {
  checkPickle,
  type CheckPickleOptions,
  type PickleSummary,
  summarizeScan,
} from "./lib/scan/check_pickle.ts";
export { UntrustedPickleError } from "./lib/scan/untrusted_pickle_error.ts";
export {
  formatTree,
  type JsonNode,
  type ShowOptions,
  tensorSummary,
  toJsonTree,
  toPlainJson,
} from "./lib/torch/show.ts";
export { isOmegaconfNode, omegaconfValues } from "./lib/torch/omegaconf_values.ts";
export { type SelectOptions, selectPath } from "./lib/torch/select_path.ts";
export {
  IncompatibleCheckpointError,
  type IncompatibleReason,
  MigrationError,
} from "./lib/migrate/migration_error.ts";
export { MigrationContext, MISSING_ATTRIBUTE } from "./lib/migrate/migration_context.ts";
export {
  type CkptType,
  loadMigration,
  type Migration,
  type MigrationMetadata,
  type MigrationScript,
  type MigrationVersions,
} from "./lib/migrate/migration.ts";
export { scriptDigest } from "./lib/migrate/signature.ts";
export {
  migrationMetadataObject,
  readMigrationMetadata,
  type RegisteredMigration,
  registeredMigrations,
} from "./lib/migrate/registration.ts";
export {
  type MigrationLog,
  type MigrationPlan,
  type MigrationRun,
  type MigrationStatus,
  Migrator,
} from "./lib/migrate/migrator.ts";
export {
  findCheckpoints,
  type FindOptions,
  parseShard,
  type Shard,
  slurmShard,
  takeShard,
} from "./lib/migrate/batch.ts";
export { type FileLock, lockFile, type LockOptions } from "./lib/torch/file_lock.ts";
export { backupOf, backupPath } from "./lib/migrate/backup.ts";
export {
  inspectCheckpoint,
  type InspectReport,
  migrateCheckpoint,
  type MigrateOptions,
  type MigrationReport,
  type MigrationSummary,
} from "./lib/migrate/migrate_checkpoint.ts";
export { Config, type ConfigKind, type ConfigPath } from "./lib/migrate/config.ts";
export { type ConfigAction, ConfigError } from "./lib/migrate/config_error.ts";
export { ExtractError } from "./lib/extract/extract_error.ts";
export {
  isModule,
  type ModuleStateDict,
  moduleStateDict,
} from "./lib/extract/module_state_dict.ts";
export {
  type SafetensorsResult,
  type SafetensorsTensor,
  writeSafetensors,
} from "./lib/extract/safetensors.ts";
export {
  type ExtractReport,
  extractWeights,
  findWeights,
  type Weights,
} from "./lib/extract/extract.ts";
export {
  type SkippedTensor,
  type TransferOptions,
  type TransferReport,
  transferWeights,
} from "./lib/transfer/transfer.ts";
export {
  type CheckpointDiff,
  diffCheckpoints,
  type Reshaped,
  type ValueChange,
} from "./lib/diff/diff.ts";
export {
  loadMigrationsFromDir,
  migrationsFromRegistry,
  type RegistryEntry,
} from "./lib/migrate/registry.ts";
