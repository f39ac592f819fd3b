/**
 * Interop: NumPy `.npy` and safetensors files, written from shelf arrays and read onto shelves (zero-copy both ways where
 * the layout allows). See npy.ts and safetensors.ts for the formats.
 */
export {
  exportNpy, importNpy, npyHeader, parseNpyHeader, readNpyHeader, NPY_DESCR, NPY_MAGIC, NPY_ALIGN,
  type NpyHeader, type NpyImportResult, type ExportResult,
} from './npy';
export {
  exportSafetensors, importSafetensors, safetensorsHeader, parseSafetensorsHeader, readSafetensorsHeader,
  SAFETENSORS_DTYPE, SAFETENSORS_MAX_HEADER,
  type SafetensorsHeader, type SafetensorsTensor, type SafetensorsExportOptions, type SafetensorsImportResult,
} from './safetensors';
export { ARRAY_KINDS, type InteropDType, type ImportOptions, type ExportOptions, type ProgressCallback } from './common';
