{
  # One list of engine sources for both targets (the trace target below compiles the same engine).
  "variables": {
    "tsmm_sources": [
      "src/addon.cpp",
      "src/pool.cpp",
      "src/index_log.cpp",
      "src/allocator.cpp",
      "src/persist.cpp",
      "src/sys.cpp",
      "src/format.cpp",
      "src/objects/pool_object.cpp",
      "src/util/crc32c.cpp",
      "src/util/errors.cpp",
      "src/util/debug.cpp"
    ]
  },
  "target_defaults": {
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "src"],
    "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions"],
    "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
    "conditions": [
      ["OS=='linux'", { "libraries": ["-lpthread"] }]
    ]
  },
  "targets": [
    {
      "target_name": "tsmm",
      "sources": ["<@(tsmm_sources)"]
    },
    {
      # Test build for the power-cut simulator (issue 7; src/trace.hpp): the same engine with -DTSMM_TRACE, whose
      # system-call wrappers feed a shadow "durable image" of the pool. Its file is build/Release/tsmm_trace.tracenode,
      # deliberately NOT *.node: node-gyp-build and prebuildify load/pack the first *.node in build/Release.
      # Only the power-cut tests load it, with process.dlopen (packages/native/test/fixtures/100.powercut-lib.js).
      "target_name": "tsmm_trace",
      "target_conditions": [["_type=='loadable_module'", { "product_extension": "tracenode" }]],
      "sources": ["<@(tsmm_sources)", "src/trace.cpp"],
      "defines": ["TSMM_TRACE"]
    }
  ]
}
