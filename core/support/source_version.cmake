# Run at every build (cmake -P): writes OUTPUT, a header with the git commit of SOURCE_DIR and
# whether its tracked files had changes, rewriting it only when that changed (so nothing is
# recompiled needlessly). Outside a git checkout (a tarball), the commit is empty.
set(commit "")
set(dirty 0)
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse HEAD WORKING_DIRECTORY ${SOURCE_DIR}
                  OUTPUT_VARIABLE head RESULT_VARIABLE head_failed OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(NOT head_failed)
    set(commit ${head})
    execute_process(COMMAND ${GIT_EXECUTABLE} status --porcelain --untracked-files=no WORKING_DIRECTORY ${SOURCE_DIR}
                    OUTPUT_VARIABLE changes RESULT_VARIABLE status_failed ERROR_QUIET)
    if(status_failed OR NOT changes STREQUAL "")
      set(dirty 1)
    endif()
  endif()
endif()
set(text "// Generated at build time by core/support/source_version.cmake.\n#pragma once\n#define ISDA_GIT_COMMIT \"${commit}\"\n#define ISDA_GIT_DIRTY ${dirty}\n")
if(EXISTS ${OUTPUT})
  file(READ ${OUTPUT} old)
endif()
if(NOT old STREQUAL text)
  file(WRITE ${OUTPUT} "${text}")
endif()
