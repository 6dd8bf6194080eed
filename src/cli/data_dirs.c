/* Where the bundled data lives (the default model, the GPT-2 tokenizer):
 * $TRIL_DATA_DIR, the source tree's data/, then the install prefix's. Finding
 * files the user did not name is the program's business, not the library's. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "tril/file.h"

tril_status cli_model_dir(const char *arg, char *buf, size_t size)
{
    if (arg) {
        if ((size_t)snprintf(buf, size, "%s", arg) >= size)
            return TRIL_FAIL(TRIL_ERR_INVALID_ARG, "model path too long");
        return TRIL_OK;
    }
    const char *roots[3] = {getenv("TRIL_DATA_DIR"), TRIL_SOURCE_DATA_DIR, TRIL_INSTALL_DATA_DIR};
    for (int i = 0; i < 3; i++) {
        if (!roots[i] || !roots[i][0]) continue;
        if (tril_path_join(buf, size, roots[i], "models/default") != TRIL_OK) continue;
        if (tril_is_dir(buf)) return TRIL_OK;
    }
    return TRIL_FAIL(TRIL_ERR_IO,
                     "no --model given and no bundled default model found (looked in "
                     "$TRIL_DATA_DIR, %s and %s under models/default)",
                     TRIL_SOURCE_DATA_DIR, TRIL_INSTALL_DATA_DIR);
}

tril_status cli_gpt2_tokenizer_dir(char *buf, size_t size)
{
    const char *roots[3] = {getenv("TRIL_DATA_DIR"), TRIL_SOURCE_DATA_DIR, TRIL_INSTALL_DATA_DIR};
    char probe[PATH_MAX];
    for (int i = 0; i < 3; i++) {
        if (!roots[i] || !roots[i][0]) continue;
        if ((size_t)snprintf(buf, size, "%s/gpt2", roots[i]) >= size) continue;
        if (tril_path_join(probe, sizeof probe, buf, "vocab.json") == TRIL_OK && tril_is_file(probe) &&
            tril_path_join(probe, sizeof probe, buf, "merges.txt") == TRIL_OK && tril_is_file(probe))
            return TRIL_OK;
    }
    return TRIL_FAIL(TRIL_ERR_IO, "no GPT-2 tokenizer files found (looked for gpt2/vocab.json "
                                  "and gpt2/merges.txt in $TRIL_DATA_DIR, %s and %s)",
                     TRIL_SOURCE_DATA_DIR, TRIL_INSTALL_DATA_DIR);
}
