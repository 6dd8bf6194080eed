# GPT-2: model loading, forward, KV cache, generation and eval, against an
# independent PyTorch reference (tests/ref/gpt2_torch.py).
if(TRIL_TORCH) # tests/CMakeLists.txt: torch importable
  set(GPT2_CASES ${CMAKE_CURRENT_BINARY_DIR}/gpt2_cases)
  add_test(NAME gpt2_reference_cases
           COMMAND ${TORCH_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/ref/make_gpt2_cases.py ${GPT2_CASES})
  set_tests_properties(gpt2_reference_cases PROPERTIES FIXTURES_SETUP gpt2_cases)
  # The reference checked against a naive numpy GPT-2 and its own invariants.
  add_test(NAME gpt2_torch_selfcheck
           COMMAND ${TORCH_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/ref/test_gpt2_torch_selfcheck.py)

  foreach(t test_gpt2_reference test_gpt2_kvcache test_gpt2_load_errors)
    tril_c_test(${t})
    set_tests_properties(${t} PROPERTIES FIXTURES_REQUIRED gpt2_cases
                         ENVIRONMENT "TRIL_GPT2_CASES=${GPT2_CASES}")
  endforeach()

  add_test(NAME gpt2_cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_gpt2_cli.sh
                                 $<TARGET_FILE:tril_cli> ${GPT2_CASES})
  set_tests_properties(gpt2_cli PROPERTIES FIXTURES_REQUIRED gpt2_cases)
  # NaN weights and overflowing logits through generate / eval / leakcheck.
  add_test(NAME gpt2_nonfinite_cli
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_gpt2_nonfinite_cli.sh
                   $<TARGET_FILE:tril_cli> ${GPT2_CASES} ${TORCH_PYTHON})
  set_tests_properties(gpt2_nonfinite_cli PROPERTIES FIXTURES_REQUIRED gpt2_cases)
endif()

# config.json options that change the math: read, refused, written back
tril_c_test(test_gpt2_config)
tril_c_test(test_sampler)
tril_c_test(test_ops)
tril_c_test(test_ops_q8)
# The serving engine: a request's tokens do not depend on the batch.
tril_c_test(test_engine)

# Opt-in: a real GPT-2 checkpoint folder in $TRIL_GPT2_DIR (skipped otherwise).
add_test(NAME gpt2_real_checkpoint
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_gpt2_real.sh $<TARGET_FILE:tril_cli>)
set_tests_properties(gpt2_real_checkpoint PROPERTIES SKIP_RETURN_CODE 77)
