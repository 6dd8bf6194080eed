# tril_find_openblas(): the OpenMP build of OpenBLAS, into the cache entries
# OPENBLAS_LIBRARY (the library file) and OPENBLAS_INCLUDE_DIR (cblas.h).
#
# tril threads with OpenMP; the pthreads build of OpenBLAS keeps its own pool
# of threads spinning beside OpenMP's and the two starve each other, so only
# an OpenMP build is taken, looked for in this order:
#   1. -DOPENBLAS_LIBRARY=... -DOPENBLAS_INCLUDE_DIR=... (or a previous run's
#      cache): used as given;
#   2. pkg-config's `openblas`, when its openblas_config says USE_OPENMP=1
#      (Debian's openblas.pc is an alternative: it may name the pthreads
#      build, libopenblas-pthread-dev, and is then passed over);
#   3. Debian's folder of the OpenMP build (libopenblas-openmp-dev).
function(tril_find_openblas)
  set(how "given or cached")
  if(NOT OPENBLAS_LIBRARY OR NOT OPENBLAS_INCLUDE_DIR)
    set(how "Debian's openblas-openmp folder")
    pkg_check_modules(TRIL_OPENBLAS_PC QUIET openblas)
    if(TRIL_OPENBLAS_PC_FOUND)
      pkg_get_variable(config openblas openblas_config)
      if(config MATCHES "USE_OPENMP=1")
        find_library(OPENBLAS_LIBRARY NAMES openblas
                     PATHS ${TRIL_OPENBLAS_PC_LIBRARY_DIRS} NO_DEFAULT_PATH)
        find_path(OPENBLAS_INCLUDE_DIR cblas.h
                  PATHS ${TRIL_OPENBLAS_PC_INCLUDE_DIRS} NO_DEFAULT_PATH)
        set(how "pkg-config openblas")
      else()
        message(STATUS "OpenBLAS: pkg-config's openblas (${TRIL_OPENBLAS_PC_LIBDIR}) is not "
                       "the OpenMP build (openblas_config:${config}); passed over")
      endif()
    endif()
    find_library(OPENBLAS_LIBRARY NAMES openblas
                 PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp NO_DEFAULT_PATH)
    find_path(OPENBLAS_INCLUDE_DIR cblas.h
              PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp NO_DEFAULT_PATH)
  endif()
  if(NOT OPENBLAS_LIBRARY OR NOT OPENBLAS_INCLUDE_DIR)
    message(FATAL_ERROR "tril needs the OpenMP build of OpenBLAS: on Debian install "
                        "libopenblas-openmp-dev (scripts/install-deps.sh); elsewhere make "
                        "pkg-config's openblas the OpenMP build or pass -DOPENBLAS_LIBRARY=FILE "
                        "-DOPENBLAS_INCLUDE_DIR=DIR (the folder of its cblas.h)")
  endif()
  message(STATUS "OpenBLAS (OpenMP build): ${OPENBLAS_LIBRARY}, ${OPENBLAS_INCLUDE_DIR} (${how})")
endfunction()
