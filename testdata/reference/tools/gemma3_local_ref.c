// Greedy reference outputs from llama.cpp (libllama) for the gemma3 tests: for each prompt text,
// the prompt tokens (BOS added, specials parsed), 48 greedy tokens, the top two at each step and
// the first token's top five, as JSON on stdout.
// Build (in llama.cpp, after its CMake build): cc -O2 gemma3_local_ref.c -Iinclude -Iggml/include
//        -Lbuild/bin -lllama -lggml -lggml-base -lm -Wl,-rpath,build/bin
// Run:   ./a.out MODEL PROMPT...   (CPU, 2 threads, n_ctx 4096, flash attention auto, libllama's
//        default full-size SWA cache, or with ISWA=1 in the environment the window-sized one of
//        llama-cli/llama-server (gemma3-local-iswa.json: the 1024-token prompt only), weights
//        repacked as llama.cpp does by default). llama.cpp's AMX buffer type, listed first on CPUs
//        with AMX, crashes in virtual machines: build its ggml-cpu with
//        CFLAGS/CXXFLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" there (the repacking type
//        then serves, as in this engine, which never uses AMX).
#include "llama.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') printf("\\n");
        else if (c == '\t') printf("\\t");
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

// Indices of the k largest logits, descending.
static void top_k(const float *lg, int nv, int k, int *out) {
    for (int j = 0; j < k; j++) out[j] = -1;
    for (int i = 0; i < nv; i++) {
        for (int j = 0; j < k; j++) {
            if (out[j] < 0 || lg[i] > lg[out[j]]) {
                for (int m = k - 1; m > j; m--) out[m] = out[m - 1];
                out[j] = i;
                break;
            }
        }
    }
}

static double log_sum_exp(const float *lg, int nv) {
    double mx = -1e30, s = 0;
    for (int i = 0; i < nv; i++) if (lg[i] > mx) mx = lg[i];
    for (int i = 0; i < nv; i++) s += exp(lg[i] - mx);
    return log(s) + mx;
}

int main(int argc, char **argv) {
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.use_extra_bufts = true; // weight repacking (CPU_REPACK), llama.cpp's default
    struct llama_model *m = llama_model_load_from_file(argv[1], mp);
    const struct llama_vocab *voc = llama_model_get_vocab(m);
    int nv = llama_vocab_n_tokens(voc);
    printf("[\n");
    for (int a = 2; a < argc; a++) {
        struct llama_context_params cp = llama_context_default_params();
        cp.n_ctx = 4096; cp.swa_full = getenv("ISWA") == NULL; cp.n_threads = 2; cp.n_threads_batch = 2;
        struct llama_context *c = llama_init_from_model(m, cp);
        int cap = (int)strlen(argv[a]) + 8;
        llama_token *t = malloc(sizeof(llama_token) * (cap + 64));
        int n = llama_tokenize(voc, argv[a], (int)strlen(argv[a]), t, cap, true, true);
        printf("{\"prompt\": "); json_str(argv[a]);
        printf(", \"prompt_tokens\": [");
        for (int i = 0; i < n; i++) printf("%s%d", i ? ", " : "", t[i]);
        printf("]");
        struct llama_batch b = llama_batch_get_one(t, n);
        int toks[48]; int top2[48][2]; double lp2[48][2]; int top5[5]; double lp5[5];
        for (int g = 0; g < 48; g++) {
            if (llama_decode(c, b)) { fprintf(stderr, "decode failed\n"); return 1; }
            float *lg = llama_get_logits_ith(c, -1);
            double ls = log_sum_exp(lg, nv);
            int best[5];
            top_k(lg, nv, 5, best);
            if (g == 0) for (int j = 0; j < 5; j++) { top5[j] = best[j]; lp5[j] = lg[best[j]] - ls; }
            for (int j = 0; j < 2; j++) { top2[g][j] = best[j]; lp2[g][j] = lg[best[j]] - ls; }
            toks[g] = best[0];
            t[n + g] = best[0];
            b = llama_batch_get_one(&t[n + g], 1);
        }
        printf(", \"tokens\": [");
        for (int g = 0; g < 48; g++) printf("%s%d", g ? ", " : "", toks[g]);
        printf("], \"first_top5\": [");
        for (int j = 0; j < 5; j++) printf("%s[%d, %.5f]", j ? ", " : "", top5[j], lp5[j]);
        printf("], \"top2\": [");
        for (int g = 0; g < 48; g++)
            printf("%s[[%d, %.5f], [%d, %.5f]]", g ? ", " : "", top2[g][0], lp2[g][0], top2[g][1], lp2[g][1]);
        printf("]}%s\n", a + 1 < argc ? "," : "");
        llama_free(c);
        free(t);
    }
    printf("]\n");
    return 0;
}
