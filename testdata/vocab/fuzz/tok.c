// Tokenizes each text of a test-tokenizer-0 style .inp file with llama.cpp (vocab only), with
// add_special = false and parse_special = false, or true when PARSE_SPECIAL is set.
#define _GNU_SOURCE
#include "llama.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    if (argc < 3) return 1;
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.vocab_only = true;
    struct llama_model *m = llama_model_load_from_file(argv[1], mp);
    if (!m) return 2;
    const struct llama_vocab *v = llama_model_get_vocab(m);
    FILE *f = fopen(argv[2], "rb"); fseek(f, 0, SEEK_END); long n = ftell(f); fseek(f, 0, SEEK_SET);
    char *buf = malloc(n + 1); fread(buf, 1, n, f); buf[n] = 0;
    const char *sep = "\n__ggml_vocab_test__\n"; size_t sl = strlen(sep);
    char *pos = buf; char *end = buf + n;
    int cap = 1 << 22; llama_token *toks = malloc(sizeof(llama_token) * cap);
    while (pos < end) {
        char *next = memmem(pos, end - pos, sep, sl); size_t len = next ? (size_t)(next - pos) : (size_t)(end - pos);
        int k = llama_tokenize(v, pos, (int)len, toks, cap, false, getenv("PARSE_SPECIAL") != NULL);
        for (int i = 0; i < k; i++) printf(" %d", toks[i]);
        printf("\n");
        if (!next) break;
        pos = next + sl;
    }
    return 0;
}
