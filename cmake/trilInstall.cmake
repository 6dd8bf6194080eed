# What `cmake --install` ships of the library: libtril.a, libtril.so, the
# public headers, tril.pc (pkg-config) and the CMake package `tril`
# (find_package(tril) -> tril::tril). Included by the top-level
# CMakeLists.txt once the library target `tril` has all its sources.

# The same versioning for the shared library's name and the CMake package:
# before 1.0 every minor release may change the ABI (libtril.so.0.1), from
# 1.0 on the major number says (libtril.so.1).
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(TRIL_SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
  set(TRIL_VERSION_COMPATIBILITY SameMinorVersion)
else()
  set(TRIL_SOVERSION ${PROJECT_VERSION_MAJOR})
  set(TRIL_VERSION_COMPATIBILITY SameMajorVersion)
endif()

# --- libtril.so ----------------------------------------------------------------
# Linked from the very objects of libtril.a, nothing compiled twice (every
# object is position-independent: CMAKE_POSITION_INDEPENDENT_CODE): the static
# library's own objects and those of the object libraries it takes in (the
# per-ISA kernels), whether through $<TARGET_OBJECTS:...> among its sources or
# through target_link_libraries, with the same libraries to link against.
get_target_property(tril_sources tril SOURCES)
get_target_property(tril_links tril LINK_LIBRARIES)
set(tril_objects $<TARGET_OBJECTS:tril>)
set(tril_object_libraries)
foreach(src IN LISTS tril_sources)
  if(src MATCHES "^\\$<TARGET_OBJECTS:")
    list(APPEND tril_objects ${src})
  endif()
endforeach()
set(tril_shared_links)
foreach(lib IN LISTS tril_links)
  if(lib MATCHES "^::@") # a directory marker of target_link_libraries
    continue()
  endif()
  if(TARGET ${lib})
    get_target_property(type ${lib} TYPE)
    if(type STREQUAL "OBJECT_LIBRARY")
      list(APPEND tril_objects $<TARGET_OBJECTS:${lib}>)
      list(APPEND tril_object_libraries ${lib})
      continue()
    endif()
  endif()
  list(APPEND tril_shared_links ${lib})
endforeach()

set(tril_install_targets tril)
if(TRIL_BUILD_SHARED)
  add_library(tril_shared SHARED ${tril_objects})
  target_link_libraries(tril_shared PRIVATE ${tril_shared_links})
  get_target_property(tril_includes tril INTERFACE_INCLUDE_DIRECTORIES)
  target_include_directories(tril_shared INTERFACE ${tril_includes})
  set_target_properties(tril_shared PROPERTIES OUTPUT_NAME tril VERSION ${PROJECT_VERSION}
                        SOVERSION ${TRIL_SOVERSION})
  if(NOT TRIL_SANITIZE AND NOT TRIL_FUZZ)
    # Everything it uses is linked in: a missing library fails here, not in
    # the program that loads it. (Sanitizer builds leave their runtime to
    # the program.)
    target_link_options(tril_shared PRIVATE LINKER:--no-undefined)
  endif()
  list(APPEND tril_install_targets tril_shared)
  message(STATUS "libtril.so: built from libtril.a's objects (SONAME libtril.so.${TRIL_SOVERSION})")
else()
  message(STATUS "libtril.so: not built (TRIL_BUILD_SHARED=OFF)")
endif()

# --- libraries and headers -----------------------------------------------------
# In the CMake package: tril::tril_static, tril::tril_shared, and tril::tril
# for whichever of the two the user picks (cmake/trilConfig.cmake.in).
set_target_properties(tril PROPERTIES EXPORT_NAME tril_static)
# Object libraries linked with target_link_libraries appear in a static
# library's link interface ($<LINK_ONLY:...>), so they join the export set
# (as empty interface targets: their objects are inside libtril.a).
install(TARGETS ${tril_install_targets} ${tril_object_libraries} EXPORT trilTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/tril DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# --- CMake package: find_package(tril) -----------------------------------------
include(CMakePackageConfigHelpers)
set(TRIL_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/tril)
install(EXPORT trilTargets NAMESPACE tril:: DESTINATION ${TRIL_CMAKE_INSTALL_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/trilConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/trilConfig.cmake
                              INSTALL_DESTINATION ${TRIL_CMAKE_INSTALL_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/trilConfigVersion.cmake
                                 COMPATIBILITY ${TRIL_VERSION_COMPATIBILITY})
install(FILES ${PROJECT_BINARY_DIR}/trilConfig.cmake ${PROJECT_BINARY_DIR}/trilConfigVersion.cmake
        DESTINATION ${TRIL_CMAKE_INSTALL_DIR})

# --- pkg-config: tril.pc ---------------------------------------------------------
# `pkg-config --libs tril` links libtril.so, which carries its dependencies;
# `--static` adds what libtril.a needs: Requires.private (libpng, cJSON,
# PCRE2) and Libs.private (OpenBLAS's OpenMP build, pinned by a run path as
# the tril program is, since Debian's libopenblas.so.0 may be the pthreads
# build; OpenMP; libm).
pkg_check_modules(TRIL_PC_LIBPNG QUIET libpng)
if(TRIL_PC_LIBPNG_FOUND)
  set(TRIL_PC_REQUIRES_PRIVATE "libpng libcjson libpcre2-8")
  set(TRIL_PC_PNG_LIBS "")
else()
  set(TRIL_PC_REQUIRES_PRIVATE "libcjson libpcre2-8")
  string(REPLACE ";" " " TRIL_PC_PNG_LIBS "${PNG_LIBRARIES}")
endif()
set(TRIL_PC_LIBS_PRIVATE
    "-Wl,-rpath,${OPENBLAS_LIB_DIR} ${OPENBLAS_LIBRARY} ${TRIL_PC_PNG_LIBS} ${OpenMP_C_FLAGS} -lm")
string(REGEX REPLACE " +" " " TRIL_PC_LIBS_PRIVATE "${TRIL_PC_LIBS_PRIVATE}")
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(TRIL_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(TRIL_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
# The prefix is the one installed into (`cmake --install --prefix` may differ
# from CMAKE_INSTALL_PREFIX): filled in at install time, the rest now.
set(TRIL_PC_PREFIX "@TRIL_PC_PREFIX@")
configure_file(${PROJECT_SOURCE_DIR}/cmake/tril.pc.in ${PROJECT_BINARY_DIR}/tril.pc.in @ONLY)
install(CODE "set(TRIL_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${PROJECT_BINARY_DIR}/tril.pc.in\" \"${PROJECT_BINARY_DIR}/tril.pc\" @ONLY)")
install(FILES ${PROJECT_BINARY_DIR}/tril.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
