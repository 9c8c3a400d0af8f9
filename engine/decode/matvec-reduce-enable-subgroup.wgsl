// The enable line of matvec-reduce-subgroup.wgsl (//#include matvec-reduce-enable): first in the kernel, as WGSL wants.
enable subgroups;
