# All external dependencies are system packages (Debian 12: libtorch-dev, nlohmann-json3-dev,
# libfmt-dev, libboost-dev, libsqlite3-dev, libgtest-dev, zlib1g-dev, libcurl4-openssl-dev,
# libjpeg62-turbo-dev, libpng-dev, libarchive-dev). Nothing is downloaded.
# On the GPU machine, pass -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)').

find_package(Torch REQUIRED)
find_package(nlohmann_json 3.9 REQUIRED)
find_package(fmt REQUIRED)
find_package(ZLIB REQUIRED)
find_package(CURL REQUIRED)  # isda-data fetch (libcurl4-openssl-dev)
find_package(JPEG REQUIRED)  # ImageNet folders (libjpeg62-turbo-dev)
find_package(PNG REQUIRED)   # isda-data preview (libpng-dev)
find_package(LibArchive REQUIRED)  # isda-data fetch unpacks .tar.gz (libarchive-dev)
find_package(Threads REQUIRED)

# LibTorch's imported target carries its flags in TORCH_CXX_FLAGS; expose one clean target that
# marks its headers as system headers so our -Wshadow stays about our code.
add_library(isda_torch INTERFACE)
target_link_libraries(isda_torch INTERFACE ${TORCH_LIBRARIES})
target_include_directories(isda_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
separate_arguments(_isda_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
target_compile_options(isda_torch INTERFACE ${_isda_torch_flags})

if(ISDA_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()

# Data-parallel training (core/distributed) uses LibTorch's own c10d process groups, whose headers
# need Gloo's (Debian: libgloo-dev, the Gloo Debian's LibTorch links) and, for CUDA, NCCL's (pip's
# PyTorch keeps nccl.h beside torch, in nvidia/nccl). Without them a build still works, and a run
# with ranks > 1 on that device is refused with the reason.
find_path(ISDA_GLOO_INCLUDE_DIR gloo/algorithm.h HINTS ${TORCH_INCLUDE_DIRS})
set(ISDA_HAVE_GLOO 0)
if(ISDA_GLOO_INCLUDE_DIR)
  set(ISDA_HAVE_GLOO 1)
endif()
set(ISDA_HAVE_NCCL 0)
if(TORCH_CUDA_LIBRARIES)
  find_path(ISDA_NCCL_INCLUDE_DIR nccl.h
            HINTS ${TORCH_INSTALL_PREFIX}/../nvidia/nccl/include ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include)
  if(ISDA_NCCL_INCLUDE_DIR)
    set(ISDA_HAVE_NCCL 1)
  endif()
endif()
message(STATUS "isda: data-parallel backends: Gloo ${ISDA_HAVE_GLOO}, NCCL ${ISDA_HAVE_NCCL}")
