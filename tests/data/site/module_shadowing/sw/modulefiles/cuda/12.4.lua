help([[CUDA 12.4 toolkit]])
local base = "/sw/pkgs/cuda/12.4.1"
setenv("CUDA_HOME", base)
prepend_path("PATH", pathJoin(base, "bin"))
prepend_path("LD_LIBRARY_PATH", pathJoin(base, "lib64"))
