// The calibration module's face (browser-safe): the artifact schema, its validation and lookup beside a model, and
// calibrate() over the CPU reference forward. Node file handling (the CLI's) is in the second face, ./node.ts.
export {
  CALIBRATION_FORMAT, CALIBRATION_METHODS, CALIBRATION_VERSION, calibrationFileName, calibrationFolderOfUrl, checkCalibrationFits, entriesPerHead, isCalibrationMethod,
  modelIdentity, parseCalibration, parseCalibrationBytes, readCalibrationBeside,
  type CalibrationArtifact, type CalibrationMethod, type CalibrationModelIdentity, type CalibrationRun, type DoubleSparsityCalibration,
  type DoubleSparsityData, type FasaCalibration, type FasaData,
} from './artifact.ts';
export {
  calibrate, calibrateWindows, calibrationWindows, CALIBRATION_TOKENS, CALIBRATION_WINDOW, FASA_CALIBRATION_TOP_K, FASA_QUERIES_PER_WINDOW, type CalibrateOptions,
} from './calibrate.ts';
export { ChunkAgreement, QkChannelStatistic, rankDescending, topKInto, type HeadShape } from './statistics.ts';
