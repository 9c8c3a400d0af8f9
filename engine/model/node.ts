// The model module's Node-only face: everything of ./index.ts plus local folder and file sources (node:fs).
export * from './index.ts';
export { folderSource, pathFileSource, loadModelFromPath } from './node-sources.ts';
