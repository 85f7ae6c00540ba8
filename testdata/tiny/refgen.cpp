// refgen: llama.cpp's reference outputs for one tiny model (testdata/tiny/*.json).
//
// For each fixed prompt: its tokenization by llama.cpp (special tokens added as the vocabulary
// wants, not parsed), a greedy continuation of N_PREDICT tokens with the two most likely tokens
// and their log-probabilities at each generated position, and the five most likely first tokens.
// Runs on the CPU with 2 threads, n_ctx 512 (or N_CTX) and flash attention on, like the Rust tests
// (ContextParams::default() has flash_attn = true), with weights in plain CPU buffers.
//
// Usage: refgen MODEL.gguf [N_CTX [nofa]] > OUT.json   (run by generate.sh; N_CTX 512;
//        `nofa` turns flash attention off)

#include "llama.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

static const int N_PREDICT = 16;
static const char * PROMPTS[] = {
    "The capital of France is",
    "Once upon a time, there was a little",
    "def fibonacci(n):\n    if n < 2:",
    "Zürich 東京 naïve café — 1234567 + 89 = ",
};

static std::string json_str(const std::string & s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"':  out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n";  break;
            case '\t': out += "\\t";  break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    snprintf(buf, sizeof(buf), "\\u%04x", c);
                    out += buf;
                } else {
                    out += (char) c;
                }
        }
    }
    return out + "\"";
}

// The n most likely tokens with their log-probabilities (log-softmax in double precision).
static std::vector<std::pair<int, double>> top_n(const float * logits, int n_vocab, int n) {
    double mx = -INFINITY;
    for (int i = 0; i < n_vocab; i++) mx = std::max(mx, (double) logits[i]);
    double sum = 0.0;
    for (int i = 0; i < n_vocab; i++) sum += std::exp((double) logits[i] - mx);
    const double log_z = mx + std::log(sum);
    std::vector<int> ids(n_vocab);
    for (int i = 0; i < n_vocab; i++) ids[i] = i;
    std::partial_sort(ids.begin(), ids.begin() + n, ids.end(), [&](int a, int b) {
        return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    std::vector<std::pair<int, double>> out;
    for (int i = 0; i < n; i++) out.emplace_back(ids[i], (double) logits[ids[i]] - log_z);
    return out;
}

static std::string json_top(const std::vector<std::pair<int, double>> & top) {
    std::string out = "[";
    for (size_t i = 0; i < top.size(); i++) {
        char buf[96];
        snprintf(buf, sizeof(buf), "%s{\"id\": %d, \"logprob\": %.6f}", i ? ", " : "", top[i].first, top[i].second);
        out += buf;
    }
    return out + "]";
}

static std::string json_ids(const std::vector<llama_token> & ids) {
    std::string out = "[";
    for (size_t i = 0; i < ids.size(); i++) out += (i ? ", " : "") + std::to_string(ids[i]);
    return out + "]";
}

static std::vector<llama_token> tokenize(const llama_vocab * vocab, const std::string & text) {
    std::vector<llama_token> ids(text.size() + 8);
    int n = llama_tokenize(vocab, text.c_str(), (int32_t) text.size(), ids.data(), (int32_t) ids.size(),
                           /*add_special=*/true, /*parse_special=*/false);
    ids.resize(n < 0 ? 0 : n);
    return ids;
}

// One prompt: prefill, then greedy decoding; prints the JSON object of the case.
static bool run_prompt(llama_context * ctx, const llama_vocab * vocab, const std::string & prompt) {
    llama_memory_clear(llama_get_memory(ctx), true);
    std::vector<llama_token> ids = tokenize(vocab, prompt);
    const int n_vocab = llama_vocab_n_tokens(vocab);
    std::vector<llama_token> prompt_ids = ids;
    if (llama_decode(ctx, llama_batch_get_one(ids.data(), (int32_t) ids.size())) != 0) return false;
    std::vector<llama_token> gen;
    std::string top2 = "[", first_top5;
    for (int i = 0; i < N_PREDICT; i++) {
        const float * logits = llama_get_logits_ith(ctx, -1);
        if (i == 0) first_top5 = json_top(top_n(logits, n_vocab, 5));
        auto t2 = top_n(logits, n_vocab, 2);
        top2 += (i ? ", " : "") + json_top(t2);
        llama_token next = t2[0].first;
        gen.push_back(next);
        if (llama_decode(ctx, llama_batch_get_one(&next, 1)) != 0) return false;
    }
    printf("    {\"prompt\": %s, \"prompt_tokens\": %s, \"tokens\": %s,\n     \"first_top5\": %s,\n     \"top2\": %s]}",
           json_str(prompt).c_str(), json_ids(prompt_ids).c_str(), json_ids(gen).c_str(), first_top5.c_str(),
           top2.c_str());
    return true;
}

int main(int argc, char ** argv) {
    if (argc < 2 || argc > 4 || (argc == 4 && std::string(argv[3]) != "nofa")) {
        fprintf(stderr, "usage: %s MODEL.gguf [N_CTX [nofa]]\n", argv[0]);
        return 1;
    }
    const int n_ctx = argc >= 3 ? atoi(argv[2]) : 512;
    const bool flash_attn = argc < 4;
    llama_log_set([](ggml_log_level, const char *, void *) {}, nullptr);
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    // Plain CPU buffers, as the Rust engine uses (weights read in place): no repacked or AMX
    // copies of the weights, whose kernels round differently (and AMX faults where the OS
    // does not grant tile state).
    mp.use_extra_bufts = false;
    llama_model * model = llama_model_load_from_file(argv[1], mp);
    if (!model) {
        fprintf(stderr, "cannot load %s\n", argv[1]);
        return 1;
    }
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_batch = 512;
    cp.n_ubatch = 512;
    cp.n_seq_max = 1;
    cp.n_threads = 2;
    cp.n_threads_batch = 2;
    cp.flash_attn_type = flash_attn ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        fprintf(stderr, "cannot create a context\n");
        return 1;
    }
    const llama_vocab * vocab = llama_model_get_vocab(model);
    std::string name = argv[1];
    name = name.substr(name.find_last_of('/') + 1);
    printf("{\n  \"about\": \"llama.cpp 0c1e570, CPU, 2 threads, greedy; testdata/tiny/generate.sh\",\n");
    printf("  \"model\": %s,\n  \"n_ctx\": %d,\n  \"flash_attn\": %s,\n  \"n_predict\": %d,\n  \"generate\": [\n",
           json_str(name).c_str(), n_ctx, flash_attn ? "true" : "false", N_PREDICT);
    const int n_prompts = (int) (sizeof(PROMPTS) / sizeof(PROMPTS[0]));
    for (int i = 0; i < n_prompts; i++) {
        if (!run_prompt(ctx, vocab, PROMPTS[i])) {
            fprintf(stderr, "decode failed\n");
            return 1;
        }
        printf("%s\n", i + 1 < n_prompts ? "," : "");
    }
    printf("  ]\n}\n");
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
