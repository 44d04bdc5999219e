// The data module: datasets, HF-exact preprocessing, MAE's augmentation and the deterministic loader.

export { augment, flipHorizontal, type AugmentOptions } from "./augment.ts";
export { checkImage, convertChannels, PreprocessError } from "./convertChannels.ts";
export { checkIndex, DatasetError, subsetDataset, type Dataset, type Sample } from "./dataset.ts";
export { idxDataset, isIdxFolder, type IdxSplit } from "./idxDataset.ts";
export { imageFolderDataset } from "./imageFolderDataset.ts";
export { makeLoader, type Batch, type Loader, type LoaderOptions } from "./loader.ts";
export { mnistDataset } from "./mnistDataset.ts";
export { DATA_SPEC_HELP, parseDataSpec, tryParseDataSpec, type DataLoadError } from "./parseDataSpec.ts";
export {
  perChannel,
  preprocess,
  preprocessOptions,
  toNormalizedCHW,
  unnormalize,
  type PreprocessOptions,
} from "./preprocess.ts";
export {
  DEFAULT_PREPROCESSOR_CONFIG,
  IMAGENET_DEFAULT_MEAN,
  IMAGENET_DEFAULT_STD,
  parsePreprocessorConfig,
  PreprocessorConfigError,
  toPreprocessorJson,
  type PreprocessorConfig,
} from "./preprocessorConfig.ts";
export { readPreprocessorConfig } from "../node/preprocessorConfigFile.ts";
export {
  crop,
  DEFAULT_CROP_RATIO,
  MAE_CROP_SCALE,
  randomResizedCrop,
  randomResizedCropParams,
  roundHalfEven,
  type CropBox,
} from "./randomResizedCrop.ts";
export { PIL_RESAMPLE_CODES, resize, type ResampleFilter } from "./resize.ts";
export { splitDataset } from "./splitDataset.ts";
export { cutmixBox, MAE_MIXUP, mixupBatch, sampleBeta, type Mixed, type MixupOptions } from "./mixup.ts";
