# The training step against PyTorch autograd and torch.optim.AdamW.
if(NOT TRIL_TORCH) # tests/CMakeLists.txt: torch not importable
  return()
endif()
set(TRAIN_CASES ${CMAKE_CURRENT_BINARY_DIR}/train_cases)
add_test(NAME train_reference_cases
         COMMAND ${TORCH_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/ref/make_train_cases.py ${TRAIN_CASES})
set_tests_properties(train_reference_cases PROPERTIES FIXTURES_SETUP train_cases)
tril_c_test(test_train_grads)
set_tests_properties(test_train_grads PROPERTIES FIXTURES_REQUIRED train_cases
                     ENVIRONMENT "TRIL_TRAIN_CASES=${TRAIN_CASES}")
