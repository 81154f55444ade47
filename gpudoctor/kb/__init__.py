"""The knowledge base: compatibility facts kept as dated, sourced data files, with typed queries.

INTERFACE DRAFT (owned by the knowledge-base work; bodies to be filled in):

    load() -> KnowledgeBase                     cached; reads gpudoctor/kb/data/*.toml

    KnowledgeBase.cuda_support(driver: str, cuda: str, os: str) -> CudaSupport
        CudaSupport.level: "full" (driver >= the toolkit's own driver), "minor_compat"
        (driver >= the major's minor-version-compatibility floor), or "none";
        CudaSupport.full_min_driver / mvc_min_driver: the floors (str | None); .source: str
    KnowledgeBase.max_cuda_for_driver(driver: str, os: str) -> str | None
        newest CUDA "major.minor" the driver fully supports (the nvidia-smi "CUDA Version")
    KnowledgeBase.arch_coverage(cc: str, arch_list: Sequence[str]) -> ArchCoverage
        ArchCoverage.kind: "sass" | "ptx_jit" | "none" | "unknown"; .matched: str | None
        (same major with minor <= CC for sm_XY; compute_XY <= CC as PTX JIT; Jetson/iGPU CCs
        5.3, 6.2, 7.2, 8.7 run only their own code; empty list -> "unknown")
    KnowledgeBase.torch_release(version: str) -> TorchRelease | None
    KnowledgeBase.tensorflow_release(version: str) -> TensorflowRelease | None
        .python_min, .python_max (str "3.10"), .cudnn, .cuda variants ...
"""
