{
  "targets": [
    {
      "target_name": "torch_native",
      "sources": [
        "addon.cc",
        "amp.cc",
        "autograd.cc",
        "dispatch.cc",
        "distributed.cc",
        "dropout_mask.cc",
        "handles.cc",
        "ms_deform_attn.cc",
        "profiler.cc",
        "tensor_io.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node ../scripts/find-libtorch.mjs include)"
      ],
      "libraries": ["<!@(node ../scripts/find-libtorch.mjs libs)"],
      "defines": [
        "<!@(node ../scripts/find-libtorch.mjs defines)",
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      # -fopenmp: ATen's at::parallel_for is inlined from its headers and runs serially without it
      # (our kernels in ms_deform_attn.cc and dropout_mask.cc use it).
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-fopenmp", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "ldflags": ["-fopenmp"]
    }
  ]
}
