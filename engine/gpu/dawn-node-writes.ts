// dawn.node (the `webgpu` package: tests and the Node benches) rejects writeBuffer from a SharedArrayBuffer view with
// "Invalid argument", where browsers take it (DESIGN.md, "Where it runs"). ORT's wasm memory was the first such source;
// the copy stays for any other a caller passes. One patch for every Node device: unused in browsers.

/** Makes `device.queue.writeBuffer` copy SharedArrayBuffer-backed data into a plain buffer before writing it. */
export function patchSharedArrayBufferWrites(device: GPUDevice): void {
  const queue = device.queue;
  const write = queue.writeBuffer.bind(queue);
  queue.writeBuffer = ((buffer: GPUBuffer, offset: number, data: BufferSource | SharedArrayBuffer, dataOffset = 0, size?: number) => {
    const view = ArrayBuffer.isView(data);
    const backing = view ? (data as ArrayBufferView).buffer : data;
    if (!(backing instanceof SharedArrayBuffer)) return write(buffer, offset, data as BufferSource, dataOffset, size);
    const element = view ? ((data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1) : 1;
    const base = view ? (data as ArrayBufferView).byteOffset : 0;
    const start = dataOffset * element;
    const length = size !== undefined ? size * element : (data as ArrayBufferView).byteLength - start;
    return write(buffer, offset, new Uint8Array(backing, base + start, length).slice());
  }) as GPUQueue['writeBuffer'];
}
