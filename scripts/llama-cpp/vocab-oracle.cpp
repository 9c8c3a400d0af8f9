// llama.cpp's own tokenize and detokenize calls on a list of strings, for the GGUF tokenizer goldens
// (models/golden/gguf-tokenizer). Built by scripts/build-llama-cpp.mjs against the static llama.cpp libraries.
//
//   sieve-vocab-oracle MODEL.gguf STRINGS.json > OUT.json
//
// STRINGS.json is a JSON array of strings. Each one is tokenized as llama-tokenize and llama-server's prompts do
// (llama_tokenize with add_special = true, parse_special = true), and its ids are detokenized with
// llama_detokenize(remove_special = false, unparse_special = true), the call common_detokenize(..., special = true)
// makes. Output: {"cases": [{"text", "ids", "decoded"}]}; "decoded_bytes" replaces "decoded" where the bytes are no
// valid UTF-8; "decoded_without_bos" is the detokenization of the ids after a leading BOS.
#include "llama.h"
#include <nlohmann/json.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

using json = nlohmann::json;

static bool valid_utf8(const std::string & s) {
    try { (void) json(s).dump(); return true; } catch (...) { return false; }
}

int main(int argc, char ** argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s MODEL.gguf STRINGS.json\n", argv[0]); return 2; }
    llama_log_set([](ggml_log_level, const char *, void *) {}, nullptr);
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.vocab_only = true;
    llama_model * model = llama_model_load_from_file(argv[1], mp);
    if (!model) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
    const llama_vocab * vocab = llama_model_get_vocab(model);
    std::ifstream in(argv[2]);
    json strings = json::parse(in);
    json cases = json::array();
    for (const auto & item : strings) {
        const std::string text = item.get<std::string>();
        std::vector<llama_token> ids(text.size() + 8);
        int n = llama_tokenize(vocab, text.data(), (int32_t) text.size(), ids.data(), (int32_t) ids.size(), true, true);
        if (n < 0) { ids.resize(-n); n = llama_tokenize(vocab, text.data(), (int32_t) text.size(), ids.data(), (int32_t) ids.size(), true, true); }
        ids.resize(n);
        std::string out(text.size() * 4 + 64, '\0');
        int m = llama_detokenize(vocab, ids.data(), (int32_t) ids.size(), out.data(), (int32_t) out.size(), false, true);
        if (m < 0) { out.resize(-m); m = llama_detokenize(vocab, ids.data(), (int32_t) ids.size(), out.data(), (int32_t) out.size(), false, true); }
        out.resize(m);
        json c = {{"text", text}, {"ids", ids}};
        if (valid_utf8(out)) c["decoded"] = out;
        else c["decoded_bytes"] = std::vector<unsigned char>(out.begin(), out.end());
        // A reply's ids come without the BOS: detokenized alone, the first piece drops its dummy prefix space.
        if (!ids.empty() && ids[0] == llama_vocab_bos(vocab)) {
            std::vector<llama_token> tail(ids.begin() + 1, ids.end());
            std::string t(text.size() * 4 + 64, '\0');
            int k = llama_detokenize(vocab, tail.data(), (int32_t) tail.size(), t.data(), (int32_t) t.size(), false, true);
            if (k < 0) { t.resize(-k); k = llama_detokenize(vocab, tail.data(), (int32_t) tail.size(), t.data(), (int32_t) t.size(), false, true); }
            t.resize(k);
            if (valid_utf8(t)) c["decoded_without_bos"] = t;
        }
        cases.push_back(c);
    }
    std::cout << json({{"cases", cases}}).dump(1) << "\n";
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
