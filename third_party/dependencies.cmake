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
