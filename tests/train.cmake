# Training infrastructure: data, AdamW / clipping / schedule against PyTorch,
# checkpoints, and the train / plot / leakcheck commands end to end.
if(TRIL_TORCH) # tests/CMakeLists.txt: torch importable
  set(TRAIN_INFRA_CASES ${CMAKE_CURRENT_BINARY_DIR}/train_infra_cases)
  add_test(NAME train_adamw_reference
           COMMAND ${TORCH_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/ref/torch_adamw.py ${TRAIN_INFRA_CASES})
  set_tests_properties(train_adamw_reference PROPERTIES FIXTURES_SETUP train_infra_cases)
  tril_c_test(test_train_infra)
  set_tests_properties(test_train_infra PROPERTIES FIXTURES_REQUIRED train_infra_cases
                       ENVIRONMENT "TRIL_TRAIN_CASES=${TRAIN_INFRA_CASES}")
endif()
tril_c_test(test_train_dataset)
tril_c_test(test_train_checkpoint)
tril_c_test(test_train_shard)

add_test(NAME train_cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_train_cli.sh
                                $<TARGET_FILE:tril_cli> ${PROJECT_SOURCE_DIR}/data/tinyshakespeare.txt)

# Data-parallel training under MPI (docs/DISTRIBUTED.md): N ranks against one
# process with N x --accum, resume across world sizes, a killed rank, bad
# input. Registered only when the program was built with MPI (TRIL_MPI).
if(TRIL_HAVE_MPI)
  add_test(NAME train_mpi COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_train_mpi.sh
                                  $<TARGET_FILE:tril_cli> ${MPIEXEC_EXECUTABLE}
                                  ${PROJECT_SOURCE_DIR}/data/tinyshakespeare.txt)
  set_tests_properties(train_mpi PROPERTIES TIMEOUT 600)
endif()
