// The bench's bandwidth yardstick (bench/wgsl-decode-shapes.ts): how fast a WGSL kernel streams a large buffer,
// the ceiling the decode matvecs are measured against, and an empty kernel for the time a dispatch costs alone.
//
// Binding layout: 0 src storage read [n] vec4<f32>; 1 sink storage read_write [workgroups] f32 (keeps the reads live).
// Dispatch: stream (WORKGROUPS), each of its 256 threads summing vec4s strided by the whole grid; empty (1).

override WORKGROUPS: u32;
override VEC4S: u32;

@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> sink: array<f32>;

var<workgroup> part: array<f32, 256>;

@compute @workgroup_size(256)
fn stream(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  var acc = vec4<f32>(0.0);
  let stride = WORKGROUPS * 256u;
  for (var i = wid.x * 256u + lid; i < VEC4S; i += stride) {
    acc += src[i];
  }
  part[lid] = dot(acc, vec4<f32>(1.0));
  workgroupBarrier();
  if (lid == 0u) {
    var s = 0.0;
    for (var j = 0u; j < 256u; j++) {
      s += part[j];
    }
    sink[wid.x] = s;
  }
}

@compute @workgroup_size(1)
fn empty() {
}
