# GPT-2 tokenizer: ids against gpt-3-encoder (tests/fixtures/tokenizer, made
# by make_fixture.js), round trips, the BPE paths, every load error, and
# tokenizer.json against vocab.json + merges.txt. Included by CMakeLists.txt.
foreach(t test_tokenizer test_tokenizer_bpe test_tokenizer_pretok test_tokenizer_errors
          test_tokenizer_hf)
  tril_c_test(${t})
  target_compile_definitions(${t} PRIVATE
    TRIL_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/data"
    TRIL_TOKENIZER_FIXTURES="${CMAKE_CURRENT_SOURCE_DIR}/fixtures/tokenizer")
endforeach()
