-- -*- lua -*-
-- A site's CUDA module, as HPC centres write them: a literal install prefix, paths joined
-- from it. tests/probe/test_lmod_e2e.py fills in the prefix with its stand-in CUDA's folder.
whatis("Name: CUDA")
whatis("Version: 12.4")
help([[NVIDIA CUDA Toolkit 12.4 (a stand-in for the gpudoctor tests)]])

local base = "@PREFIX@/cuda/12.4"
setenv("CUDA_HOME", base)
setenv("CUDA_ROOT", base)
prepend_path("PATH", pathJoin(base, "bin"))
prepend_path("LD_LIBRARY_PATH", pathJoin(base, "lib64"))
