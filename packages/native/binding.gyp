{
  "targets": [
    {
      "target_name": "tsmm",
      "sources": [
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
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "src"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["OS=='linux'", { "libraries": ["-lpthread"] }]
      ]
    }
  ]
}
