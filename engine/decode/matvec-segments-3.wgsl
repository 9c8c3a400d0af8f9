// Segments of matvec.wgsl's normed entry point (//#include matvec-segments): three matrices (q, k and v), slots
// 0, 1, 2. The segment is the workgroup's, so the branch is uniform.
fn segmentDot(s: u32, row: u32, u: u32, p: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  if (s == 0u) {
    return dot0(row, u, p, xv, sx);
  }
  if (s == 1u) {
    return dot1(row, u, p, xv, sx);
  }
  return dot2(row, u, p, xv, sx);
}
