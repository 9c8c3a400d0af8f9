// The workgroup-tree reduction needs no enable line (//#include matvec-reduce-enable).
