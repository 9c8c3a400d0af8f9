// Weight element type f16 (//#include weight-float of matvec-dense.wgsl): needs the device feature shader-f16.
enable f16;
alias WeightFloat = f16;
