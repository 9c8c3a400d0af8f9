// Segments of matvec.wgsl's normed/residual entry points (//#include matvec-segments): one matrix, slot 0.
fn segmentDot(s: u32, row: u32, u: u32, p: u32, xv: array<vec4<f32>, UNIT_VEC4S>, sx: f32) -> f32 {
  return dot0(row, u, p, xv, sx);
}
