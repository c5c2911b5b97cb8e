// The `_version` torch gives a module class's state_dict metadata. It is a
// class attribute, never pickled with an instance (unless set on it), so a
// reader without the classes takes it from this table (torch 1.13's classes
// whose version is not 1); every other class, and a user class that does
// not set its own, has version 1.
const VERSIONS: ReadonlyArray<readonly [number, string, readonly string[]]> = [
  [2, "torch.nn.modules.batchnorm", [
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "SyncBatchNorm",
    "LazyBatchNorm1d",
    "LazyBatchNorm2d",
    "LazyBatchNorm3d",
    "_NormBase",
    "_BatchNorm",
    "_LazyNormBase",
  ]],
  [2, "torch.nn.modules.instancenorm", [
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LazyInstanceNorm1d",
    "LazyInstanceNorm2d",
    "LazyInstanceNorm3d",
    "_InstanceNorm",
  ]],
  [2, "torch.nn.intrinsic.qat.modules.conv_fused", [
    "ConvBn1d",
    "ConvBn2d",
    "ConvBn3d",
    "ConvBnReLU1d",
    "ConvBnReLU2d",
    "ConvBnReLU3d",
  ]],
];

const BY_CLASS = new Map<string, number>();
for (const [version, module, names] of VERSIONS) {
  for (const name of names) BY_CLASS.set(`${module}.${name}`, version);
}

/** The `_version` of the module class `path` (`module.Class`). */
export function moduleVersion(path: string): number {
  return BY_CLASS.get(path) ?? 1;
}
