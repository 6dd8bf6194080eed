# Tests of the I/O layer (safetensors). Included by tests/CMakeLists.txt.
tril_c_test(test_safetensors)
tril_c_test(test_safetensors_write)

# Cross-check with an independent implementation (tests/ref/safetensors_ref.py,
# stdlib only): the script writes a file the way the official library does,
# tril reads it and writes its own, the script reads that one back.
if(TORCH_PYTHON) # the script needs python3 alone (stdlib)
  set(ST_INTEROP_DIR ${CMAKE_CURRENT_BINARY_DIR}/safetensors_interop)
  set(ST_REF ${CMAKE_CURRENT_SOURCE_DIR}/ref/safetensors_ref.py)
  add_test(NAME safetensors_ref_write COMMAND ${TORCH_PYTHON} ${ST_REF} write ${ST_INTEROP_DIR})
  set_tests_properties(safetensors_ref_write PROPERTIES FIXTURES_SETUP st_ref_file)
  tril_c_test(test_safetensors_interop)
  set_tests_properties(test_safetensors_interop PROPERTIES
    FIXTURES_REQUIRED st_ref_file FIXTURES_SETUP st_tril_file
    ENVIRONMENT TRIL_ST_INTEROP_DIR=${ST_INTEROP_DIR})
  add_test(NAME safetensors_ref_read COMMAND ${TORCH_PYTHON} ${ST_REF} read ${ST_INTEROP_DIR})
  set_tests_properties(safetensors_ref_read PROPERTIES FIXTURES_REQUIRED "st_ref_file;st_tril_file")
endif()
