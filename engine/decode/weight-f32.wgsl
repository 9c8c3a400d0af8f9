// Weight element type f32 (//#include weight-float of matvec-dense.wgsl).
alias WeightFloat = f32;
